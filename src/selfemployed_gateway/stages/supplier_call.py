"""R-22, R-60: call INASTI through the configured supplier adapter.

An operation the phase's supplier cannot answer is fault MSG00025 (R-60: no
consultContributions through L302); a supplier that gives no usable answer is fault MSG00002
with the adapter's `details`.
"""

from __future__ import annotations

import time

from selfemployed_gateway import codes
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    ContributionsCriteria,
    DatePeriod,
    ExchangeTrace,
    GatewayFault,
    Operation,
    information,
)
from selfemployed_gateway.suppliers import OperationNotAvailable, Supplier, SupplierError


def check_available(supplier: Supplier, operation: Operation) -> None:
    """R-60: MSG00025 'This functionality is not available', `operation not supported`."""
    if operation not in supplier.operations:
        raise not_available(operation.value)


def not_available(operation: str) -> GatewayFault:
    return GatewayFault(codes.NOT_AVAILABLE, information(codes.OPERATION_NOT_SUPPORTED, operation))


async def call_career(
    supplier: Supplier, ssin: str, period: DatePeriod, trace: ExchangeTrace
) -> CareerAnswer:
    started = time.monotonic()
    try:
        answer = await supplier.consult_career(ssin, period)
    except SupplierError as error:
        _measured(trace, started, error.details)
        raise supplier_fault(error) from error
    _measured(trace, started, answer.outcome.value)
    return answer


async def call_contributions(
    supplier: Supplier, criteria: ContributionsCriteria, trace: ExchangeTrace
) -> ContributionsAnswer:
    started = time.monotonic()
    try:
        answer = await supplier.consult_contributions(
            criteria.ssin, criteria.begin_quarter, criteria.end_quarter
        )
    except OperationNotAvailable as error:
        raise not_available(error.operation) from error
    except SupplierError as error:
        _measured(trace, started, error.details)
        raise supplier_fault(error) from error
    _measured(trace, started, answer.outcome.value)
    return answer


def _measured(trace: ExchangeTrace, started: float, outcome: str) -> None:
    """Latency and outcome of the call, for the exchange's log line and metrics."""
    trace.supplier_seconds = time.monotonic() - started
    trace.supplier_outcome = outcome


def supplier_fault(error: SupplierError) -> GatewayFault:
    return GatewayFault(codes.SUPPLIER_ERROR, information(codes.DETAILS, error.details))
