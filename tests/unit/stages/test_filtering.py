"""R-24, R-50, R-51, R-55: what the client receives (stages/filtering.py, conversion.py)."""

from __future__ import annotations

from datetime import date

import pytest

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
