"""R-20, R-21, R-40 … R-46: is this person known to this client, and to INASTI.

The client's check (R-20, R-40 … R-46) works on the *checked period*: the consulted days with
an open end read as today (no period = 1956-07-01 … today). INASTI's check (R-21) works on the
consulted period as it is: an open end stays open, since an open consultation also returns
segments that start in the future (R-33).
"""

from __future__ import annotations

from datetime import date

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import ClientEntry, PeriodCheck
from selfemployed_gateway.records import DatePeriod, Reply, information
from selfemployed_gateway.registry import IntegrationPeriod, PersonRepertory

# INASTI knows a self-employed person under these quality codes.
SUPPLIER_QUALITY_CODES = frozenset({2, 102})


def contains(outer: DatePeriod, inner: DatePeriod) -> bool:
    """`inner` lies entirely inside `outer` (open ends are unbounded)."""
    if inner.begin < outer.begin:
        return False
    if outer.end is None:
        return True
    return inner.end is not None and inner.end <= outer.end


def client_may_know(
    client: ClientEntry, periods: list[IntegrationPeriod], checked: DatePeriod, today: date
) -> bool:
    """R-40 … R-45 for the integration periods of one person."""
    rule = client.integration
    if not rule.required:
        return True
    widened = [
        p.widened(rule.extension_days_before, rule.extension_days_after)
        for p in periods
        if p.quality_code == rule.quality_code
    ]
    if rule.period_check is PeriodCheck.IGNORE:
        return bool(widened)
    if rule.period_check is PeriodCheck.CURRENT_DATE:
        today_only = DatePeriod(begin=today, end=today)
        return any(contains(period, today_only) for period in widened)
    return any(contains(period, checked) for period in widened)


async def check_client_integration(
    client: ClientEntry,
    ssin: str,
    checked: DatePeriod,
    today: date,
    repertory: PersonRepertory,
) -> Reply | None:
    """R-20: NO_RESULT MSG00012 when the client may not know this person for this period.

    R-46: for a CPAS, the sector repertory is the one of the CPAS identified by its CBE
    number, which is how the client's own integrations are filed here.
    """
    if not client.integration.required:
        return None
    periods = await repertory.client_integrations(ssin, client.id)
    if client_may_know(client, periods, checked, today):
        return None
    return Reply(
        status=codes.NOT_INTEGRATED_FOR_CLIENT,
        information=(
            information(codes.DETAILS, codes.NOT_INTEGRATED_DETAILS),
            information("ssin", ssin),
            information("cbeNumber", client.organisation.cbe_number),
        ),
    )


async def check_supplier_integration(
    ssin: str, consulted: DatePeriod, repertory: PersonRepertory
) -> Reply | None:
    """R-21: INASTI (15/0) knows the NISS under quality 2 or 102 for ≥ 1 day of the consulted
    period (open end: unbounded)."""
    for integration in await repertory.supplier_integrations(ssin):
        if integration.quality_code in SUPPLIER_QUALITY_CODES and integration.period.overlaps(
            consulted
        ):
            return None
    return Reply(status=codes.NOT_INTEGRATED_AT_SUPPLIER)
