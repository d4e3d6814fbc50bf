"""R-15, R-30 … R-36: business validation of the consulted period (stages/dates.py), and its
step of the decision trail (issue #18)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail, Fact, Step, Verdict
from selfemployed_gateway.records import (
    CareerRequest,
    ConsultRequest,
    ContributionsRequest,
    DatePeriod,
    Information,
    Organisation,
    Quarter,
    Reply,
)
from selfemployed_gateway.stages.dates import (
    career_violations,
    contribution_violations,
    earliest_quarter,
    validate_period,
)

TODAY = date(2026, 11, 26)
SSIN = "65031510159"

BEGIN_TOO_EARLY = Information(
    field_name="Invalid Period", field_value="beginDate before 01/07/1956"
)
END_BEFORE_BEGIN = Information(field_name="Invalid Period", field_value="endDate before beginDate")
DATE_IN_FUTURE = Information(
    field_name="Invalid Period", field_value="endDate or beginDate in the future"
)
QUARTER_TOO_OLD = Information(
    field_name="Invalid Quarter Period", field_value="beginQuarter is more than 10 years ago"
)
END_QUARTER_BEFORE_BEGIN = Information(
    field_name="Invalid Quarter Period", field_value="endQuarter before beginQuarter"
)
QUARTER_IN_FUTURE = Information(
    field_name="Invalid Quarter Period", field_value="endQuarter or beginQuarter in the future"
)


def d(text: str) -> date:
    return date.fromisoformat(text)


CUSTOMER = Organisation(cbe_number="0212345668")
LEGAL_CONTEXT = "PCSA:SOCIAL_INQUIRY"


def career(begin: str | None, end: str | None = None) -> CareerRequest:
    period = None if begin is None else DatePeriod(begin=d(begin), end=d(end) if end else None)
    return CareerRequest(customer=CUSTOMER, legal_context=LEGAL_CONTEXT, ssin=SSIN, period=period)


def contributions(begin: str, end: str | None = None) -> ContributionsRequest:
    return ContributionsRequest(
        customer=CUSTOMER,
        legal_context=LEGAL_CONTEXT,
        ssin=SSIN,
        begin_quarter=begin,
        end_quarter=end,
    )


def career_request(begin: str | None, end: str | None = None) -> ConsultRequest:
    return career(begin, end)


def contributions_request(begin: str, end: str | None = None) -> ConsultRequest:
    return contributions(begin, end)


@pytest.mark.parametrize(
    ("begin", "end", "expected"),
    [
        # no period at all, nothing to check
        (None, None, []),
        # R-30 at its boundary
        ("1956-07-01", None, []),
        ("1956-06-30", None, [BEGIN_TOO_EARLY]),
        ("1956-07-01", "1956-07-01", []),
        ("1956-06-30", "1956-07-01", [BEGIN_TOO_EARLY]),
        # R-31 at its boundary
        ("2000-05-10", "2000-05-10", []),
        ("2000-05-10", "2000-05-09", [END_BEFORE_BEGIN]),
        # R-32 at its boundary: today is allowed, tomorrow is not
        ("2000-01-01", "2026-11-26", []),
        ("2000-01-01", "2026-11-27", [DATE_IN_FUTURE]),
        ("2026-11-26", None, []),
        ("2026-11-26", "2026-11-26", []),
        ("2026-11-27", None, [DATE_IN_FUTURE]),
        # both dates in the future: still one information for the rule
        ("2026-11-27", "2026-11-28", [DATE_IN_FUTURE]),
        # several rules at once, in the order
        ("1956-06-30", "1956-06-29", [BEGIN_TOO_EARLY, END_BEFORE_BEGIN]),
        ("1956-06-30", "2026-11-27", [BEGIN_TOO_EARLY, DATE_IN_FUTURE]),
        ("2026-11-28", "2026-11-27", [END_BEFORE_BEGIN, DATE_IN_FUTURE]),
    ],
)
def test_career_rules(begin: str | None, end: str | None, expected: list[Information]) -> None:
    """R-30, R-31, R-32, R-33: one information per violated rule, in rule order."""
    assert career_violations(career(begin, end), TODAY) == expected


@pytest.mark.parametrize(
    ("begin", "end", "expected"),
    [
        # R-34 at its boundary: today 2026-11-26 → earliest 2016Q4
        ("2016Q4", None, []),
        ("2016Q3", None, [QUARTER_TOO_OLD]),
        ("2016Q4", "2016Q4", []),
        ("2016Q3", "2016Q4", [QUARTER_TOO_OLD]),
        # R-35 at its boundary
        ("2020Q2", "2020Q2", []),
        ("2020Q2", "2020Q1", [END_QUARTER_BEFORE_BEGIN]),
        ("2021Q1", "2020Q4", [END_QUARTER_BEFORE_BEGIN]),
        # R-36 at its boundary: the current quarter 2026Q4 is allowed, 2027Q1 is not
        ("2026Q4", None, []),
        ("2026Q4", "2026Q4", []),
        ("2020Q1", "2026Q4", []),
        ("2027Q1", None, [QUARTER_IN_FUTURE]),
        ("2020Q1", "2027Q1", [QUARTER_IN_FUTURE]),
        ("2027Q1", "2027Q2", [QUARTER_IN_FUTURE]),
        # several rules at once, in the order
        ("2016Q3", "2016Q2", [QUARTER_TOO_OLD, END_QUARTER_BEFORE_BEGIN]),
        ("2016Q3", "2027Q1", [QUARTER_TOO_OLD, QUARTER_IN_FUTURE]),
        ("2027Q2", "2027Q1", [END_QUARTER_BEFORE_BEGIN, QUARTER_IN_FUTURE]),
    ],
)
def test_contribution_rules(begin: str, end: str | None, expected: list[Information]) -> None:
    """R-34, R-35, R-36: one information per violated rule, in rule order."""
    assert contribution_violations(contributions(begin, end), TODAY) == expected


@pytest.mark.parametrize(
    ("today", "earliest"),
    [
        (d("2026-11-26"), Quarter(2016, 4)),
        # 29 February of a leap year: ten years earlier has no 29 February
        (d("2028-02-29"), Quarter(2018, 1)),
        (d("2024-02-29"), Quarter(2014, 1)),
        (d("2026-02-28"), Quarter(2016, 1)),
        # first and last day of each quarter
        (d("2026-01-01"), Quarter(2016, 1)),
        (d("2026-03-31"), Quarter(2016, 1)),
        (d("2026-04-01"), Quarter(2016, 2)),
        (d("2026-06-30"), Quarter(2016, 2)),
        (d("2026-07-01"), Quarter(2016, 3)),
        (d("2026-09-30"), Quarter(2016, 3)),
        (d("2026-10-01"), Quarter(2016, 4)),
        (d("2026-12-31"), Quarter(2016, 4)),
    ],
)
def test_earliest_quarter(today: date, earliest: Quarter) -> None:
    """R-34 [decision]: the quarter that contains today − 10 years."""
    assert earliest_quarter(today) == earliest


@pytest.mark.parametrize(
    ("today", "oldest_allowed", "too_old"),
    [
        (d("2026-10-01"), "2016Q4", "2016Q3"),
        (d("2026-09-30"), "2016Q3", "2016Q2"),
        (d("2028-02-29"), "2018Q1", "2017Q4"),
    ],
)
def test_ten_years_follow_the_clock(today: date, oldest_allowed: str, too_old: str) -> None:
    """R-34: the limit moves with today's date, on the first day of a quarter."""
    assert contribution_violations(contributions(oldest_allowed), today) == []
    assert contribution_violations(contributions(too_old), today) == [QUARTER_TOO_OLD]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(today=st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31)))
