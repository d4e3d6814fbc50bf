"""Records for unit tests: supplier data built in one line."""

from __future__ import annotations

from datetime import date

from selfemployed_gateway.records import CareerSegment, CodedValue, DatePeriod


def segment(begin: str, end: str | None) -> CareerSegment:
    """A career segment of quality 100, contribution 101; `end` None: open."""
    return CareerSegment(
        period=DatePeriod(
            begin=date.fromisoformat(begin), end=date.fromisoformat(end) if end else None
        ),
        quality=CodedValue(code="100"),
        contribution=CodedValue(code="101"),
    )
