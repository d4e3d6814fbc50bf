"""R-24, R-50, R-51, R-55: what of INASTI's data the client receives.

Only segments overlapping the consulted period by at least one day are kept (R-55; INASTI is
expected to do it, the gateway enforces it); affiliations left without segments are dropped.
Likewise only payments whose quarter lies inside the consulted quarters (§6; open end: up to
the last known quarter) — INASTI's answers are never trusted (R-66).
Per-client filters remove `occupation` and/or `signatureDate` (R-50); the reply's
`dataFilters` lists every filtered element of the client, present or not (R-51).
"""

from __future__ import annotations

from collections.abc import Sequence

from selfemployed_gateway.records import (
    Affiliation,
    Career,
    ContributionPayment,
    DatePeriod,
    Quarter,
)

OCCUPATION = "occupation"
SIGNATURE_DATE = "signatureDate"
FILTERABLE_ELEMENTS = (OCCUPATION, SIGNATURE_DATE)


def keep_overlapping(career: Career, period: DatePeriod) -> Career | None:
    """R-55: the career restricted to `period`; None when nothing overlaps."""
    affiliations: list[Affiliation] = []
    for affiliation in career.affiliations:
        segments = tuple(s for s in affiliation.segments if s.period.overlaps(period))
        if segments:
            affiliations.append(affiliation.model_copy(update={"segments": segments}))
    if not affiliations:
        return None
    return career.model_copy(update={"affiliations": tuple(affiliations)})


def keep_consulted_quarters(
    payments: Sequence[ContributionPayment], begin: str, end: str | None
) -> tuple[ContributionPayment, ...]:
    """§6: the payments of the quarters `begin` … `end` (None: no upper bound)."""
    first = Quarter.parse(begin)
    last = None if end is None else Quarter.parse(end)
    return tuple(
        payment
        for payment in payments
        if first <= Quarter.parse(payment.quarter)
        and (last is None or Quarter.parse(payment.quarter) <= last)
    )


def apply_filters(career: Career, filters: Sequence[str]) -> Career:
    """R-50: remove the elements the client may not receive."""
    if SIGNATURE_DATE in filters:
        career = career.model_copy(
            update={
                "affiliations": tuple(
                    a.model_copy(update={"signature_date": None}) for a in career.affiliations
                )
            }
        )
    if OCCUPATION in filters:
        career = career.model_copy(update={"occupation": None})
    return career


def data_filters(filters: Sequence[str]) -> tuple[str, ...] | None:
    """R-51: every filtered element of the client, in contract order; None without filters."""
    listed = tuple(name for name in FILTERABLE_ELEMENTS if name in filters)
    return listed or None
