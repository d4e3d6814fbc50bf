"""Operations without a server: audit before answer, metrics, NISS never in clear in logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime

import pytest

from selfemployed_gateway import privacy
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.audit.writer import AuditWriter
from selfemployed_gateway.clock import FixedClock
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.errors import AuditError
from selfemployed_gateway.exchange import ExchangeHandler
from selfemployed_gateway.logs import configure_logging
from selfemployed_gateway.metrics import GatewayMetrics
from selfemployed_gateway.soap.endpoint import IncomingCall
from tests.support.endpoints import soap_endpoint
from tests.support.soap import career_request, customer, fault, payload
from tests.unit.conftest import PROJECT, ScriptedSupplier, certificate, registers

CLOCK = FixedClock.parse("2026-11-26T10:00:00+01:00")
XSD = PROJECT / "xsd"
REQUEST = career_request(
    customer(sector=21, institution=0), "SOCIAL_INSPECTION:INVESTIGATION", "65031510159"
).encode()

INSPECTOR = certificate("onss-inspection")
INSPECTION_CALL = IncomingCall(REQUEST, certificate=INSPECTOR)


class MemoryAudit:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.records: list[ExchangeRecord] = []
        self.threads: list[int] = []  # the thread of each write
        self.thread_names: list[str] = []

    def record(self, exchange: ExchangeRecord) -> None:
        self.threads.append(threading.get_ident())
        self.thread_names.append(threading.current_thread().name)
        if self.fail:
            raise AuditError("audit store unavailable (test)")
        self.records.append(exchange)

    def record_many(self, exchanges: Sequence[ExchangeRecord]) -> None:
        for exchange in exchanges:
            self.record(exchange)

    def by_ticket(self, ticket: str) -> list[ExchangeRecord]:
        return [r for r in self.records if ticket in (r.ticket_cbss, r.client_ticket)]

    def find(self, **_: object) -> list[ExchangeRecord]:
        return list(self.records)

    def purge(self, older_than: datetime) -> int:
        return 0

    def close(self) -> None:
        pass


def handler(
    dataset: Dataset,
    audit: MemoryAudit,
    metrics: GatewayMetrics,
    *,
    audit_writer: AuditWriter | None = None,
) -> ExchangeHandler:
    endpoint = soap_endpoint(
        dataset, registers(dataset), ScriptedSupplier(), CLOCK, validate_responses=False
    )
    return ExchangeHandler(
        endpoint,
        audit,  # type: ignore[arg-type]
        metrics,
        CLOCK,
        audit_writer=audit_writer,
    )


def sample(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_the_exchange_is_stored_before_it_is_answered(dataset: Dataset) -> None:
    """R-73: tickets, client, operation, legal context, outcome, both messages."""
    audit = MemoryAudit()
    answer = asyncio.run(handler(dataset, audit, GatewayMetrics("final")).handle(INSPECTION_CALL))
    (stored,) = audit.records
    assert stored.ticket_cbss == payload(answer.body).findtext("informationCBSS/ticketCBSS")
    assert (stored.client_ticket, stored.client_id, stored.operation, stored.legal_context) == (
        "t-1",
        "onss-inspection",
        "consultCareer",
        "SOCIAL_INSPECTION:INVESTIGATION",
    )
    assert stored.outcome == "MSG00100"
    assert (stored.request_xml, stored.response_xml) == (REQUEST, answer.body)
    assert stored.received.tzinfo is not None


def test_an_audit_failure_answers_msg00003_and_is_counted(
    dataset: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    """R-73: never an answer that was not stored: MSG00003, logged, counted."""
    metrics = GatewayMetrics("final")
    answer = asyncio.run(handler(dataset, MemoryAudit(fail=True), metrics).handle(INSPECTION_CALL))
    assert answer.status == 500
    assert fault(answer.body)["details"][0]["reasonCode"] == "MSG00003"  # type: ignore[index]
    assert sample(metrics, "seg_audit_write_failures_total") == 1
    assert any("audit write failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "copied"),
    [(REQUEST, True), (b"not xml", False)],
    ids=["readable", "unreadable"],
)
def test_the_msg00003_of_an_audit_failure_copies_a_readable_information_customer(
    dataset: Dataset, body: bytes, copied: bool
) -> None:
    """§8: like every fault, the MSG00003 of a failed audit write carries the request's
    informationCustomer when it can be read, and the exchange's own ticketCBSS."""
    call = IncomingCall(body, certificate=INSPECTOR)
    answer = asyncio.run(
        handler(dataset, MemoryAudit(fail=True), GatewayMetrics("final")).handle(call)
    )
    found = fault(answer.body)
    assert found["details"][0]["reasonCode"] == "MSG00003"  # type: ignore[index]
    assert found["informationCustomer"] is copied
    element = payload(answer.body)
    if copied:
        assert element.findtext(".//informationCustomer/ticket") == "t-1"


