"""R-24, R-50, R-51, R-55: what the client receives (stages/filtering.py, conversion.py), and
the filtering step of the decision trail (issue #18)."""

from __future__ import annotations

from datetime import date

import pytest

from selfemployed_gateway.decisions import DecisionTrail, Step, Verdict
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CodedValue,
    ContributionPayment,
    DatePeriod,
    Fund,
)
from selfemployed_gateway.stages.filtering import (
    apply_filters,
    data_filters,
    filter_career,
    keep_consulted_quarters,
    keep_overlapping,
)
from tests.support.records import segment

CAREER = Career(
    nisse_reference="RGTI1",
    occupation=CodedValue(code="620100"),
    affiliations=(
        Affiliation(
            fund=Fund(code="010"),
            signature_date=date(1989, 12, 15),
            segments=(segment("1990-01-01", "1999-12-31"), segment("2000-01-01", "2000-06-30")),
        ),
        Affiliation(fund=Fund(code="002"), segments=(segment("2000-07-01", None),)),
    ),
)


def period(begin: str, end: str | None = None) -> DatePeriod:
    return DatePeriod(begin=date.fromisoformat(begin), end=date.fromisoformat(end) if end else None)


def kept(career: Career | None) -> list[list[str]]:
    if career is None:
        return []
    return [[str(s.period.begin) for s in a.segments] for a in career.affiliations]


@pytest.mark.parametrize(
    ("consulted", "expected"),
    [
        # the day after a segment ends: it is not returned; the day it ends: it is
        (period("2000-01-01", "2000-01-01"), [["2000-01-01"]]),
        (period("1999-12-31", "1999-12-31"), [["1990-01-01"]]),
        (period("1999-12-31", "2000-01-01"), [["1990-01-01", "2000-01-01"]]),
        # the day before an open segment begins, then the day it begins
        (period("2000-06-30", "2000-06-30"), [["2000-01-01"]]),
        (period("2000-07-01", "2000-07-01"), [["2000-07-01"]]),
        # open consulted period: everything from its begin, future segments too
        (period("2000-06-30"), [["2000-01-01"], ["2000-07-01"]]),
        (period("1956-07-01", "1989-12-31"), []),
    ],
)
def test_only_overlapping_segments_are_kept(
    consulted: DatePeriod, expected: list[list[str]]
) -> None:
    """R-55: at least one day of overlap; affiliations left without segments are dropped."""
    assert kept(keep_overlapping(CAREER, consulted)) == expected


def test_filters_remove_occupation_and_signature_date() -> None:
    """R-50."""
    both = apply_filters(CAREER, ["occupation", "signatureDate"])
    assert both.occupation is None
    assert [a.signature_date for a in both.affiliations] == [None, None]
    only_signature = apply_filters(CAREER, ["signatureDate"])
    assert only_signature.occupation == CodedValue(code="620100")
    assert apply_filters(CAREER, []) == CAREER


@pytest.mark.parametrize(
    ("filters", "listed"),
    [
        ([], None),
        (["signatureDate"], ("signatureDate",)),
        (["signatureDate", "occupation"], ("occupation", "signatureDate")),
    ],
)
def test_data_filters_lists_every_filter_of_the_client(
    filters: list[str], listed: tuple[str, ...] | None
) -> None:
    """R-51: listed whether or not the element was present."""
    assert data_filters(filters) == listed


def test_only_payments_of_the_consulted_quarters_are_kept() -> None:
    """§6: quarters compared as quarters (2024Q4 < 2025Q1), both ends included."""
    payments = tuple(
        ContributionPayment(quarter=q, fund=Fund(code="010"), situation=CodedValue(code="01"))
        for q in ("2024Q3", "2024Q4", "2025Q1", "2025Q2")
    )
    kept = keep_consulted_quarters(payments, "2024Q4", "2025Q1")
    assert [p.quarter for p in kept] == ["2024Q4", "2025Q1"]
    assert [p.quarter for p in keep_consulted_quarters(payments, "2025Q1", None)] == [
        "2025Q1",
        "2025Q2",
    ]


# --- decision trail (issue #18) ----------------------------------------------------------------


def test_trail_of_a_filtered_career() -> None:
    """R-55 then R-24, R-50: segments received, kept, dropped; the filters applied."""
    trail = DecisionTrail()
    filtered = filter_career(
        CAREER, period("2000-01-01", "2000-06-30"), ["signatureDate"], trail=trail
    )
    assert kept(filtered) == [["2000-01-01"]]
    assert filtered is not None and filtered.affiliations[0].signature_date is None
    assert trail.steps == [
        Step(
            "filtering",
            Verdict.PASSED,
            ("R-55", "R-24", "R-50"),
            {
                "received": 3,
                "kept": 1,
                "dropped": 2,
                "consulted": "2000-01-01 … 2000-06-30",
                "filters": ["signatureDate"],
            },
        )
    ]


