"""One exchange from end to end: answer it, store it, count it, log it (R-73).

The SOAP endpoint computes the answer; before the answer leaves, the exchange is stored in the
audit trail — an answered request is never missing from it. When storing fails, the answer
becomes fault MSG00003 (nothing is sent that could not be traced), the failure is logged and
counted.

Where the write runs: in `audit_writer` (audit/writer.py), threads beside the event loop,
never on it. A store can wait — PostgreSQL on the network, SQLite up to its busy timeout
while another process (a second worker, `audit purge`) holds the write lock — and a wait on
the loop would freeze every other exchange, push answers past their time budget (R-65), and
silence `/healthz`. The gateway gives SQLite one writer thread (it takes one writer at a
time anyway) and PostgreSQL `gateway.threads`; exchanges that end together share a commit.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from selfemployed_gateway import codes
from selfemployed_gateway.admission import Admission
from selfemployed_gateway.audit.protection import AuditProtection
from selfemployed_gateway.audit.trail import AuditStore, ExchangeRecord, bounded
from selfemployed_gateway.audit.writer import AuditWriter
from selfemployed_gateway.clock import Clock
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.metrics import GatewayMetrics
from selfemployed_gateway.privacy import redact
from selfemployed_gateway.records import ExchangeTrace, GatewayFault
from selfemployed_gateway.settings import AuditSettings, LimitSettings
from selfemployed_gateway.soap.endpoint import IncomingCall, SoapAnswer, SoapEndpoint

log = logging.getLogger("selfemployed_gateway.exchange")

# The part of a malformed request (MSG00004) kept in the audit trail, with its SHA-256.
REFUSED_REQUEST_BYTES = 2048
_AUDIT = AuditSettings()  # the defaults, defined once in settings.py


class ExchangeHandler:
    def __init__(
        self,
        endpoint: SoapEndpoint,
        audit: AuditStore,
        metrics: GatewayMetrics,
        clock: Clock,
        *,
        audit_writer: AuditWriter | None = None,
        admission: Admission | None = None,
        stored_bytes: tuple[int, int] = (
            _AUDIT.max_request_bytes,
            _AUDIT.max_response_bytes,
        ),
        protection: AuditProtection | None = None,
        decision_trail: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.audit = audit
        self.metrics = metrics
        self.clock = clock
        self.admission = admission or Admission(LimitSettings())
        # The caps of a stored (request, response): the rest is its SHA-256 and length.
        self.stored_bytes = stored_bytes
        # None: a writer thread of its own.
        self.audit_writer = audit_writer or AuditWriter(audit)
        # Messages sealed and the NISS hashed before they are stored (issue #13).
        self.protection = protection or AuditProtection()
        # Each exchange's decision trail is kept and stored with it (issue #18).
        self.decision_trail = decision_trail

    def begin(self) -> ExchangeTrace:
        """A new exchange: its ticketCBSS and reception time (R-53)."""
        return ExchangeTrace(
            ticket_cbss=str(uuid.uuid4()),
            received=self.clock.now(),
            # The annex in force from the start: also exchanges refused at the edge name it.
            decisions=DecisionTrail(
                configuration=self.endpoint.pipeline.configuration, recorded=self.decision_trail
            ),
        )

    async def handle(self, call: IncomingCall) -> SoapAnswer:
        started = time.monotonic()
        trace = self.begin()
        client_id = self.endpoint.client_of(call.certificate)
        # Who calls, as far as the certificate says: stored even when the exchange ends before
        # the pipeline, so the trail finds it by client.
        trace.client_id = client_id
        refusal = self.admission.enter(client_id)  # before the pipeline
        if refusal is not None:
            self.admission.explain(refusal, client_id, trace.decisions)
            self.metrics.admission_refusals.labels(client_id or "unknown", refusal.scope).inc()
            refused = self.endpoint.refuse(call, refusal.fault, trace)
            answer = replace(refused, retry_after=codes.RETRY_AFTER_SECONDS)
            answer = await self._store(trace, call, answer, started)
        else:
            self._count_client(client_id)
            try:
                answer = await self.endpoint.answer(call, trace)
                answer = await self._store(trace, call, answer, started)
            finally:
                self.admission.leave(client_id)
                self._count_client(client_id)
        seconds = time.monotonic() - started
        self.metrics.exchange(trace, seconds)
        log.info(
            "exchange",
            extra={
                "ticketCBSS": trace.ticket_cbss,
                "clientTicket": trace.client_ticket,
                "client": trace.client_id,
                "operation": trace.operation.value if trace.operation else None,
                "outcome": trace.outcome,
                "duration_ms": round(seconds * 1000, 3),
                "supplier_ms": (
                    round(trace.supplier_seconds * 1000, 3)
                    if trace.supplier_seconds is not None
                    else None
                ),
            },
        )
        return answer

    def _request_cap(self, trace: ExchangeTrace) -> int:
        """A request refused as malformed (MSG00004) needs only its start, digest and length:
        hostile bodies are the bulk of what a flood would store."""
        if trace.outcome == codes.INVALID_STRUCTURE.code:
            return min(self.stored_bytes[0], REFUSED_REQUEST_BYTES)
        return self.stored_bytes[0]

    def _count_client(self, client_id: str | None) -> None:
        if client_id is not None:
            in_flight = self.admission.client_in_flight(client_id)
            self.metrics.client_in_flight.labels(client_id).set(in_flight)

    async def _store(
        self, trace: ExchangeTrace, call: IncomingCall, answer: SoapAnswer, started: float
    ) -> SoapAnswer:
        try:
            exchange = _Exchange(
                ticket_cbss=trace.ticket_cbss,
                client_ticket=trace.client_ticket,
                client_id=trace.client_id,
                operation=trace.operation.value if trace.operation else None,
                legal_context=trace.legal_context,
                received=trace.received,
                replied=self.clock.now(),
                outcome=trace.outcome or "unknown",
                duration_ms=(time.monotonic() - started) * 1000,
                request=call.body,
                request_cap=self._request_cap(trace),
                response=answer.body,
                ssin=trace.ssin,
                trail=trace.decisions,
            )
            await self.audit_writer.write(functools.partial(self._stored, exchange))
        except Exception as error:
            self.metrics.audit_write_failures.inc()
            log.error(
                "audit write failed: answering MSG00003",
                exc_info=error,
                extra={"ticketCBSS": trace.ticket_cbss},
            )
            return self.endpoint.refuse(call, GatewayFault(codes.INTERNAL_ERROR), trace)
        return answer

    def _stored(self, exchange: _Exchange) -> ExchangeRecord:
        """In the audit writer thread, never the loop's: the record as stored, built once —
        messages bounded and sealed, the trail's JSON, the NISS's keyed hash. The exchange is
        answered: its trail gets no more steps."""
        protection = self.protection
        trail = exchange.trail
        return ExchangeRecord(
            ticket_cbss=exchange.ticket_cbss,
            # Free texts of the caller, stored in clear beside the sealed messages: a NISS
            # written in them is kept as its tag (privacy.redact), like in the logs.
            client_ticket=_redacted(exchange.client_ticket),
            client_id=exchange.client_id,
            operation=exchange.operation,
            legal_context=_redacted(exchange.legal_context),
            received=exchange.received,
            replied=exchange.replied,
            outcome=exchange.outcome,
            duration_ms=exchange.duration_ms,
            ssin_hash=protection.ssin_hash(exchange.ssin),
            **protection.sealed(
                exchange.ticket_cbss,
                bounded(exchange.request, exchange.request_cap),
                bounded(exchange.response, self.stored_bytes[1]),
                trail.to_json() if trail.recorded else None,
            ),
        )


@dataclass(frozen=True, slots=True)
class _Exchange:
    """What the loop hands the audit writer: the exchange as it ended, nothing derived yet."""

    ticket_cbss: str
    client_ticket: str | None
    client_id: str | None
    operation: str | None
    legal_context: str | None
    received: datetime
    replied: datetime
    outcome: str
    duration_ms: float
    request: bytes
    request_cap: int
    response: bytes
    ssin: str | None
    trail: DecisionTrail


def _redacted(text: str | None) -> str | None:
    return None if text is None else redact(text)