def test_earliest_quarter_property(today: date) -> None:
    """R-34: same quarter of the year, ten years earlier, whatever the day."""
    assert earliest_quarter(today) == Quarter(today.year - 10, (today.month - 1) // 3 + 1)


def test_valid_requests_pass() -> None:
    """R-15: no violation → no reply, the pipeline goes on."""
    assert validate_period(career_request(None), TODAY) is None
    assert validate_period(career_request("1956-07-01", "2026-11-26"), TODAY) is None
    assert validate_period(contributions_request("2016Q4", "2026Q4"), TODAY) is None
    assert validate_period(contributions_request("2026Q4"), TODAY) is None


def test_career_reply_is_msg00008() -> None:
    """R-15, R-30, R-31: NO_RESULT MSG00008 with one information per violated rule."""
    reply = validate_period(career_request("1956-06-30", "1956-06-29"), TODAY)
    assert reply == Reply(
        status=codes.INVALID_DATA, information=(BEGIN_TOO_EARLY, END_BEFORE_BEGIN)
    )
    assert reply is not None
    assert reply.status.value == "NO_RESULT"
    assert reply.status.code == "MSG00008"
    assert reply.status.description == (
        "The request contains invalid data. Please check your message content."
    )
    assert reply.ssin is None


def test_contributions_reply_is_msg00008() -> None:
    """R-15, R-35, R-36: NO_RESULT MSG00008 with one information per violated rule."""
    reply = validate_period(contributions_request("2027Q2", "2027Q1"), TODAY)
    assert reply == Reply(
        status=codes.INVALID_DATA, information=(END_QUARTER_BEFORE_BEGIN, QUARTER_IN_FUTURE)
    )
    assert reply is not None
    assert (reply.status.value, reply.status.code) == ("NO_RESULT", "MSG00008")
    assert [(i.field_name, i.field_value) for i in reply.information] == [
        ("Invalid Quarter Period", "endQuarter before beginQuarter"),
        ("Invalid Quarter Period", "endQuarter or beginQuarter in the future"),
    ]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    begin=st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
    length=st.one_of(st.none(), st.integers(min_value=-400, max_value=4000)),
)
def test_career_rules_property(begin: date, length: int | None) -> None:
    """R-30, R-31, R-32: each information present exactly when its rule is violated."""
    end = None if length is None else begin + timedelta(days=length)
    criteria = CareerRequest(
        customer=CUSTOMER,
        legal_context=LEGAL_CONTEXT,
        ssin=SSIN,
        period=DatePeriod(begin=begin, end=end),
    )
    expected = []
    if begin < date(1956, 7, 1):
        expected.append(BEGIN_TOO_EARLY)
    if end is not None and end < begin:
        expected.append(END_BEFORE_BEGIN)
    if begin > TODAY or (end is not None and end > TODAY):
        expected.append(DATE_IN_FUTURE)
    assert career_violations(criteria, TODAY) == expected