def test_filter_career_is_keep_overlapping_then_apply_filters() -> None:
    for consulted in (
        period("1956-07-01"),
        period("1999-12-31", "2000-01-01"),
        period("2030-01-01"),
    ):
        overlapping = keep_overlapping(CAREER, consulted)
        expected = None if overlapping is None else apply_filters(overlapping, ["occupation"])
        assert filter_career(CAREER, consulted, ["occupation"]) == expected


def test_trail_of_a_career_that_lies_outside_the_consulted_period() -> None:
    """R-55 decides MSG00100 "No data for requested period", and says where the segments are."""
    closed = CAREER.model_copy(update={"affiliations": CAREER.affiliations[:1]})
    trail = DecisionTrail()
    assert filter_career(closed, period("2010-01-01"), [], trail=trail) is None
    assert trail.steps == [
        Step(
            "filtering",
            Verdict.ANSWERED,
            ("R-55",),
            {
                "received": 2,
                "kept": 0,
                "dropped": 2,
                "consulted": "2010-01-01 …",
                "status": "MSG00100",
                "reason": "No data for requested period",
            },
            "INASTI's 2 segments all lie outside the consulted period; they span "
            "1990-01-01 … 2000-06-30",
        )
    ]
    before, single = DecisionTrail(), DecisionTrail()
    filter_career(CAREER, period("1956-07-01", "1989-12-31"), [], trail=before)
    only = CAREER.model_copy(update={"affiliations": CAREER.affiliations[1:]})
    filter_career(only, period("1956-07-01", "1989-12-31"), [], trail=single)
    assert [step.because for step in before.steps + single.steps] == [
        "INASTI's 3 segments all lie outside the consulted period; they span 1990-01-01 …",
        "INASTI's only segment lies outside the consulted period; it spans 2000-07-01 …",
    ]
    empty = DecisionTrail()
    filter_career(
        CAREER.model_copy(update={"affiliations": ()}), period("2010-01-01"), [], trail=empty
    )
    assert [step.because for step in empty.steps] == ["INASTI's answer holds no segment"]


PAYMENTS = tuple(
    ContributionPayment(quarter=q, fund=Fund(code="010"), situation=CodedValue(code="01"))
    for q in ("2024Q3", "2024Q4", "2024Q4", "2025Q1", "2025Q2")
)


def test_trail_of_the_consulted_quarters() -> None:
    """§6: the payments received, kept and dropped, and their quarters."""
    trail = DecisionTrail()
    keep_consulted_quarters(PAYMENTS, "2024Q4", "2025Q1", trail=trail)
    assert trail.steps == [
        Step(
            "filtering",
            Verdict.PASSED,
            ("R-24",),
            {
                "received": 5,
                "kept": 3,
                "dropped": 2,
                "consulted": "2024Q4 … 2025Q1",
                "quarters_kept": ["2024Q4", "2025Q1"],
                "quarters_dropped": ["2024Q3", "2025Q2"],
            },
        )
    ]


def test_trail_of_payments_all_outside_the_consulted_quarters() -> None:
    """Nothing left: the filtering step answers MSG00100 for the period."""
    trail = DecisionTrail()
    assert keep_consulted_quarters(PAYMENTS, "2026Q1", None, trail=trail) == ()
    assert trail.steps == [
        Step(
            "filtering",
            Verdict.ANSWERED,
            ("R-24",),
            {
                "received": 5,
                "kept": 0,
                "dropped": 5,
                "consulted": "2026Q1 …",
                "quarters_kept": [],
                "quarters_dropped": ["2024Q3", "2024Q4", "2025Q1", "2025Q2"],
                "status": "MSG00100",
                "reason": "No data for requested period",
            },
            "INASTI's 5 payments all lie outside the consulted quarters; they are of 2024Q3, "
            "2024Q4, 2025Q1, 2025Q2",
        )
    ]
    one = DecisionTrail()
    keep_consulted_quarters(PAYMENTS[:1], "2025Q1", "2025Q1", trail=one)
    none = DecisionTrail()
    keep_consulted_quarters((), "2025Q1", "2025Q1", trail=none)
    assert [step.because for step in one.steps + none.steps] == [
        "INASTI's only payment lies outside the consulted quarters; it is of 2024Q3",
        "INASTI's answer holds no payment",
    ]
