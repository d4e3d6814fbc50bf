"""Group commit (audit/writer.py, R-73): each exchange waits for its own commit, exchanges
that end together share one, and one exchange's failure is never another's."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.audit.writer import AuditWriter
from selfemployed_gateway.errors import AuditError, AuditOutcomeUnknown

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def exchange(ticket: str) -> ExchangeRecord:
    return ExchangeRecord(
        ticket_cbss=ticket,
        received=T0,
        replied=T0,
        outcome="MSG00000",
        duration_ms=1.0,
        request_xml=b"<request/>",
        response_xml=b"<response/>",
    )


class GatedStore:
    """A store that holds its first commit until `gate` is set, refuses the tickets of
    `refused` and raises `failure` (once) for a batch of more than one."""

    def __init__(self, *, refused: frozenset[str] = frozenset()) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.refused = refused
        self.failure: Exception | None = None
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def record_many(self, exchanges: Sequence[ExchangeRecord]) -> None:
        self.threads.add(threading.current_thread().name)
        tickets = [e.ticket_cbss for e in exchanges]
        if not self.batches:
            self.entered.set()
            assert self.gate.wait(10)
        if self.failure is not None and len(tickets) > 1:
            failure, self.failure = self.failure, None
            self.batches.append(["failed:", *tickets])
            raise failure
        if self.refused.intersection(tickets):
            self.batches.append(["refused:", *tickets])
            raise AuditError(f"refused {sorted(self.refused.intersection(tickets))}")
        self.batches.append(tickets)

    def stored(self) -> list[str]:
        return [t for batch in self.batches if not batch[0].endswith(":") for t in batch]


def write_all(
    writer: AuditWriter,
    store: GatedStore,
    tickets: list[str],
    prepare: Callable[[str], Callable[[], ExchangeRecord]] | None = None,
) -> list[BaseException | None]:
    """The first ticket's commit held until the others are queued, then all awaited."""

    def prepared(ticket: str) -> Callable[[], ExchangeRecord]:
        return prepare(ticket) if prepare is not None else lambda: exchange(ticket)

    async def run() -> list[BaseException | None]:
        first = writer.write(prepared(tickets[0]))
        assert await asyncio.to_thread(store.entered.wait, 10)
        rest = [writer.write(prepared(t)) for t in tickets[1:]]
        store.gate.set()
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    try:
        return asyncio.run(run())
    finally:
        writer.close(timeout=10)


