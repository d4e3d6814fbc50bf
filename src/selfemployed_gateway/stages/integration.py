"""R-20, R-21, R-40 … R-46: is this person known to this client, and to INASTI.

The client's check (R-20, R-40 … R-46) works on the *checked period*: the consulted days with
an open end read as today (no period = 1956-07-01 … today). INASTI's check (R-21) works on the
consulted period as it is: an open end stays open, since an open consultation also returns
segments that start in the future (R-33).

Each check records its step in the decision trail ("integration", issue #18): the period that
satisfied it, or the periods it had, what they were compared with and how near they came.
"""

from __future__ import annotations

from datetime import date

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import ClientEntry, IntegrationRule, PeriodCheck
from selfemployed_gateway.decisions import DecisionTrail, Fact, period_text
from selfemployed_gateway.records import DatePeriod, Reply, information
from selfemployed_gateway.registry import IntegrationPeriod, PersonRepertory

STAGE = "integration"

# INASTI knows a self-employed person under these quality codes.
SUPPLIER_QUALITY_CODES = frozenset({2, 102})

# The rule of each period check mode (R-42 … R-44); none configured reads as FullyIncluded.
_MODE_RULES = {
    PeriodCheck.IGNORE: "R-42",
    PeriodCheck.CURRENT_DATE: "R-43",
    PeriodCheck.FULLY_INCLUDED: "R-44",
}


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
    return _satisfying(rule, _widened(rule, periods), checked, today) is not None


def _widened(rule: IntegrationRule, periods: list[IntegrationPeriod]) -> list[DatePeriod]:
    return [
        p.widened(rule.extension_days_before, rule.extension_days_after)
        for p in periods
        if p.quality_code == rule.quality_code
    ]


def _mode(rule: IntegrationRule) -> PeriodCheck:
    return rule.period_check or PeriodCheck.FULLY_INCLUDED


def _satisfying(
    rule: IntegrationRule, widened: list[DatePeriod], checked: DatePeriod, today: date
) -> DatePeriod | None:
    """The first widened integration period that lets the client know the person, if any."""
    mode = _mode(rule)
    if mode is PeriodCheck.IGNORE:
        return widened[0] if widened else None
    # today must be inside; R-44: the whole checked period.
    inner = DatePeriod(begin=today, end=today) if mode is PeriodCheck.CURRENT_DATE else checked
    return next((period for period in widened if contains(period, inner)), None)


async def check_client_integration(
    client: ClientEntry,
    ssin: str,
    checked: DatePeriod,
    today: date,
    repertory: PersonRepertory,
    *,
    trail: DecisionTrail | None = None,
) -> Reply | None:
    """R-20: NO_RESULT MSG00012 when the client may not know this person for this period.

    R-46: for a CPAS, the sector repertory is the one of the CPAS identified by its CBE
    number, which is how the client's own integrations are filed here.
    """
    rule = client.integration
    if not rule.required:
        if trail is not None:
            trail.passed(STAGE, "R-20", "R-40", integration="integration not required (R-40)")
        return None
    periods = await repertory.client_integrations(ssin, client.id)
    widened = _widened(rule, periods)
    found = _satisfying(rule, widened, checked, today)
    if found is not None:
        if trail is not None:
            rules = ["R-20", "R-40", "R-41", _MODE_RULES[_mode(rule)]]
            trail.passed(
                STAGE,
                *_with_extension_and_cpas(client, rules),
                mode=_mode(rule).value,
                period=period_text(found.begin, found.end),
            )
        return None
    if trail is not None:
        _not_integrated(client, periods, widened, checked, today, trail)
    return Reply(
        status=codes.NOT_INTEGRATED_FOR_CLIENT,
        information=(
            information(codes.DETAILS, codes.NOT_INTEGRATED_DETAILS),
            information("ssin", ssin),
            information("cbeNumber", client.organisation.cbe_number),
        ),
    )


def _with_extension_and_cpas(client: ClientEntry, rules: list[str]) -> list[str]:
    rule = client.integration
    if rule.extension_days_before or rule.extension_days_after:
        rules.append("R-45")
    if client.kind == "CPAS":
        rules.append("R-46")
    return rules


