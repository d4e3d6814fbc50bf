"""R-15, R-30 … R-37: business validation of the consulted period.

Every violated rule is reported, one `information` per rule, in one NO_RESULT MSG00008.
"Today" and "the current quarter" come from the gateway's clock (Brussels dates).

The decision trail ("dates", issue #18) names every rule checked with the values compared
and its verdict, holding or broken: the broken ones decide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail, Fact, period_text
from selfemployed_gateway.records import (
    CareerRequest,
    ConsultRequest,
    ContributionsRequest,
    Information,
    Quarter,
    Reply,
    information,
)

STAGE = "dates"

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


@dataclass(frozen=True)
class Check:
    """One rule checked: whether it is broken, and what was compared (`text`, written only
    when the trail needs it: an exchange whose dates hold records none)."""

    rule: str
    broken: bool
    describe: Callable[[], str]
    #: The `information` of MSG00008 when broken: fieldName, fieldValue.
    violation: tuple[str, str]

    @property
    def text(self) -> str:
        return self.describe()

    @property
    def verdict(self) -> str:
        return f"{self.text}: {'broken' if self.broken else 'holds'}"


def validate_period(
    request: ConsultRequest, today: date, *, trail: DecisionTrail | None = None
) -> Reply | None:
    """MSG00008 with every violated rule, or None when the period is acceptable."""
    if isinstance(request, CareerRequest):
        checks = career_checks(request, today)
    else:
        checks = contribution_checks(request, today)
    violations = [information(*check.violation) for check in checks if check.broken]
    if trail is not None:
        _record(request, checks, trail)
    if not violations:
        return None
    return Reply(status=codes.INVALID_DATA, information=tuple(violations))


def _record(request: ConsultRequest, checks: list[Check], trail: DecisionTrail) -> None:
    broken = [check for check in checks if check.broken]
    if broken:
        facts: dict[str, Fact] = {check.rule: check.verdict for check in checks}
        trail.answered(
            STAGE,
            *(check.rule for check in broken),
            because="; ".join(f"{check.text} ({check.rule})" for check in broken),
            **facts,
        )
        return
    rules = ["R-15", *(check.rule for check in checks)]
    if isinstance(request, CareerRequest):
        period = request.period
        if period is None or period.end is None:
            rules.append("R-33")  # the whole career, or an open end
        begin = period.begin if period is not None else EARLIEST_BEGIN
        trail.passed(STAGE, *rules, period=period_text(begin, period.end if period else None))
    else:
        quarters = f"{request.begin_quarter} … {request.end_quarter or ''}".rstrip()
        trail.passed(STAGE, *rules, quarters=quarters)


def career_violations(criteria: CareerRequest, today: date) -> list[Information]:
    return [information(*c.violation) for c in career_checks(criteria, today) if c.broken]


def career_checks(criteria: CareerRequest, today: date) -> list[Check]:
    """R-30 … R-32, holding or broken; none without a period (R-33: the whole career)."""
    period = criteria.period
    if period is None:  # the whole career, nothing to check
        return []
    begin, end = period.begin, period.end
    checks = [
        Check(
            "R-30",
            begin < EARLIEST_BEGIN,
            lambda: (
                f"beginDate {begin} is {'' if begin < EARLIEST_BEGIN else 'not '}before "
                f"{EARLIEST_BEGIN}"
            ),
            (codes.INVALID_PERIOD, BEGIN_TOO_EARLY),
        ),
        Check(
            "R-31",
            end is not None and end < begin,
            lambda: (
                "no endDate"
                if end is None
                else f"endDate {end} is {'' if end < begin else 'not '}before beginDate {begin}"
            ),
            (codes.INVALID_PERIOD, END_BEFORE_BEGIN),
        ),
    ]
    future = [f"beginDate {begin}"] if begin > today else []
    if end is not None and end > today:
        future.append(f"endDate {end}")
    checks.append(
        Check(
            "R-32",
            bool(future),
            lambda: (
                f"{' and '.join(future)} {'is' if len(future) == 1 else 'are'} after today {today}"
                if future
                else f"no date after today {today}"
            ),
            (codes.INVALID_PERIOD, DATE_IN_FUTURE),
        )
    )
    return checks


def earliest_quarter(today: date) -> Quarter:
    """R-34 [decision]: the quarter that contains today − 10 years (29 Feb → 28 Feb)."""
    year = today.year - CONTRIBUTION_YEARS
    day = min(today.day, 28) if today.month == 2 else today.day
    return Quarter.containing(date(year, today.month, day))


def contribution_violations(criteria: ContributionsRequest, today: date) -> list[Information]:
    return [information(*c.violation) for c in contribution_checks(criteria, today) if c.broken]


def contribution_checks(criteria: ContributionsRequest, today: date) -> list[Check]:
    """R-34 … R-36, holding or broken."""
    begin = Quarter.parse(criteria.begin_quarter)
    end = Quarter.parse(criteria.end_quarter) if criteria.end_quarter else None
    current = Quarter.containing(today)
    earliest = earliest_quarter(today)
    future = [f"beginQuarter {begin}"] if begin > current else []
    if end is not None and end > current:
        future.append(f"endQuarter {end}")
    return [
        Check(
            "R-34",
            begin < earliest,
            lambda: (
                f"beginQuarter {begin} is {'' if begin < earliest else 'not '}before "
                f"{earliest} (10 years before today {today})"
            ),
            (codes.INVALID_QUARTER_PERIOD, QUARTER_TOO_OLD),
        ),
        Check(
            "R-35",
            end is not None and end < begin,
            lambda: (
                "no endQuarter"
                if end is None
                else f"endQuarter {end} is {'' if end < begin else 'not '}before "
                f"beginQuarter {begin}"
            ),
            (codes.INVALID_QUARTER_PERIOD, END_QUARTER_BEFORE_BEGIN),
        ),
        Check(
            "R-36",
            bool(future),
            lambda: (
                f"{' and '.join(future)} {'is' if len(future) == 1 else 'are'} after the "
                f"current quarter {current}"
                if future
                else f"no quarter after the current quarter {current}"
            ),
            (codes.INVALID_QUARTER_PERIOD, QUARTER_IN_FUTURE),
        ),
    ]
