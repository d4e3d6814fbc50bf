"""The L302 messages (suppliers/l302/protocol.py): dates written as a month or a day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfemployed_gateway.records import (
    DatePeriod,
)
from selfemployed_gateway.suppliers.l302.protocol import (
    parse_begin,
    parse_end,
)
from tests.support.aio import run
from tests.support.l302 import (
    MULTI,
    YEAR_2000,
    SupplierFactory,
    attestation,
    career_of,
    line,
    only_segment,
)
from tests.support.mock_supplier import fixed


@pytest.mark.parametrize(
    ("begin", "end", "period"),
    [
        ("1990-01", "1999-12", DatePeriod(begin=date(1990, 1, 1), end=date(1999, 12, 31))),
        ("2004-02", "2004-02", DatePeriod(begin=date(2004, 2, 1), end=date(2004, 2, 29))),
        ("2023-02", "2023-02", DatePeriod(begin=date(2023, 2, 1), end=date(2023, 2, 28))),
        ("2000-04", "2000-04-10", DatePeriod(begin=date(2000, 4, 1), end=date(2000, 4, 10))),
        ("2000-04-10", "2000-09", DatePeriod(begin=date(2000, 4, 10), end=date(2000, 9, 30))),
        ("2000-07", None, DatePeriod(begin=date(2000, 7, 1))),
    ],
)
def test_month_granularity(
    supplier_with: SupplierFactory, begin: str, end: str | None, period: DatePeriod
) -> None:
    body = attestation(line(begin=begin, end=end))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    assert segment.period == period


@given(st.integers(min_value=1, max_value=9998), st.integers(min_value=1, max_value=12))
def test_an_end_month_is_its_last_day(year: int, month: int) -> None:
    text = f"{year:04d}-{month:02d}"
    assert parse_begin(text) == date(year, month, 1)
    following = parse_end(text) + timedelta(days=1)
    assert following.day == 1 and following.month == month % 12 + 1
