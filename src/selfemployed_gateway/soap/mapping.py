"""From the spyne request message to the pipeline's record (R-10 passed, R-37)."""

from __future__ import annotations

from datetime import date
from typing import Any

from selfemployed_gateway.records import (
    CareerCriteria,
    ConsultRequest,
    ContributionsCriteria,
    CustomerIdentification,
    DatePeriod,
    Operation,
)


def to_request(operation: Operation, message: Any) -> ConsultRequest:
    """A schema-valid request message as a record."""
    customer = message.informationCustomer
    identification = customer.customerIdentification
    career = contributions = None
    if operation is Operation.CONSULT_CAREER:
        career = CareerCriteria(
            ssin=message.criteria.ssin, period=_open_period(message.criteria.period)
        )
    else:
        period = message.criteria.period
        contributions = ContributionsCriteria(
            ssin=message.criteria.ssin,
            begin_quarter=period.beginQuarter.strip(),
            end_quarter=period.endQuarter.strip() if period.endQuarter else None,
        )
    return ConsultRequest(
        operation=operation,
        customer=CustomerIdentification(
            cbe_number=identification.cbeNumber,
            sector=_int(identification.sector),
            institution=_int(identification.institution),
        ),
        customer_ticket=customer.ticket,
        legal_context=message.legalContext,
        career=career,
        contributions=contributions,
    )


def wire_date(text: str) -> date:
    """R-37: an xs:date, with or without zone; the zone never shifts the day."""
    return date.fromisoformat(text.strip()[:10])


def _open_period(period: Any) -> DatePeriod | None:
    if period is None:
        return None
    end = wire_date(period.endDate) if period.endDate else None
    return DatePeriod(begin=wire_date(period.beginDate), end=end)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)
