"""The circuit breaker in front of INASTI (suppliers/breaker.py), with a hand-driven clock."""

from __future__ import annotations

import asyncio

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.records import CareerAnswer, DatePeriod, SupplierOutcome
from selfemployed_gateway.suppliers.breaker import CircuitBreaker, CircuitState, GuardedSupplier
from tests.support.aio import run
from tests.unit.conftest import ScriptedSupplier

PERIOD = DatePeriod.model_validate({"begin": "2000-01-01"})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Inasti:
    """A supplier that is up or down, and counts the calls it receives."""

    def __init__(self) -> None:
        self.up = False
        self.supplier = ScriptedSupplier(career=self.answer)

    def answer(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        if not self.up:
            raise SupplierError(codes.SUPPLIER_TIME_BUDGET, "ReadTimeout")
        return CareerAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERSON)


def details(supplier: GuardedSupplier) -> str:
    try:
        run(supplier.consult_career("65031510159", PERIOD))
    except SupplierError as error:
        return error.details
    return "answered"


def test_open_after_n_failures_then_one_probe_decides() -> None:
    clock, inasti, changes = Clock(), Inasti(), []
    breaker = CircuitBreaker(3, 10.0, clock=clock, on_change=changes.append)
    guarded = GuardedSupplier(inasti.supplier, breaker)
    assert [details(guarded) for _ in range(3)] == [codes.SUPPLIER_TIME_BUDGET] * 3
    assert breaker.state is CircuitState.OPEN
    assert details(guarded) == codes.SUPPLIER_SUSPENDED  # fast: INASTI not called
    assert len(inasti.supplier.calls) == 3
    clock.now = 10.0  # cool-down over: one probe, which fails
    assert details(guarded) == codes.SUPPLIER_TIME_BUDGET
    assert breaker.state is CircuitState.OPEN and len(inasti.supplier.calls) == 4
    assert details(guarded) == codes.SUPPLIER_SUSPENDED
    clock.now = 20.0
    inasti.up = True
    assert details(guarded) == "answered"  # the probe succeeds: closed again
    assert breaker.state is CircuitState.CLOSED
    assert details(guarded) == "answered"
    assert changes == [
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


def test_a_success_resets_the_count() -> None:
    inasti = Inasti()
    breaker = CircuitBreaker(3, 10.0, clock=Clock())
    guarded = GuardedSupplier(inasti.supplier, breaker)
    for up in (False, False, True, False, False):
        inasti.up = up
        details(guarded)
    assert breaker.state is CircuitState.CLOSED


def test_while_the_probe_is_in_flight_others_fail_fast() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.failed()
    clock.now = 5.0
    breaker.admit()  # the probe
    with pytest.raises(SupplierError) as raised:
        breaker.admit()
    assert raised.value.details == codes.SUPPLIER_SUSPENDED
    breaker.cancelled()  # the probe was cancelled: the next call may probe
    breaker.admit()


def test_a_cancelled_call_is_no_failure() -> None:
    breaker = CircuitBreaker(1, 5.0, clock=Clock())

    async def hang(ssin: str, period: DatePeriod) -> CareerAnswer:
        await asyncio.sleep(10)
        raise AssertionError

    class Hanging(ScriptedSupplier):
        async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
            return await hang(ssin, period)

    guarded = GuardedSupplier(Hanging(), breaker)

    async def cut() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await guarded.consult_career("65031510159", PERIOD)

    run(cut())
    assert breaker.state is CircuitState.CLOSED


def test_a_burst_of_failures_opens_only_if_it_spans_the_window() -> None:
    """Many calls for one slow file cut together are no outage: the streak must last."""
    clock = Clock()
    breaker = CircuitBreaker(3, 10.0, 5.0, clock=clock)
    for _ in range(30):
        breaker.failed()  # all at t = 0
    assert breaker.state is CircuitState.CLOSED
    clock.now = 5.0
    breaker.failed()
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize(
    "answered",
    [
        SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, "schema: …", answered=True),
        SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, "SOAP Fault …", answered=True),
        SupplierError(codes.SUPPLIER_L302_SOAP_FAULT, "HTTP 500, SOAP Fault …", answered=True),
        SupplierError(codes.SUPPLIER_NO_L302_ELEMENT, "neither", answered=True),
    ],
    ids=["garbled", "fault", "l302-fault", "no-l302"],
)
def test_failing_files_inasti_answered_for_never_open_the_circuit(
    answered: SupplierError,
) -> None:
    """R-22: INASTI answering a SOAP Fault or an unusable body about one file is MSG00002 for
    that call, but INASTI is up: the streak ends there (both reviewers of 2026-12-03 found 10
    calls for a garbled file, then for a slow one, suspending everybody)."""
    clock = Clock()

    def answer(ssin: str, period: DatePeriod) -> CareerAnswer:
        raise answered

    failing = ScriptedSupplier(career=answer)
    breaker = CircuitBreaker(3, 10.0, clock=clock)
    guarded = GuardedSupplier(failing, breaker)
    for _ in range(20):
        clock.now += 1.0
        assert details(guarded) == answered.details
    assert breaker.state is CircuitState.CLOSED
    # …and ends a streak of calls without an answer, as a success would.
    inasti = Inasti()
    mixed = GuardedSupplier(inasti.supplier, breaker)
    details(mixed), details(mixed)
    details(guarded)
    details(mixed), details(mixed)
    assert breaker.state is CircuitState.CLOSED
    details(mixed)
    assert breaker.state is CircuitState.OPEN  # three in a row without an answer