# --- decision trail (issue #18) ----------------------------------------------------------------


def trail_of(request: ConsultRequest, today: date = TODAY) -> list[Step]:
    trail = DecisionTrail()
    validate_period(request, today, trail=trail)
    return trail.steps


def test_trail_names_every_career_rule_checked_and_the_broken_ones_decide() -> None:
    """R-15: each rule with its values and verdict; the rules of the step are the broken ones."""
    assert trail_of(career_request("1956-06-30", "1956-06-29")) == [
        Step(
            "dates",
            Verdict.ANSWERED,
            ("R-30", "R-31"),
            {
                "R-30": "beginDate 1956-06-30 is before 1956-07-01: broken",
                "R-31": "endDate 1956-06-29 is before beginDate 1956-06-30: broken",
                "R-32": "no date after today 2026-11-26: holds",
            },
            "beginDate 1956-06-30 is before 1956-07-01 (R-30); "
            "endDate 1956-06-29 is before beginDate 1956-06-30 (R-31)",
        )
    ]
    assert trail_of(career_request("2026-11-27", "2026-11-28")) == [
        Step(
            "dates",
            Verdict.ANSWERED,
            ("R-32",),
            {
                "R-30": "beginDate 2026-11-27 is not before 1956-07-01: holds",
                "R-31": "endDate 2026-11-28 is not before beginDate 2026-11-27: holds",
                "R-32": "beginDate 2026-11-27 and endDate 2026-11-28 are after today "
                "2026-11-26: broken",
            },
            "beginDate 2026-11-27 and endDate 2026-11-28 are after today 2026-11-26 (R-32)",
        )
    ]
    (step,) = trail_of(career_request("2026-11-27"))
    assert step.facts["R-31"] == "no endDate: holds"
    assert step.facts["R-32"] == "beginDate 2026-11-27 is after today 2026-11-26: broken"


