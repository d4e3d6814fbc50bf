"""audit/retention.py: the gateway purges past retention by itself, logged and counted."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from selfemployed_gateway.audit.retention import Retention
from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.clock import FixedClock
from selfemployed_gateway.metrics import GatewayMetrics

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def exchange(ticket: str, age: timedelta) -> ExchangeRecord:
    return ExchangeRecord(
        ticket_cbss=ticket,
        received=NOW - age,
        replied=NOW - age,
        outcome="MSG00000",
        duration_ms=1.0,
        request_xml=b"<r/>",
        response_xml=b"<a/>",
    )


def test_exchanges_past_retention_are_purged_on_schedule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    for ticket, days in (("old", 31), ("edge", 29), ("new", 0)):
        store.record(exchange(ticket, timedelta(days=days)))
    metrics = GatewayMetrics(phase="final")
    with ThreadPoolExecutor(1) as writer:
        retention = Retention(store, FixedClock(NOW), metrics, writer, days=30)

        async def two_runs() -> None:
            task = asyncio.create_task(retention.run(interval_seconds=0.05))
            await asyncio.sleep(0.02)
            store.record(exchange("aged-meanwhile", timedelta(days=40)))
            await asyncio.sleep(0.1)
            task.cancel()

        with caplog.at_level("INFO", logger="selfemployed_gateway.audit.retention"):
            asyncio.run(two_runs())
    assert [e.ticket_cbss for e in store.find()] == ["new", "edge"]
    assert metrics.registry.get_sample_value("seg_audit_purged_total") == 2
    runs = [r for r in caplog.records if r.getMessage() == "audit retention applied"]
    assert len(runs) >= 2 and runs[0].__dict__["purged"] == 1
    store.close()


def test_a_failed_run_is_counted_and_the_next_one_tries_again(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    store.close()  # every purge now fails
    metrics = GatewayMetrics(phase="final")
    with ThreadPoolExecutor(1) as writer:
        retention = Retention(store, FixedClock(NOW), metrics, writer, days=30)

        async def runs() -> None:
            task = asyncio.create_task(retention.run(interval_seconds=0.02))
            await asyncio.sleep(0.1)
            task.cancel()

        asyncio.run(runs())
    assert (metrics.registry.get_sample_value("seg_audit_purge_failures_total") or 0) >= 2