def test_an_exchange_alone_is_committed_alone_in_the_writer_thread() -> None:
    store = GatedStore()
    store.gate.set()
    writer = AuditWriter(store)  # type: ignore[arg-type]
    assert write_all(writer, store, ["A"]) == [None]
    assert store.batches == [["A"]]
    assert store.threads == {"audit_0"}


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's SCHED_BATCH only")
def test_the_writer_thread_runs_behind_the_event_loop_and_the_loop_does_not() -> None:
    """issue #17: under SCHED_BATCH a woken writer does not preempt the loop's thread, which
    holds the GIL it needs; the caller's thread keeps its own policy."""
    store = GatedStore()
    store.gate.set()
    writer = AuditWriter(store)  # type: ignore[arg-type]
    policies: list[int] = []

    def prepare() -> ExchangeRecord:
        policies.append(os.sched_getscheduler(0))  # in the writer thread
        return exchange("A")

    caller = os.sched_getscheduler(0)
    assert write_all(writer, store, ["A"], prepare=lambda _: prepare) == [None]
    assert policies == [os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == caller != os.SCHED_BATCH


def test_exchanges_waiting_together_share_one_commit() -> None:
    """The commit is paid once for every exchange queued while the previous one ran."""
    store = GatedStore()
    commits: list[int] = []
    writer = AuditWriter(store, on_commit=commits.append)  # type: ignore[arg-type]
    tickets = [f"T{n}" for n in range(10)]
    assert write_all(writer, store, tickets) == [None] * 10
    assert store.batches == [["T0"], tickets[1:]]
    assert commits == [1, 9]  # what seg_audit_commit_exchanges observes


def test_a_batch_holds_at_most_max_batch_exchanges() -> None:
    store = GatedStore()
    writer = AuditWriter(store, max_batch=4)  # type: ignore[arg-type]
    tickets = [f"T{n}" for n in range(10)]
    assert write_all(writer, store, tickets) == [None] * 10
    assert store.batches == [["T0"], tickets[1:5], tickets[5:9], ["T9"]]


def test_a_refused_exchange_fails_alone_and_the_others_of_its_batch_are_stored() -> None:
    """One client's exchange never fails another's: the batch is retried one by one."""
    store = GatedStore(refused=frozenset({"BAD"}))
    commits: list[int] = []
    writer = AuditWriter(store, on_commit=commits.append)  # type: ignore[arg-type]
    outcomes = write_all(writer, store, ["A", "B", "BAD", "C"])
    assert commits == [1, 1, 1]  # A, then B and C alone: only commits that stored
    assert outcomes[:2] == [None, None] and outcomes[3] is None
    assert isinstance(outcomes[2], AuditError) and "BAD" in str(outcomes[2])
    assert store.stored() == ["A", "B", "C"]
    assert store.batches[1] == ["refused:", "B", "BAD", "C"]


def test_an_unknown_commit_outcome_fails_the_batch_without_writing_it_again() -> None:
    """Writing again what may be stored could store it twice (AuditOutcomeUnknown)."""
    store = GatedStore()
    store.failure = AuditOutcomeUnknown("connection lost during COMMIT")
    writer = AuditWriter(store)  # type: ignore[arg-type]
    outcomes = write_all(writer, store, ["A", "B", "C"])
    assert outcomes[0] is None
    assert all(isinstance(o, AuditOutcomeUnknown) for o in outcomes[1:])
    assert store.batches == [["A"], ["failed:", "B", "C"]]


def test_any_failure_of_a_batch_is_retried_one_by_one() -> None:
    store = GatedStore()
    store.failure = RuntimeError("the driver's own bug")
    writer = AuditWriter(store)  # type: ignore[arg-type]
    assert write_all(writer, store, ["A", "B", "C"]) == [None, None, None]
    assert store.batches == [["A"], ["failed:", "B", "C"], ["B"], ["C"]]


def test_a_record_that_cannot_be_prepared_fails_its_exchange_only() -> None:
    store = GatedStore()
    writer = AuditWriter(store)  # type: ignore[arg-type]

    def prepare(ticket: str) -> Callable[[], ExchangeRecord]:
        def build() -> ExchangeRecord:
            if ticket == "UNSEALABLE":
                raise ValueError("sealing key missing")
            return exchange(ticket)

        return build

    outcomes = write_all(writer, store, ["A", "B", "UNSEALABLE", "C"], prepare)
    assert [o is None for o in outcomes] == [True, True, False, True]
    assert isinstance(outcomes[2], ValueError)
    assert store.stored() == ["A", "B", "C"]


def test_the_writer_survives_a_failure_and_stores_the_next_exchange() -> None:
    store = GatedStore(refused=frozenset({"BAD"}))
    store.gate.set()
    writer = AuditWriter(store)  # type: ignore[arg-type]

    async def run() -> BaseException:
        (bad,) = await asyncio.gather(writer.write(lambda: exchange("BAD")), return_exceptions=True)
        await writer.write(lambda: exchange("NEXT"))
        return bad

    try:
        failed = asyncio.run(run())
    finally:
        writer.close(timeout=10)
    assert isinstance(failed, AuditError)
    assert store.stored() == ["NEXT"]


def test_close_stores_what_is_queued_then_refuses_new_exchanges() -> None:
    store = GatedStore()
    writer = AuditWriter(store, threads=2)  # type: ignore[arg-type]

    async def run() -> BaseException | None:
        queued = [writer.write(lambda t=t: exchange(t)) for t in ("A", "B", "C")]
        assert await asyncio.to_thread(store.entered.wait, 10)
        store.gate.set()
        await asyncio.to_thread(writer.close, 10)
        await asyncio.gather(*queued)
        late = await asyncio.gather(writer.write(lambda: exchange("LATE")), return_exceptions=True)
        return late[0]

    late = asyncio.run(run())
    assert isinstance(late, AuditError) and "closed" in str(late)
    assert sorted(store.stored()) == ["A", "B", "C"]


def test_a_real_sqlite_batch_is_one_transaction(tmp_path: Path) -> None:
    """Through the real store: a batch with a row SQLite refuses stores the others alone."""
    store = SqliteAuditStore(tmp_path / "audit.db")
    writer = AuditWriter(store)
    # NOT NULL refused by the database itself (pydantic would refuse it earlier).
    broken = ExchangeRecord.model_construct(**{**exchange("X").model_dump(), "outcome": None})

    async def run() -> list[BaseException | None]:
        outcomes = await asyncio.gather(
            writer.write(lambda: exchange("A")),
            writer.write(lambda: broken),
            writer.write(lambda: exchange("B")),
            return_exceptions=True,
        )
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    try:
        outcomes = asyncio.run(run())
    finally:
        writer.close(timeout=10)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], AuditError) and "NOT NULL" in str(outcomes[1])
    assert {r.ticket_cbss for r in store.find()} == {"A", "B"}
    store.close()


def test_threads_and_batch_size_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AuditWriter(GatedStore(), threads=0)  # type: ignore[arg-type]


def test_a_failing_commit_callback_fails_no_exchange() -> None:
    store = GatedStore()
    store.gate.set()

    def broken(_: int) -> None:
        raise RuntimeError("metric broken")

    writer = AuditWriter(store, on_commit=broken)  # type: ignore[arg-type]
    assert write_all(writer, store, ["A"]) == [None]
    assert store.stored() == ["A"]


def test_an_exchange_queued_behind_the_end_of_the_threads_is_answered_closed() -> None:
    """A write racing the close from another thread lands behind the threads' end: the
    next close answers it "closed" instead of leaving its exchange waiting forever."""
    store = GatedStore()
    store.gate.set()
    writer = AuditWriter(store)  # type: ignore[arg-type]
    writer.close(timeout=10)

    async def run() -> BaseException:
        writer._closed = False  # the race: the write saw the writer open
        raced = writer.write(lambda: exchange("RACED"))
        await asyncio.to_thread(writer.close, 10)
        (outcome,) = await asyncio.gather(raced, return_exceptions=True)
        assert isinstance(outcome, BaseException)
        return outcome

    late = asyncio.run(run())
    assert isinstance(late, AuditError) and "closed" in str(late)
    assert store.stored() == []
