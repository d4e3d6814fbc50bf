"""From the spyne request message to the pipeline's record (R-10 passed, R-37)."""

from __future__ import annotations

import re
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


# xs:date: an optional minus, a year of four digits or more, month, day, an optional zone.
_XS_DATE = re.compile(r"\s*(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})")


def wire_date(text: str) -> date:
    """R-37: an xs:date, with or without zone; the zone never shifts the day.

    xs:date allows years after 9999 and before 0001, which the schema (R-10) lets through but
    Python's `date` cannot hold: such a year becomes `date.max` or `date.min`, which business
    validation then refuses like any other date in the future (R-32) or before 01/07/1956
    (R-30, R-31) — MSG00008, not an internal error (R-26). Found by tests/unit/test_fuzz.py.
    """
    match = _XS_DATE.match(text)
    if match is None:
        raise ValueError(f"not an xs:date: {text!r}")  # the schema let it through: a bug
    sign, year, month, day = match.groups()
    if sign or int(year) == 0:
        return date.min
    if int(year) > 9999:
        return date.max
    return date(int(year), int(month), int(day))


def _open_period(period: Any) -> DatePeriod | None:
    if period is None:
        return None
    end = wire_date(period.endDate) if period.endDate else None
    return DatePeriod(begin=wire_date(period.beginDate), end=end)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)
