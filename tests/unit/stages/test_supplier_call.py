"""R-22, R-60, R-65: the supplier-call stage (stages/supplier_call.py).

The one place a call to INASTI is timed and its failure logged: the adapters neither time
nor log (one timing per call, whatever the adapter).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from selfemployed_gateway import codes, privacy
from selfemployed_gateway.decisions import DecisionTrail, Step, Verdict
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    ContributionsRequest,
    DatePeriod,
    ExchangeTrace,
    GatewayFault,
    Operation,
    Organisation,
    SupplierOutcome,
)
from selfemployed_gateway.stages import supplier_call
from tests.support.aio import run
from tests.unit.conftest import ScriptedSupplier

SSIN = "65031510159"
YEAR_2000 = DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31))
CONTRIBUTIONS = ContributionsRequest(
    customer=Organisation(sector=21, institution=0),
    legal_context="SOCIAL_INSPECTION:INVESTIGATION",
    ssin=SSIN,
    begin_quarter="2024Q1",
    end_quarter=None,
)


def trace() -> ExchangeTrace:
    return ExchangeTrace(ticket_cbss="t", received=datetime(2026, 11, 26, tzinfo=UTC))


def failing(ssin: str, period: DatePeriod) -> CareerAnswer:
    raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, "not well-formed XML: line 1")


def test_each_call_is_timed_once_with_its_outcome() -> None:
    career = ScriptedSupplier(career=lambda s, p: CareerAnswer(outcome=SupplierOutcome.FOUND))
    contributions = ScriptedSupplier(
        contributions=lambda s, b, e: ContributionsAnswer(
            outcome=SupplierOutcome.NO_DATA_FOR_PERSON
        )
    )
    traces = [trace(), trace()]
    run(supplier_call.call_career(career, SSIN, YEAR_2000, traces[0]))
    run(supplier_call.call_contributions(contributions, CONTRIBUTIONS, traces[1]))
    assert [t.supplier_outcome for t in traces] == ["FOUND", "NO_DATA_FOR_PERSON"]
    assert all(t.supplier_seconds is not None and 0 <= t.supplier_seconds < 1 for t in traces)
    assert contributions.calls == [("consultContributions", SSIN, "2024Q1", "None")]


def test_a_failure_is_msg00002_with_its_details_timed_and_logged_without_niss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = trace()
    with pytest.raises(GatewayFault) as fault:
        run(supplier_call.call_career(ScriptedSupplier(career=failing), SSIN, YEAR_2000, exchange))
    assert fault.value.code is codes.SUPPLIER_ERROR
    assert [(i.field_name, i.field_value) for i in fault.value.information] == [
        ("details", codes.SUPPLIER_UNEXPECTED_RESPONSE)
    ]
    assert exchange.supplier_outcome == codes.SUPPLIER_UNEXPECTED_RESPONSE
    assert exchange.supplier_seconds is not None
    (warning,) = [r.getMessage() for r in caplog.records if r.name.endswith("supplier_call")]
    assert warning == (
        f"INASTI consultCareer for {privacy.ssin_tag(SSIN)} failed: "
        f"{codes.SUPPLIER_UNEXPECTED_RESPONSE} (not well-formed XML: line 1)"
    )


def test_an_operation_the_supplier_lacks_is_msg00025() -> None:
    """R-60: 'This functionality is not available', `operation not supported`."""
    supplier = ScriptedSupplier(operations=frozenset({Operation.CONSULT_CAREER}))
    supplier_call.check_available(supplier, Operation.CONSULT_CAREER)
    with pytest.raises(GatewayFault) as fault:
        supplier_call.check_available(supplier, Operation.CONSULT_CONTRIBUTIONS)
    assert fault.value.code is codes.NOT_AVAILABLE
    assert [(i.field_name, i.field_value) for i in fault.value.information] == [
        ("operation not supported", "consultContributions")
    ]


# --- decision trail (issue #18) ----------------------------------------------------------------


def test_trail_of_a_call_has_its_duration_and_outcome() -> None:
    """R-22 passed: the duration in whole milliseconds (the one measured) and INASTI's outcome."""
    supplier = ScriptedSupplier(
        career=lambda s, p: CareerAnswer(outcome=SupplierOutcome.FUND_TIMEOUT)
    )
    exchange, trail = trace(), DecisionTrail()
    run(supplier_call.call_career(supplier, SSIN, YEAR_2000, exchange, trail=trail))
    assert exchange.supplier_seconds is not None
    assert trail.steps == [
        Step(
            "supplier call",
            Verdict.PASSED,
            ("R-22",),
            {"duration_ms": round(exchange.supplier_seconds * 1000), "outcome": "SES00005"},
        )
    ]
    contributions = ScriptedSupplier(
        contributions=lambda s, b, e: ContributionsAnswer(outcome=SupplierOutcome.FOUND)
    )
    other = DecisionTrail()
    run(supplier_call.call_contributions(contributions, CONTRIBUTIONS, trace(), trail=other))
    assert [(s.stage, s.verdict, s.facts["outcome"]) for s in other.steps] == [
        ("supplier call", Verdict.PASSED, "FOUND")
    ]


