"""R-22: call INASTI through the configured supplier adapter.

A supplier that gives no usable answer is fault MSG00002 with the adapter's `details`.
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    ContributionsCriteria,
    DatePeriod,
    GatewayFault,
    information,
)
from selfemployed_gateway.suppliers import Supplier, SupplierError


def call_career(supplier: Supplier, ssin: str, period: DatePeriod) -> CareerAnswer:
    try:
        return supplier.consult_career(ssin, period)
    except SupplierError as error:
        raise supplier_fault(error) from error


def call_contributions(supplier: Supplier, criteria: ContributionsCriteria) -> ContributionsAnswer:
    try:
        return supplier.consult_contributions(
            criteria.ssin, criteria.begin_quarter, criteria.end_quarter
        )
    except SupplierError as error:
        raise supplier_fault(error) from error


def supplier_fault(error: SupplierError) -> GatewayFault:
    return GatewayFault(codes.SUPPLIER_ERROR, information(codes.DETAILS, error.details))