def test_trail_names_every_contribution_rule_checked() -> None:
    assert trail_of(contributions_request("2027Q2", "2027Q1")) == [
        Step(
            "dates",
            Verdict.ANSWERED,
            ("R-35", "R-36"),
            {
                "R-34": "beginQuarter 2027Q2 is not before 2016Q4 (10 years before today "
                "2026-11-26): holds",
                "R-35": "endQuarter 2027Q1 is before beginQuarter 2027Q2: broken",
                "R-36": "beginQuarter 2027Q2 and endQuarter 2027Q1 are after the current "
                "quarter 2026Q4: broken",
            },
            "endQuarter 2027Q1 is before beginQuarter 2027Q2 (R-35); beginQuarter 2027Q2 and "
            "endQuarter 2027Q1 are after the current quarter 2026Q4 (R-36)",
        )
    ]
    (step,) = trail_of(contributions_request("2016Q3"))
    assert (step.rules, step.because) == (
        ("R-34",),
        "beginQuarter 2016Q3 is before 2016Q4 (10 years before today 2026-11-26) (R-34)",
    )
    assert step.facts["R-35"] == "no endQuarter: holds"
    assert step.facts["R-36"] == "no quarter after the current quarter 2026Q4: holds"


@pytest.mark.parametrize(
    ("request_", "rules", "facts"),
    [
        (career_request(None), ("R-15", "R-33"), {"period": "1956-07-01 …"}),
        (
            career_request("2000-01-01"),
            ("R-15", "R-30", "R-31", "R-32", "R-33"),
            {"period": "2000-01-01 …"},
        ),
        (
            career_request("1956-07-01", "2026-11-26"),
            ("R-15", "R-30", "R-31", "R-32"),
            {"period": "1956-07-01 … 2026-11-26"},
        ),
        (
            contributions_request("2016Q4", "2026Q4"),
            ("R-15", "R-34", "R-35", "R-36"),
            {"quarters": "2016Q4 … 2026Q4"},
        ),
        (
            contributions_request("2026Q4"),
            ("R-15", "R-34", "R-35", "R-36"),
            {"quarters": "2026Q4 …"},
        ),
    ],
)
def test_trail_of_valid_dates(
    request_: ConsultRequest, rules: tuple[str, ...], facts: dict[str, Fact]
) -> None:
    """Passed: the rules checked and the period (R-33: none or an open end)."""
    assert trail_of(request_) == [Step("dates", Verdict.PASSED, rules, facts)]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    begin=st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
    length=st.one_of(st.none(), st.integers(min_value=-400, max_value=4000)),
)
def test_trail_agrees_with_the_reply_property(begin: date, length: int | None) -> None:
    """The trail's broken rules are exactly the reply's information, in the same order."""
    end = None if length is None else begin + timedelta(days=length)
    request_ = CareerRequest(
        customer=CUSTOMER,
        legal_context=LEGAL_CONTEXT,
        ssin=SSIN,
        period=DatePeriod(begin=begin, end=end),
    )
    trail = DecisionTrail()
    reply = validate_period(request_, TODAY, trail=trail)
    (step,) = trail.steps
    rule_of = {BEGIN_TOO_EARLY: "R-30", END_BEFORE_BEGIN: "R-31", DATE_IN_FUTURE: "R-32"}
    if reply is None:
        assert step.verdict is Verdict.PASSED
        return
    assert step.verdict is Verdict.ANSWERED
    assert step.rules == tuple(rule_of[i] for i in reply.information)
    assert all(str(step.facts[rule]).endswith(": broken") for rule in step.rules)
    assert all(
        str(fact).endswith(": holds") for rule, fact in step.facts.items() if rule not in step.rules
    )