@pytest.mark.parametrize(
    ("details", "cause", "rules", "because"),
    [
        (
            codes.SUPPLIER_TIME_BUDGET,
            "ReadTimeout",
            ("R-22", "R-65"),
            "INASTI did not answer within the gateway's time budget",
        ),
        (
            codes.SUPPLIER_SUSPENDED,
            "circuit open",
            ("R-22",),
            "calls to INASTI are suspended after repeated failures (circuit open): no call was "
            "made",
        ),
        (
            codes.SUPPLIER_UNEXPECTED_RESPONSE,
            "not well-formed XML: line 1",
            ("R-22",),
            "INASTI's answer could not be read as a valid answer",
        ),
        (
            codes.SUPPLIER_L302_SOAP_FAULT,
            "",
            ("R-22",),
            "INASTI answered the L302 call with a SOAP fault",
        ),
    ],
)
def test_trail_of_a_failure_is_recorded_before_the_fault(
    details: str, cause: str, rules: tuple[str, ...], because: str
) -> None:
    """R-22 MSG00002: the `details`, what it means (R-65: the time budget), the duration."""

    def failing(ssin: str, begin: str, end: str | None) -> ContributionsAnswer:
        raise SupplierError(details, cause)

    exchange, trail = trace(), DecisionTrail()
    with pytest.raises(GatewayFault):
        run(
            supplier_call.call_contributions(
                ScriptedSupplier(contributions=failing), CONTRIBUTIONS, exchange, trail=trail
            )
        )
    assert exchange.supplier_seconds is not None
    assert trail.steps == [
        Step(
            "supplier call",
            Verdict.ANSWERED,
            rules,
            {
                "details": details,
                "cause": cause or None,
                "duration_ms": round(exchange.supplier_seconds * 1000),
            },
            because,
        )
    ]


def test_trail_of_the_phase() -> None:
    """R-60: passed for an operation the supplier answers; MSG00025 recorded before raising."""
    supplier = ScriptedSupplier(operations=frozenset({Operation.CONSULT_CAREER}))
    trail = DecisionTrail()
    supplier_call.check_available(supplier, Operation.CONSULT_CAREER, trail=trail)
    with pytest.raises(GatewayFault):
        supplier_call.check_available(supplier, Operation.CONSULT_CONTRIBUTIONS, trail=trail)
    assert trail.steps == [
        Step("phase", Verdict.PASSED, ("R-60",), {"operation": "consultCareer"}),
        Step(
            "phase",
            Verdict.ANSWERED,
            ("R-60",),
            {"phase": "transitional", "operation": "consultContributions"},
            "in the transitional phase INASTI is called through L302, which cannot answer "
            "consultContributions",
        ),
    ]
