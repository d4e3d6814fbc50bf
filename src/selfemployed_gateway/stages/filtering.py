"""R-24, R-50, R-51, R-55: what of INASTI's data the client receives.

Only segments overlapping the consulted period by at least one day are kept (R-55; INASTI is
expected to do it, the gateway enforces it); affiliations left without segments are dropped.
Likewise only payments whose quarter lies inside the consulted quarters (§6; open end: up to
the last known quarter) — INASTI's answers are never trusted (R-66).
Per-client filters remove `occupation` and/or `signatureDate` (R-50); the reply's
`dataFilters` lists every filtered element of the client, present or not (R-51).

The decision trail's step ("filtering", issue #18) counts what was received, kept and
dropped; when nothing is left, it is the step that answers MSG00100 "No data for requested
period".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail, Fact, period_text
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    ContributionPayment,
    DatePeriod,
    Quarter,
)

STAGE = "filtering"

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


def filter_career(
    career: Career,
    period: DatePeriod,
    filters: Sequence[str],
    *,
    trail: DecisionTrail | None = None,
) -> Career | None:
    """R-55, then R-24 and R-50: what of INASTI's career the client receives; None when no
    segment overlaps the consulted period (the reply is then MSG00100, for the period)."""
    kept = keep_overlapping(career, period)
    if trail is not None:
        received = _segments(career)
        left = _segments(kept) if kept is not None else 0
        consulted = period_text(period.begin, period.end)
        if kept is None:
            trail.answered(
                STAGE,
                "R-55",
                because=_all_outside(career, received),
                received=received,
                kept=0,
                dropped=received,
                consulted=consulted,
                status=codes.NO_DATA_FOUND.code,
                reason=codes.REASON_NO_DATA_FOR_PERIOD,
            )
        else:
            trail.passed(
                STAGE,
                "R-55",
                "R-24",
                "R-50",
                received=received,
                kept=left,
                dropped=received - left,
                consulted=consulted,
                filters=list(data_filters(filters) or ()),
            )
    if kept is None:
        return None
    return apply_filters(kept, filters)


def _segments(career: Career) -> int:
    return sum(len(affiliation.segments) for affiliation in career.affiliations)


def _all_outside(career: Career, received: int) -> str:
    """Why nothing is left of a career (R-55), and where its segments lie instead."""
    if received == 0:
        return "INASTI's answer holds no segment"
    periods = [s.period for a in career.affiliations for s in a.segments]
    ends = [p.end for p in periods]
    last = None if None in ends else max(end for end in ends if end is not None)
    span = period_text(min(p.begin for p in periods), last)
    if received == 1:
        return f"INASTI's only segment lies outside the consulted period; it spans {span}"
    return f"INASTI's {received} segments all lie outside the consulted period; they span {span}"


def keep_consulted_quarters(
    payments: Sequence[ContributionPayment],
    begin: str,
    end: str | None,
    *,
    trail: DecisionTrail | None = None,
) -> tuple[ContributionPayment, ...]:
    """§6: the payments of the quarters `begin` … `end` (None: no upper bound)."""
    first = Quarter.parse(begin)
    last = None if end is None else Quarter.parse(end)

    def consulted(payment: ContributionPayment) -> bool:
        quarter = Quarter.parse(payment.quarter)
        return first <= quarter and (last is None or quarter <= last)

    kept = tuple(payment for payment in payments if consulted(payment))
    if trail is not None:
        dropped = [payment for payment in payments if not consulted(payment)]
        _record_quarters(payments, kept, dropped, f"{begin} … {end or ''}".rstrip(), trail)
    return kept


def _record_quarters(
    payments: Sequence[ContributionPayment],
    kept: tuple[ContributionPayment, ...],
    dropped: list[ContributionPayment],
    consulted: str,
    trail: DecisionTrail,
) -> None:
    kept_quarters = _quarters(kept)
    dropped_quarters = _quarters(dropped)
    facts: dict[str, Fact] = {
        "received": len(payments),
        "kept": len(kept),
        "dropped": len(payments) - len(kept),
        "consulted": consulted,
        "quarters_kept": kept_quarters,
        "quarters_dropped": dropped_quarters,
    }
    if kept:
        trail.passed(STAGE, "R-24", **facts)
        return
    if not payments:
        because = "INASTI's answer holds no payment"
    elif len(payments) == 1:
        because = "INASTI's only payment lies outside the consulted quarters; it is of " + (
            ", ".join(dropped_quarters)
        )
    else:
        because = (
            f"INASTI's {len(payments)} payments all lie outside the consulted quarters; "
            f"they are of {', '.join(dropped_quarters)}"
        )
    trail.answered(
        STAGE,
        "R-24",
        because=because,
        **facts,
        status=codes.NO_DATA_FOUND.code,
        reason=codes.REASON_NO_DATA_FOR_PERIOD,
    )


def _quarters(payments: Iterable[ContributionPayment]) -> list[str]:
    """The distinct quarters of these payments, in their order."""
    return list(dict.fromkeys(payment.quarter for payment in payments))


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