def test_metrics_count_exchanges_and_supplier_calls(dataset: Dataset) -> None:
    metrics = GatewayMetrics("final")
    exchanges = handler(dataset, MemoryAudit(), metrics)
    asyncio.run(exchanges.handle(INSPECTION_CALL))
    asyncio.run(exchanges.handle(IncomingCall(b"not xml", certificate=INSPECTOR)))
    assert sample(metrics, "seg_requests_total", operation="consultCareer", outcome="MSG00100") == 1
    assert sample(metrics, "seg_requests_total", operation="unknown", outcome="MSG00004") == 1
    assert (
        sample(
            metrics,
            "seg_supplier_call_duration_seconds_count",
            phase="final",
            operation="consultCareer",
            outcome="NO_DATA_FOR_PERSON",
        )
        == 1
    )
    assert sample(metrics, "seg_request_duration_seconds_count", operation="consultCareer") == 1


def test_exchange_log_line_is_json_without_niss(dataset: Dataset) -> None:
    """One JSON line per exchange; the NISS of the request never appears in clear."""
    stream = io.StringIO()
    configure_logging("info", stream)
    try:
        asyncio.run(
            handler(dataset, MemoryAudit(), GatewayMetrics("final")).handle(INSPECTION_CALL)
        )
        logging.getLogger("test").info("about 65031510159", extra={"who": "65031510159"})
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (exchange,) = [line for line in lines if line["message"] == "exchange"]
    assert exchange["client"] == "onss-inspection"
    assert exchange["operation"] == "consultCareer"
    assert exchange["outcome"] == "MSG00100"
    assert exchange["clientTicket"] == "t-1"
    assert exchange["supplier_ms"] >= 0 and exchange["duration_ms"] >= exchange["supplier_ms"]
    assert "65031510159" not in stream.getvalue()
    assert lines[-1]["message"] == f"about {privacy.ssin_tag('65031510159')}"
    assert lines[-1]["who"] == privacy.ssin_tag("65031510159")


def test_the_audit_write_runs_beside_the_event_loop_in_its_writer(dataset: Dataset) -> None:
    """A store may wait (PostgreSQL on the network, SQLite on another process's write lock):
    the write runs in the handler's `audit_writer` threads, never on the loop itself."""
    audit = MemoryAudit()
    writer = AuditWriter(audit)  # type: ignore[arg-type]
    try:
        exchanges = handler(dataset, audit, GatewayMetrics("final"), audit_writer=writer)

        async def answer_and_note_the_loop_thread() -> int:
            answer = await exchanges.handle(INSPECTION_CALL)
            assert answer.status == 200
            return threading.get_ident()

        loop_thread = asyncio.run(answer_and_note_the_loop_thread())
    finally:
        writer.close()
    assert len(audit.records) == 1
    assert audit.threads[0] != loop_thread
    assert audit.thread_names == ["audit_0"]
