"""R-22, R-60, R-65: call INASTI through the configured supplier adapter.

An operation the phase's supplier cannot answer is fault MSG00025 (R-60: no
consultContributions through L302), checked before anything else is asked: `operations` of
the supplier is the one mechanism. A supplier that gives no usable answer is fault MSG00002
with the adapter's `details` (R-22). The call is timed here, once, for the exchange's log
line and metrics; a failure is logged here with its cause, which never reaches the client.
"""

from __future__ import annotations

import logging
import time

from selfemployed_gateway import codes
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


def check_available(supplier: Supplier, operation: Operation) -> None:
    """R-60: MSG00025 'This functionality is not available', `operation not supported`."""
    if operation not in supplier.operations:
        raise GatewayFault(
            codes.NOT_AVAILABLE, information(codes.OPERATION_NOT_SUPPORTED, operation.value)
        )


async def call_career(
    supplier: Supplier, ssin: str, period: DatePeriod, trace: ExchangeTrace
) -> CareerAnswer:
    started = time.monotonic()
    try:
        answer = await supplier.consult_career(ssin, period)
    except SupplierError as error:
        raise _failed(Operation.CONSULT_CAREER, ssin, error, trace, started) from error
    _measured(trace, started, answer.outcome.value)
    return answer


async def call_contributions(
    supplier: Supplier, request: ContributionsRequest, trace: ExchangeTrace
) -> ContributionsAnswer:
    started = time.monotonic()
    try:
        answer = await supplier.consult_contributions(
            request.ssin, request.begin_quarter, request.end_quarter
        )
    except SupplierError as error:
        raise _failed(request.operation, request.ssin, error, trace, started) from error
    _measured(trace, started, answer.outcome.value)
    return answer


def _measured(trace: ExchangeTrace, started: float, outcome: str) -> None:
    """Latency and outcome of the call, for the exchange's log line and metrics."""
    trace.supplier_seconds = time.monotonic() - started
    trace.supplier_outcome = outcome


def _failed(
    operation: Operation, ssin: str, error: SupplierError, trace: ExchangeTrace, started: float
) -> GatewayFault:
    _measured(trace, started, error.details)
    log.warning(
        "INASTI %s for %s failed: %s (%s)",
        operation.value,
        ssin_tag(ssin),
        error.details,
        error.cause,
    )
    return supplier_fault(error)


def supplier_fault(error: SupplierError) -> GatewayFault:
    """R-22: MSG00002 with the adapter's `details`."""
    return GatewayFault(codes.SUPPLIER_ERROR, information(codes.DETAILS, error.details))
