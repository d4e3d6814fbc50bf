"""R-15, R-30 … R-36: business validation of the consulted period (stages/dates.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfemployed_gateway import codes
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
