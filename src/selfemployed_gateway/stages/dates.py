"""R-15, R-30 … R-37: business validation of the consulted period.

Every violated rule is reported, one `information` per rule, in one NO_RESULT MSG00008.
"Today" and "the current quarter" come from the gateway's clock (Brussels dates).
"""

from __future__ import annotations

from datetime import date

from selfemployed_gateway import codes
from selfemployed_gateway.records import (
    CareerRequest,
    ConsultRequest,
    ContributionsRequest,
    Information,
    Quarter,
    Reply,
    information,
)

# the social status of the self-employed starts on 1 July 1956.
EARLIEST_BEGIN = date(1956, 7, 1)
# contributions can be consulted for 10 years back.
CONTRIBUTION_YEARS = 10

BEGIN_TOO_EARLY = "beginDate before 01/07/1956"
END_BEFORE_BEGIN = "endDate before beginDate"
DATE_IN_FUTURE = "endDate or beginDate in the future"
QUARTER_TOO_OLD = "beginQuarter is more than 10 years ago"
END_QUARTER_BEFORE_BEGIN = "endQuarter before beginQuarter"
QUARTER_IN_FUTURE = "endQuarter or beginQuarter in the future"


def validate_period(request: ConsultRequest, today: date) -> Reply | None:
    """MSG00008 with every violated rule, or None when the period is acceptable."""
    if isinstance(request, CareerRequest):
        violations = career_violations(request, today)
    else:
        violations = contribution_violations(request, today)
    if not violations:
        return None
    return Reply(status=codes.INVALID_DATA, information=tuple(violations))


def career_violations(criteria: CareerRequest, today: date) -> list[Information]:
    period = criteria.period
    if period is None:  # the whole career, nothing to check
        return []
    found: list[Information] = []
    if period.begin < EARLIEST_BEGIN:
        found.append(information(codes.INVALID_PERIOD, BEGIN_TOO_EARLY))
    if period.end is not None and period.end < period.begin:
        found.append(information(codes.INVALID_PERIOD, END_BEFORE_BEGIN))
    if period.begin > today or (period.end is not None and period.end > today):
        found.append(information(codes.INVALID_PERIOD, DATE_IN_FUTURE))
    return found


def earliest_quarter(today: date) -> Quarter:
    """R-34 [decision]: the quarter that contains today − 10 years (29 Feb → 28 Feb)."""
    year = today.year - CONTRIBUTION_YEARS
    day = min(today.day, 28) if today.month == 2 else today.day
    return Quarter.containing(date(year, today.month, day))


def contribution_violations(criteria: ContributionsRequest, today: date) -> list[Information]:
    begin = Quarter.parse(criteria.begin_quarter)
    end = Quarter.parse(criteria.end_quarter) if criteria.end_quarter else None
    current = Quarter.containing(today)
    found: list[Information] = []
    if begin < earliest_quarter(today):
        found.append(information(codes.INVALID_QUARTER_PERIOD, QUARTER_TOO_OLD))
    if end is not None and end < begin:
        found.append(information(codes.INVALID_QUARTER_PERIOD, END_QUARTER_BEFORE_BEGIN))
    if begin > current or (end is not None and end > current):
        found.append(information(codes.INVALID_QUARTER_PERIOD, QUARTER_IN_FUTURE))
    return found