def _not_integrated(
    client: ClientEntry,
    periods: list[IntegrationPeriod],
    widened: list[DatePeriod],
    checked: DatePeriod,
    today: date,
    trail: DecisionTrail,
) -> None:
    """The facts of MSG00012 and what would have changed it."""
    rule = client.integration
    mode = _mode(rule)
    others = [p for p in periods if p.quality_code != rule.quality_code]
    facts: dict[str, Fact] = {
        "client": client.id,
        "mode": mode.value,
        "required": True,
        "quality_code": rule.quality_code,
        "extension_days_before": rule.extension_days_before,
        "extension_days_after": rule.extension_days_after,
        "periods_after_extension": [period_text(p.begin, p.end) for p in widened],
        "other_quality_codes": [
            f"quality {p.quality_code}: {period_text(p.period.begin, p.period.end)}" for p in others
        ],
    }
    if mode is PeriodCheck.CURRENT_DATE:
        facts["today"] = today.isoformat()
    elif mode is PeriodCheck.FULLY_INCLUDED:
        facts["checked"] = period_text(checked.begin, checked.end)
    if client.kind == "CPAS":
        facts["cbe_number"] = client.organisation.cbe_number
    if not widened:
        because = (
            f"no integration of {client.id} for this person under quality code {rule.quality_code}"
        )
        if others:
            because += f" ({len(others)} under other quality codes, which do not count)"
        trail.answered(
            STAGE, *_with_extension_and_cpas(client, ["R-20", "R-41"]), because=because, **facts
        )
        return
    the = "the closest integration" if len(widened) > 1 else "the integration"
    extended = (
        " (after extension)" if rule.extension_days_before or rule.extension_days_after else ""
    )
    if mode is PeriodCheck.CURRENT_DATE:
        closest = min(widened, key=lambda period: _days_from(period, today))
        side = (
            f"begins {closest.begin}"
            if closest.begin > today
            else f"ends {closest.end}"  # an open period that begins by today covers it
        )
        because = (
            f"today {today} is outside every integration period of {client.id} for this "
            f"person{extended}; {the} {side}"
        )
    else:
        closest = min(widened, key=lambda period: _days_missing(period, checked))
        missed, compared = _misses(closest, checked)
        because = (
            f"{the} of {client.id} for this person{extended} {missed}; the checked period "
            f"{compared}; FullyIncluded requires it inside"
        )
    rules = _with_extension_and_cpas(client, ["R-20", _MODE_RULES[mode]])
    trail.answered(STAGE, *rules, because=because, **facts)


def _days_from(period: DatePeriod, day: date) -> int:
    """How many days `day` lies outside `period` (0: inside)."""
    if day < period.begin:
        return (period.begin - day).days
    if period.end is not None and day > period.end:
        return (day - period.end).days
    return 0


def _days_missing(period: DatePeriod, checked: DatePeriod) -> int:
    """How many days of `checked` lie outside `period` (an open remainder: very many)."""
    missing = max(0, (period.begin - checked.begin).days)
    if period.end is not None:
        if checked.end is None:
            return missing + date.max.toordinal()
        missing += max(0, (checked.end - period.end).days)
    return missing


def _misses(period: DatePeriod, checked: DatePeriod) -> tuple[str, str]:
    """By which ends `period` misses `checked`: its own ends, then the checked period's."""
    own: list[str] = []
    theirs: list[str] = []
    if period.begin > checked.begin:
        own.append(f"begins {period.begin}")
        theirs.append(f"begins {checked.begin}")
    if period.end is not None and (checked.end is None or checked.end > period.end):
        own.append(f"ends {period.end}")
        theirs.append(f"ends {checked.end}" if checked.end is not None else "is open")
    return ", ".join(own), ", ".join(theirs)


async def check_supplier_integration(
    ssin: str,
    consulted: DatePeriod,
    repertory: PersonRepertory,
    *,
    trail: DecisionTrail | None = None,
) -> Reply | None:
    """R-21: INASTI (15/0) knows the NISS under quality 2 or 102 for ≥ 1 day of the consulted
    period (open end: unbounded)."""
    periods = await repertory.supplier_integrations(ssin)
    for integration in periods:
        if integration.quality_code in SUPPLIER_QUALITY_CODES and integration.period.overlaps(
            consulted
        ):
            if trail is not None:
                trail.passed(STAGE, "R-21", inasti=_supplier_text(integration))
            return None
    if trail is not None:
        trail.answered(
            STAGE,
            "R-21",
            because="INASTI knows this person under quality 2 or 102 on no day of the "
            "consulted period",
            inasti=[_supplier_text(integration) for integration in periods],
            consulted=period_text(consulted.begin, consulted.end),
        )
    return Reply(status=codes.NOT_INTEGRATED_AT_SUPPLIER)


def _supplier_text(integration: IntegrationPeriod) -> str:
    period = integration.period
    return f"quality {integration.quality_code}: {period_text(period.begin, period.end)}"
