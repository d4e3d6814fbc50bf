"""The audit trail's records and contract (R-73): what an exchange is, what a store does.

See the package's docstring for the guarantees; the backends (`sqlite.py`, `postgresql.py`)
implement `AuditStore`, `backends.open_audit_store` chooses one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from selfemployed_gateway.errors import AuditError

__all__ = [
    "AuditError",
    "AuditStore",
    "ExchangeRecord",
]


class ExchangeRecord(BaseModel):
    """One request and its response, as the service desk needs them (R-73)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_cbss: str = Field(description="the BCSS ticket (ticketCBSS) of the request")
    client_ticket: str | None = Field(default=None, description="the client's own ticket")
    client_id: str | None = Field(default=None, description="the authenticated client")
    operation: str | None = Field(default=None, description="consultCareer, …; None if unknown")
    legal_context: str | None = None
    received: AwareDatetime = Field(description="when the request arrived (timezone-aware)")
    replied: AwareDatetime = Field(description="when the response was ready (timezone-aware)")
    outcome: str = Field(description='status or fault code, e.g. "MSG00000", "MSG00004"')
    duration_ms: float
    # repr=False: a record that ends up in a log line or a traceback never shows the messages.
    request_xml: bytes = Field(repr=False)
    response_xml: bytes = Field(repr=False)
    # audit/protection.py: the key that sealed the messages (None: in clear), and the keyed
    # hash of the consulted NISS (None: none was read, or no hash key), indexed.
    key_id: str | None = None
    ssin_hash: str | None = None
    # decisions.py (issue #18): the exchange's decision trail as JSON, sealed like the messages
    # (it holds a NISS and dates of a person's life); None for exchanges stored before it.
    decisions: bytes | None = Field(default=None, repr=False)


class AuditStore(Protocol):
    """Where exchanges are kept (R-73). Every method raises `AuditError` on a storage failure.

    Implementations are safe to call from many threads at once.
    """

    def record(self, exchange: ExchangeRecord) -> None:
        """Store one exchange; durable when this returns (called before the response is sent)."""
        ...

    def record_many(self, exchanges: Sequence[ExchangeRecord]) -> None:
        """Store the exchanges in one transaction (group commit, `audit/writer.py`): all
        durable when this returns; on `AuditError` none was stored, except on
        `AuditOutcomeUnknown`, when the commit's outcome is not known."""
        ...

    def by_ticket(self, ticket: str) -> list[ExchangeRecord]:
        """Exchanges whose ticketCBSS or client ticket is ``ticket``, newest first."""
        ...

    def find(
        self,
        *,
        client_id: str | None = None,
        since: datetime | None = None,
        outcome: str | None = None,
        ssin_hash: str | None = None,
        limit: int = 100,
    ) -> list[ExchangeRecord]:
        """At most ``limit`` exchanges matching every filter given, newest first.

        ``since`` is inclusive (received at or after it) and must be timezone-aware.
        """
        ...

    def purge(self, older_than: datetime) -> int:
        """Delete the exchanges received before ``older_than`` (aware); return how many."""
        ...

    def close(self) -> None:
        """Release the store's connections; further calls raise `AuditError`."""
        ...


def bounded(message: bytes, cap: int) -> bytes:
    """`message` as stored: whole up to `cap` bytes; above, a line that says so (original
    length and SHA-256, so the service desk can match a client's copy) then its first `cap`
    bytes. Bounds the size of a row, never its presence (R-73)."""
    if len(message) <= cap:
        return message
    digest = hashlib.sha256(message).hexdigest()
    note = (
        f"<!-- selfemployed-gateway: message of {len(message)} bytes, sha256 {digest}; "
        f"its first {cap} bytes follow -->\n"
    )
    return note.encode("ascii") + message[:cap]


#: The columns of `audit_exchange` that hold an exchange, in the order of `row_from_record`
#: and `record_from_row` (both backends).
COLUMNS = (
    "ticket_cbss, client_ticket, client_id, operation, legal_context, received, replied, "
    "outcome, duration_ms, request_xml, response_xml, key_id, ssin_hash, decisions"
)
#: Columns added since the first schema, added when missing: (name, SQLite type, PostgreSQL type).
ADDED_COLUMNS = (
    ("key_id", "TEXT", "TEXT"),
    ("ssin_hash", "TEXT", "TEXT"),
    ("decisions", "BLOB", "bytea"),
)


def row_from_record(exchange: ExchangeRecord, moment: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """An exchange as a row in `COLUMNS` order; `moment` writes the backend's timestamps."""
    return (
        exchange.ticket_cbss,
        exchange.client_ticket,
        exchange.client_id,
        exchange.operation,
        exchange.legal_context,
        moment(exchange.received),
        moment(exchange.replied),
        exchange.outcome,
        exchange.duration_ms,
        exchange.request_xml,
        exchange.response_xml,
        exchange.key_id,
        exchange.ssin_hash,
        exchange.decisions,
    )


def record_from_row(row: Sequence[Any], moment: Callable[[Any], datetime]) -> ExchangeRecord:
    """An exchange from a row in `COLUMNS` order; `moment` reads the backend's timestamps."""
    (
        ticket_cbss,
        client_ticket,
        client_id,
        operation,
        legal_context,
        received,
        replied,
        outcome,
        duration_ms,
        request_xml,
        response_xml,
        key_id,
        ssin_hash,
        decisions,
    ) = row
    return ExchangeRecord(
        ticket_cbss=ticket_cbss,
        client_ticket=client_ticket,
        client_id=client_id,
        operation=operation,
        legal_context=legal_context,
        received=moment(received),
        replied=moment(replied),
        outcome=outcome,
        duration_ms=duration_ms,
        request_xml=bytes(request_xml),
        response_xml=bytes(response_xml),
        key_id=key_id,
        ssin_hash=ssin_hash,
        decisions=bytes(decisions) if decisions is not None else None,
    )


def check_limit(limit: int) -> None:
    """`AuditStore.find` takes a positive limit (shared by the backends)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def check_aware(name: str, moment: datetime | None) -> None:
    """Naive datetimes are ambiguous: the stores compare instants only."""
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
