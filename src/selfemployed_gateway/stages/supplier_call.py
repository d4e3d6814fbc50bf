"""R-22, R-60, R-65: call INASTI through the configured supplier adapter.

An operation the phase's supplier cannot answer is fault MSG00025 (R-60: no
consultContributions through L302), checked before anything else is asked: `operations` of
the supplier is the one mechanism. A supplier that gives no usable answer is fault MSG00002
with the adapter's `details` (R-22). The call is timed here, once, for the exchange's log
line and metrics; a failure is logged here with its cause, which never reaches the client.

The decision trail (issue #18) gets the "phase" step (R-60) and the "supplier call" step:
its duration and INASTI's outcome, or the MSG00002 `details`.
"""

from __future__ import annotations

import logging
import time

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.privacy import ssin_tag
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    ContributionsRequest,
    DatePeriod,
    ExchangeTrace,
    GatewayFault,
    Operation,
    information,
)
from selfemployed_gateway.suppliers import Supplier

log = logging.getLogger(__name__)

PHASE = "phase"
STAGE = "supplier call"

# What a MSG00002 `details` means, for the service desk.
_FAILURES = {
    codes.SUPPLIER_TIME_BUDGET: "INASTI did not answer within the gateway's time budget",
    codes.SUPPLIER_SUSPENDED: "calls to INASTI are suspended after repeated failures "
    "(circuit open): no call was made",
    codes.SUPPLIER_UNEXPECTED_RESPONSE: "INASTI's answer could not be read as a valid answer",
    codes.SUPPLIER_UNEXPECTED_RETURN_CODE: "INASTI answered with an unexpected return code",
    codes.SUPPLIER_NO_L302_ELEMENT: "INASTI's L302 answer held no L302 element",
    codes.SUPPLIER_L302_SOAP_FAULT: "INASTI answered the L302 call with a SOAP fault",
}


def check_available(
    supplier: Supplier, operation: Operation, *, trail: DecisionTrail | None = None
) -> None:
    """R-60: MSG00025 'This functionality is not available', `operation not supported`."""
    if operation not in supplier.operations:
        if trail is not None:
            trail.answered(
                PHASE,
                "R-60",
                because=f"in the transitional phase INASTI is called through L302, which "
                f"cannot answer {operation.value}",
                phase="transitional",
                operation=operation.value,
            )
        raise GatewayFault(
            codes.NOT_AVAILABLE, information(codes.OPERATION_NOT_SUPPORTED, operation.value)
        )
    if trail is not None:
        trail.passed(PHASE, "R-60", operation=operation.value)


async def call_career(
    supplier: Supplier,
    ssin: str,
    period: DatePeriod,
    trace: ExchangeTrace,
    *,
    trail: DecisionTrail | None = None,
) -> CareerAnswer:
    started = time.monotonic()
    try:
        answer = await supplier.consult_career(ssin, period)
    except SupplierError as error:
        raise _failed(Operation.CONSULT_CAREER, ssin, error, trace, started, trail) from error
    _measured(trace, started, answer.outcome.value, trail)
    return answer


async def call_contributions(
    supplier: Supplier,
    request: ContributionsRequest,
    trace: ExchangeTrace,
    *,
    trail: DecisionTrail | None = None,
) -> ContributionsAnswer:
    started = time.monotonic()
    try:
        answer = await supplier.consult_contributions(
            request.ssin, request.begin_quarter, request.end_quarter
        )
    except SupplierError as error:
        raise _failed(request.operation, request.ssin, error, trace, started, trail) from error
    _measured(trace, started, answer.outcome.value, trail)
    return answer


def _measured(
    trace: ExchangeTrace, started: float, outcome: str, trail: DecisionTrail | None = None
) -> int:
    """Latency and outcome of the call, for the exchange's log line and metrics; the call
    passed, for the trail when it is given. The duration in whole milliseconds."""
    seconds = time.monotonic() - started
    trace.supplier_seconds = seconds
    trace.supplier_outcome = outcome
    duration_ms = round(seconds * 1000)
    if trail is not None:
        trail.passed(STAGE, "R-22", duration_ms=duration_ms, outcome=outcome)
    return duration_ms


def _failed(
    operation: Operation,
    ssin: str,
    error: SupplierError,
    trace: ExchangeTrace,
    started: float,
    trail: DecisionTrail | None,
) -> GatewayFault:
    duration_ms = _measured(trace, started, error.details)
    log.warning(
        "INASTI %s for %s failed: %s (%s)",
        operation.value,
        ssin_tag(ssin),
        error.details,
        error.cause,
    )
    if trail is not None:
        meaning = _FAILURES.get(error.details, f"INASTI gave no usable answer: {error.details}")
        rules = ("R-22", "R-65") if error.details == codes.SUPPLIER_TIME_BUDGET else ("R-22",)
        trail.answered(
            STAGE,
            *rules,
            because=meaning,
            details=error.details,
            cause=error.cause or None,
            duration_ms=duration_ms,
        )
    return supplier_fault(error)


def supplier_fault(error: SupplierError) -> GatewayFault:
    """R-22: MSG00002 with the adapter's `details`."""
    return GatewayFault(codes.SUPPLIER_ERROR, information(codes.DETAILS, error.details))
