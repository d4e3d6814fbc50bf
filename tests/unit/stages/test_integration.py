"""R-20, R-21, R-33, R-40 … R-46: integration checks (stages/integration.py, pipeline.py), and
their steps of the decision trail (issue #18)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import ClientEntry, Dataset, IntegrationRule, PeriodCheck
from selfemployed_gateway.decisions import DecisionTrail, Fact, Step, Verdict
from selfemployed_gateway.records import (
    DatePeriod,
    Information,
    Reply,
)
from selfemployed_gateway.registry import IntegrationPeriod, PersonRepertory
from selfemployed_gateway.stages import integration
from selfemployed_gateway.stages.integration import (
    client_may_know,
    contains,
)
from tests.support.aio import run
from tests.unit.conftest import registers

TODAY = date(2026, 11, 26)


def check_client_integration(
    client: ClientEntry, ssin: str, checked: DatePeriod, today: date, repertory: PersonRepertory
) -> Reply | None:
    """The stage, awaited (its repertory reads are coroutines)."""
    return run(integration.check_client_integration(client, ssin, checked, today, repertory))


def check_supplier_integration(
    ssin: str, consulted: DatePeriod, repertory: PersonRepertory
) -> Reply | None:
    return run(integration.check_supplier_integration(ssin, consulted, repertory))


def d(text: str) -> date:
    return date.fromisoformat(text)


def period(begin: str, end: str | None = None) -> DatePeriod:
    return DatePeriod(begin=d(begin), end=d(end) if end else None)


def client(dataset: Dataset, client_id: str) -> ClientEntry:
    entry = dataset.client(client_id)
    assert entry is not None
    return entry


def not_integrated(ssin: str, cbe_number: str | None) -> Reply:
    """The MSG00012 reply of R-20."""
    return Reply(
        status=codes.NOT_INTEGRATED_FOR_CLIENT,
        information=(
            Information(
                field_name="details",
                field_value="The SSIN is not integrated for the given PCSA.",
            ),
            Information(field_name="ssin", field_value=ssin),
            Information(field_name="cbeNumber", field_value=cbe_number),
        ),
    )


@dataclass
class FakeRepertory:
    """A repertory whose integrations the test decides; records the look-ups."""

    client: list[IntegrationPeriod] = field(default_factory=list)
    supplier: list[IntegrationPeriod] = field(default_factory=list)
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def client_integrations(self, ssin: str, client_id: str) -> list[IntegrationPeriod]:
        self.asked.append((ssin, client_id))
        return list(self.client)

    async def supplier_integrations(self, ssin: str) -> list[IntegrationPeriod]:
        self.asked.append((ssin, "INASTI"))
        return list(self.supplier)


# --- contains, widened ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        (period("2015-01-01", "2020-12-31"), period("2015-01-01", "2020-12-31"), True),
        (period("2015-01-01", "2020-12-31"), period("2014-12-31", "2020-12-31"), False),
        (period("2015-01-01", "2020-12-31"), period("2015-01-01", "2021-01-01"), False),
        (period("2015-01-01", "2020-12-31"), period("2016-01-01", "2016-01-01"), True),
        # open ends are unbounded
        (period("2015-01-01", "2020-12-31"), period("2016-01-01"), False),
        (period("2015-01-01"), period("2015-01-01"), True),
        (period("2015-01-01"), period("2014-12-31"), False),
        (period("2015-01-01"), period("2099-01-01", "2099-12-31"), True),
        (period("2015-01-01"), period("2014-12-31", "2015-01-01"), False),
    ],
)
def test_contains(outer: DatePeriod, inner: DatePeriod, expected: bool) -> None:
    """R-44: every day of `inner` is a day of `outer`."""
    assert contains(outer, inner) is expected


@pytest.mark.parametrize(
    ("integration", "before", "after", "expected"),
    [
        (period("2015-04-01", "2020-09-30"), 90, 90, period("2015-01-01", "2020-12-29")),
        (period("2015-04-01", "2020-09-30"), 0, 0, period("2015-04-01", "2020-09-30")),
        (period("2012-01-01", "2023-06-30"), 0, 1826, period("2012-01-01", "2028-06-29")),
        # the open end stays open, the begin still moves
        (period("2015-04-01"), 90, 90, period("2015-01-01")),
        (period("2015-04-01"), 0, 1826, period("2015-04-01")),
        # never beyond the calendar
        (period("0001-01-02", "9999-12-30"), 5, 5, period("0001-01-01", "9999-12-31")),
    ],
)
def test_widened(integration: DatePeriod, before: int, after: int, expected: DatePeriod) -> None:
    """R-45: the extension widens the integration period; an open end stays open."""
    widened = IntegrationPeriod(quality_code=1, period=integration).widened(before, after)
    assert widened == expected


# --- client integration on the reference dataset -------------------------------------------

NAMUR_68 = "68010112321"  # cpas-namur 2015-01-01..2020-12-31, pension-office 2015-04-01..2020-09-30


@pytest.mark.parametrize(
    ("client_id", "checked", "accepted"),
    [
        # FullyIncluded without extension (cpas-namur: 2015-01-01 .. 2020-12-31)
        ("cpas-namur", period("2015-01-01", "2020-12-31"), True),
        ("cpas-namur", period("2014-12-31", "2020-12-31"), False),
        ("cpas-namur", period("2015-01-01", "2021-01-01"), False),
        ("cpas-namur", period("2020-12-31", "2020-12-31"), True),
        ("cpas-namur", period("2021-01-01", "2021-01-01"), False),
        ("cpas-namur", period("2015-01-01", "2026-11-26"), False),
        # FullyIncluded, 90 days before and after (pension-office: 2015-04-01 .. 2020-09-30)
        ("pension-office", period("2015-01-01", "2020-12-29"), True),
        ("pension-office", period("2014-12-31", "2020-12-29"), False),
        ("pension-office", period("2015-01-01", "2020-12-30"), False),
        ("pension-office", period("2014-12-31", "2014-12-31"), False),
        ("pension-office", period("2020-12-30", "2020-12-30"), False),
        # CurrentDate (famifund-east, until 2023-06-30 + 1826 days): any period, today counts
        ("famifund-east", period("1956-07-01", "2026-11-26"), True),
        ("famifund-east", period("1960-01-01", "1960-01-01"), True),
        # not required (onss-inspection): no check at all
        ("onss-inspection", period("1956-07-01", "2026-11-26"), True),
    ],
)
def test_boundaries_of_client_modes(
    dataset: Dataset, client_id: str, checked: DatePeriod, accepted: bool
) -> None:
    """R-20, R-41, R-43, R-44, R-45: the reference clients at their integration boundaries."""
    entry = client(dataset, client_id)
    reply = check_client_integration(entry, NAMUR_68, checked, TODAY, registers(dataset))
    if accepted:
        assert reply is None
    else:
        assert reply == not_integrated(NAMUR_68, entry.identification.cbeNumber)


@pytest.mark.parametrize(
    ("today", "accepted"),
    [
        (d("2011-12-31"), False),
        (d("2012-01-01"), True),
        (d("2023-06-30"), True),
        (d("2028-06-29"), True),  # 2023-06-30 + 1826 days
        (d("2028-06-30"), False),
    ],
)
def test_current_date_with_extension_after(dataset: Dataset, today: date, accepted: bool) -> None:
    """R-43, R-45: famifund-east may consult while today ≤ end of integration + 1826 days.

    The consulted period itself (here the whole career) does not matter.
    """
    famifund = client(dataset, "famifund-east")
    checked = DatePeriod(begin=d("1956-07-01"), end=today)
    reply = check_client_integration(famifund, NAMUR_68, checked, today, registers(dataset))
    if accepted:
        assert reply is None
    else:
        # identified by sector/institution: the cbeNumber information has no value
        assert reply == not_integrated(NAMUR_68, None)


@pytest.mark.parametrize(
    ("ssin", "checked", "accepted"),
    [
        # 65031510159 was integrated for riziv-medical only from 2000 to 2005
        ("65031510159", period("1956-07-01", "2026-11-26"), True),
        ("65031510159", period("2010-01-01", "2010-01-01"), True),
        ("65031510159", period("1999-12-31", "1999-12-31"), True),
        # 03050701202 was never integrated for riziv-medical
        ("03050701202", period("2021-01-01", "2021-01-01"), False),
        ("03050701202", period("1956-07-01", "2026-11-26"), False),
    ],
)
def test_ignore_mode(dataset: Dataset, ssin: str, checked: DatePeriod, accepted: bool) -> None:
    """R-42: integrated at any time ever ⇒ every period; never integrated ⇒ MSG00012."""
    riziv = client(dataset, "riziv-medical")
    reply = check_client_integration(riziv, ssin, checked, TODAY, registers(dataset))
    if accepted:
        assert reply is None
    else:
        assert reply == not_integrated(ssin, "0234567873")


@pytest.mark.parametrize("ssin", ["68010112321", "77070745630", "75010199968", "03050701202"])
def test_not_required_lets_everyone_through(dataset: Dataset, ssin: str) -> None:
    """R-40: onss-inspection consults everyone, without asking the repertory."""
    onss = client(dataset, "onss-inspection")
    repertory = FakeRepertory()
    assert (
        check_client_integration(onss, ssin, period("1956-07-01", "2026-11-26"), TODAY, repertory)
        is None
    )
    assert client_may_know(onss, [], period("1956-07-01", "2026-11-26"), TODAY) is True
    assert repertory.asked == []


def test_msg00012_reply_exactly(dataset: Dataset) -> None:
    """R-20: NO_RESULT MSG00012, details, ssin, cbeNumber of the client."""
    namur = client(dataset, "cpas-namur")
    reply = check_client_integration(
        namur, NAMUR_68, period("2014-12-31", "2015-06-30"), TODAY, registers(dataset)
    )
    assert reply is not None
    assert reply.status.value == "NO_RESULT"
    assert reply.status.code == "MSG00012"
    assert [(i.field_name, i.field_value) for i in reply.information] == [
        ("details", "The SSIN is not integrated for the given PCSA."),
        ("ssin", "68010112321"),
        ("cbeNumber", "0212345668"),
    ]
    assert reply.ssin is None


# --- quality code, with a fake repertory ------------------------------------------


def with_rule(
    base: ClientEntry, check: PeriodCheck, before: int = 0, after: int = 0
) -> ClientEntry:
    return base.model_copy(
        update={
            "integration": IntegrationRule(
                required=True,
                quality_code=1,
                period_check=check,
                extension_days_before=before,
                extension_days_after=after,
            )
        }
    )


@pytest.mark.parametrize("check", list(PeriodCheck))
@pytest.mark.parametrize(
    ("quality_code", "accepted"), [(1, True), (8, False), (2, False), (102, False)]
)
def test_only_the_clients_quality_code_counts(
    dataset: Dataset, check: PeriodCheck, quality_code: int, accepted: bool
) -> None:
    """R-41: an integration under another quality code does not count, whatever the mode."""
    namur = with_rule(client(dataset, "cpas-namur"), check)
    repertory = FakeRepertory(
        client=[IntegrationPeriod(quality_code=quality_code, period=period("1956-07-01"))]
    )
    checked = period("2000-01-01", "2026-11-26")
    reply = check_client_integration(namur, "65031510159", checked, TODAY, repertory)
    assert repertory.asked == [("65031510159", "cpas-namur")]
    if accepted:
        assert reply is None
    else:
        assert reply == not_integrated("65031510159", "0212345668")


def test_one_matching_period_among_others_is_enough(dataset: Dataset) -> None:
    """R-41, R-44: a period under the right quality code counts next to wrong ones."""
    namur = with_rule(client(dataset, "cpas-namur"), PeriodCheck.FULLY_INCLUDED)
    periods = [
        IntegrationPeriod(quality_code=8, period=period("1990-01-01")),
        IntegrationPeriod(quality_code=1, period=period("1990-01-01", "1999-12-31")),
        IntegrationPeriod(quality_code=1, period=period("2005-01-01", "2010-12-31")),
    ]
    assert client_may_know(namur, periods, period("2006-01-01", "2010-12-31"), TODAY)
    assert not client_may_know(namur, periods, period("1999-06-01", "2006-01-01"), TODAY)
    assert not client_may_know(namur, periods, period("2011-01-01", "2011-01-01"), TODAY)


def test_extension_before_applies_to_current_date(dataset: Dataset) -> None:
    """R-43, R-45: CurrentDate with days before: today may precede the integration."""
    namur = with_rule(client(dataset, "cpas-namur"), PeriodCheck.CURRENT_DATE, before=10)
    periods = [IntegrationPeriod(quality_code=1, period=period("2026-12-06"))]
    assert client_may_know(namur, periods, period("2000-01-01", "2026-11-26"), d("2026-11-26"))
    assert not client_may_know(namur, periods, period("2000-01-01", "2026-11-25"), d("2026-11-25"))


# --- supplier integration (R-21) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("quality_code", "counts"),
    [(2, True), (102, True), (1, False), (8, False), (3, False), (101, False), (202, False)],
)
def test_supplier_quality_codes(quality_code: int, counts: bool) -> None:
    """R-21: INASTI knows a self-employed person under quality code 2 or 102 only."""
    repertory = FakeRepertory(
        supplier=[IntegrationPeriod(quality_code=quality_code, period=period("1956-07-01"))]
    )
    reply = check_supplier_integration("65031510159", period("2000-01-01", "2026-11-26"), repertory)
    assert reply == (None if counts else Reply(status=codes.NOT_INTEGRATED_AT_SUPPLIER))


@pytest.mark.parametrize(
    ("supplier", "checked", "counts"),
    [
        # one day of overlap at each boundary
        (period("2010-01-01", "2012-12-31"), period("2012-12-31", "2013-06-30"), True),
        (period("2010-01-01", "2012-12-31"), period("2013-01-01", "2013-06-30"), False),
        (period("2010-01-01", "2012-12-31"), period("2009-01-01", "2010-01-01"), True),
        (period("2010-01-01", "2012-12-31"), period("2009-01-01", "2009-12-31"), False),
        (period("2010-01-01", "2012-12-31"), period("2009-01-01", "2013-12-31"), True),
        # open end
        (period("2010-01-01"), period("2026-11-26", "2026-11-26"), True),
        (period("2010-01-01"), period("2009-12-31", "2009-12-31"), False),
        (period("2010-01-01"), period("1956-07-01", "2010-01-01"), True),
    ],
)
def test_supplier_overlap(supplier: DatePeriod, checked: DatePeriod, counts: bool) -> None:
    """R-21: integrated at INASTI for at least one day of the checked period."""
    repertory = FakeRepertory(supplier=[IntegrationPeriod(quality_code=102, period=supplier)])
    reply = check_supplier_integration("65031510159", checked, repertory)
    assert reply == (None if counts else Reply(status=codes.NOT_INTEGRATED_AT_SUPPLIER))


@pytest.mark.parametrize(
    ("ssin", "checked", "counts"),
    [
        # 70441107119: quality 2 from 2010-01-01 to 2012-12-31
        ("70441107119", period("2012-12-31", "2026-11-26"), True),
        ("70441107119", period("2013-01-01", "2026-11-26"), False),
        # 85111115024: quality 102 from 1999-01-01, open
        ("85111115024", period("1999-01-01", "1999-01-01"), True),
        ("85111115024", period("1956-07-01", "1998-12-31"), False),
        # 03050701202: unknown to INASTI
        ("03050701202", period("1956-07-01", "2026-11-26"), False),
    ],
)
def test_supplier_integration_on_the_dataset(
    dataset: Dataset, ssin: str, checked: DatePeriod, counts: bool
) -> None:
    """R-21 on the reference dataset's supplier integrations."""
    reply = check_supplier_integration(ssin, checked, registers(dataset))
    assert reply == (None if counts else Reply(status=codes.NOT_INTEGRATED_AT_SUPPLIER))


def test_msg00021_reply_exactly() -> None:
    """R-21: NO_DATA_FOUND MSG00021 with its description, no information."""
    reply = check_supplier_integration(
        "65031510159", period("2000-01-01", "2000-01-01"), FakeRepertory()
    )
    assert reply is not None
    assert reply.status.value == "NO_DATA_FOUND"
    assert reply.status.code == "MSG00021"
    assert reply.status.description == (
        "The SSIN is not sufficiently integrated for the provider of the data"
    )
    assert reply.information == ()


# --- properties -------------------------------------------------------------------------------

ORIGIN = date(2020, 1, 1).toordinal()
SPAN = 40  # closed periods lie within ORIGIN .. ORIGIN + SPAN; an open end reads as beyond


@st.composite
def periods(draw: st.DrawFn) -> DatePeriod:
    begin = draw(st.integers(min_value=0, max_value=SPAN))
    end = draw(st.one_of(st.none(), st.integers(min_value=begin, max_value=SPAN)))
    return DatePeriod(
        begin=date.fromordinal(ORIGIN + begin),
        end=None if end is None else date.fromordinal(ORIGIN + end),
    )


def days(p: DatePeriod) -> set[int]:
    """The ordinals of the period's days, an open end running past every closed one."""
    last = ORIGIN + SPAN + 5 if p.end is None else p.end.toordinal()
    return set(range(p.begin.toordinal(), last + 1))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(outer=periods(), inner=periods())
def test_contains_is_day_set_inclusion(outer: DatePeriod, inner: DatePeriod) -> None:
    """R-44: `contains` ⇔ every day of inner is a day of outer."""
    assert contains(outer, inner) == (days(inner) <= days(outer))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(first=periods(), second=periods())
def test_overlaps_is_day_set_intersection(first: DatePeriod, second: DatePeriod) -> None:
    """R-21, R-55: `overlaps` ⇔ the day sets intersect (and it is symmetric)."""
    assert first.overlaps(second) == bool(days(first) & days(second))
    assert first.overlaps(second) == second.overlaps(first)


# --- decision trail (issue #18) ----------------------------------------------------------------


def client_trail(
    entry: ClientEntry,
    ssin: str,
    checked: DatePeriod,
    repertory: PersonRepertory,
    today: date = TODAY,
) -> list[Step]:
    trail = DecisionTrail()
    run(integration.check_client_integration(entry, ssin, checked, today, repertory, trail=trail))
    return trail.steps


def refused(rules: tuple[str, ...], because: str, **facts: Fact) -> Step:
    return Step("integration", Verdict.ANSWERED, rules, facts, because)


def namur_facts(**facts: Fact) -> dict[str, Fact]:
    """The facts of MSG00012 for cpas-namur (FullyIncluded, quality code 1, no extension)."""
    return {
        "client": "cpas-namur",
        "mode": "FullyIncluded",
        "required": True,
        "quality_code": 1,
        "extension_days_before": 0,
        "extension_days_after": 0,
        **facts,
    }


def test_trail_of_fully_included_names_the_missing_end(dataset: Dataset) -> None:
    """R-20, R-44, R-46: the integration ends one day before the checked period does."""
    repertory = FakeRepertory(
        client=[
            IntegrationPeriod(quality_code=1, period=period("2010-01-01", "2016-12-30")),
            IntegrationPeriod(quality_code=8, period=period("1990-01-01")),
        ]
    )
    steps = client_trail(
        client(dataset, "cpas-namur"), "65031510159", period("2016-01-01", "2016-12-31"), repertory
    )
    assert steps == [
        refused(
            ("R-20", "R-44", "R-46"),
            "the integration of cpas-namur for this person ends 2016-12-30; the checked period "
            "ends 2016-12-31; FullyIncluded requires it inside",
            **namur_facts(
                periods_after_extension=["2010-01-01 … 2016-12-30"],
                other_quality_codes=["quality 8: 1990-01-01 …"],
                checked="2016-01-01 … 2016-12-31",
                cbe_number="0212345668",
            ),
        )
    ]


def test_trail_of_fully_included_names_the_closest_period(dataset: Dataset) -> None:
    """Of several periods, the one that misses the fewest days, by both its ends."""
    repertory = FakeRepertory(
        client=[
            IntegrationPeriod(quality_code=1, period=period("1990-01-01", "1999-12-31")),
            IntegrationPeriod(quality_code=1, period=period("2005-01-01", "2010-12-31")),
        ]
    )
    steps = client_trail(
        client(dataset, "cpas-namur"), "65031510159", period("2004-01-01", "2011-12-31"), repertory
    )
    assert [step.because for step in steps] == [
        "the closest integration of cpas-namur for this person begins 2005-01-01, ends "
        "2010-12-31; the checked period begins 2004-01-01, ends 2011-12-31; FullyIncluded "
        "requires it inside"
    ]
    assert steps[0].facts["periods_after_extension"] == [
        "1990-01-01 … 1999-12-31",
        "2005-01-01 … 2010-12-31",
    ]


def test_trail_of_fully_included_after_extension(dataset: Dataset) -> None:
    """R-45: the periods as widened (2015-04-01 … 2020-09-30, 90 days each side)."""
    steps = client_trail(
        client(dataset, "pension-office"),
        NAMUR_68,
        period("2014-12-31", "2020-12-29"),
        registers(dataset),
    )
    assert steps == [
        refused(
            ("R-20", "R-44", "R-45"),
            "the integration of pension-office for this person (after extension) begins "
            "2015-01-01; the checked period begins 2014-12-31; FullyIncluded requires it inside",
            client="pension-office",
            mode="FullyIncluded",
            required=True,
            quality_code=1,
            extension_days_before=90,
            extension_days_after=90,
            periods_after_extension=["2015-01-01 … 2020-12-29"],
            other_quality_codes=[],
            checked="2014-12-31 … 2020-12-29",
        )
    ]


def test_trail_of_current_date_names_today_and_the_closest_end(dataset: Dataset) -> None:
    """R-43, R-45: famifund-east, until 2023-06-30 + 1826 days; today one day later."""
    today = d("2028-06-30")
    steps = client_trail(
        client(dataset, "famifund-east"),
        NAMUR_68,
        DatePeriod(begin=d("1956-07-01"), end=today),
        registers(dataset),
        today,
    )
    assert steps == [
        refused(
            ("R-20", "R-43", "R-45"),
            "today 2028-06-30 is outside every integration period of famifund-east for this "
            "person (after extension); the integration ends 2028-06-29",
            client="famifund-east",
            mode="CurrentDate",
            required=True,
            quality_code=8,
            extension_days_before=0,
            extension_days_after=1826,
            periods_after_extension=["2012-01-01 … 2028-06-29"],
            other_quality_codes=[],
            today="2028-06-30",
        )
    ]


def test_trail_of_current_date_before_the_integration_begins(dataset: Dataset) -> None:
    namur = with_rule(client(dataset, "cpas-namur"), PeriodCheck.CURRENT_DATE, before=10)
    repertory = FakeRepertory(
        client=[IntegrationPeriod(quality_code=1, period=period("2026-12-06"))]
    )
    (step,) = client_trail(
        namur, "65031510159", period("2000-01-01", "2026-11-25"), repertory, d("2026-11-25")
    )
    assert step.because == (
        "today 2026-11-25 is outside every integration period of cpas-namur for this person "
        "(after extension); the integration begins 2026-11-26"
    )
    assert (step.rules, step.facts["periods_after_extension"]) == (
        ("R-20", "R-43", "R-45", "R-46"),
        ["2026-11-26 …"],
    )


def test_trail_of_no_integration_under_the_quality_code(dataset: Dataset) -> None:
    """R-41: none under the client's quality code; those under others are listed, not counted."""
    namur = with_rule(client(dataset, "cpas-namur"), PeriodCheck.IGNORE)
    repertory = FakeRepertory(
        client=[IntegrationPeriod(quality_code=8, period=period("1990-01-01", "1999-12-31"))]
    )
    steps = client_trail(namur, "65031510159", period("2000-01-01", "2026-11-26"), repertory)
    assert steps == [
        refused(
            ("R-20", "R-41", "R-46"),
            "no integration of cpas-namur for this person under quality code 1 (1 under other "
            "quality codes, which do not count)",
            **namur_facts(
                mode="Ignore",
                periods_after_extension=[],
                other_quality_codes=["quality 8: 1990-01-01 … 1999-12-31"],
                cbe_number="0212345668",
            ),
        )
    ]
    riziv = client(dataset, "riziv-medical")
    steps = client_trail(
        riziv, "03050701202", period("1956-07-01", "2026-11-26"), registers(dataset)
    )
    assert [(step.rules, step.because) for step in steps] == [
        (("R-20", "R-41"), "no integration of riziv-medical for this person under quality code 1")
    ]


@pytest.mark.parametrize(
    ("client_id", "ssin", "checked", "rules", "facts"),
    [
        (
            "onss-inspection",
            NAMUR_68,
            period("1956-07-01", "2026-11-26"),
            ("R-20", "R-40"),
            {"integration": "integration not required (R-40)"},
        ),
        (
            "cpas-namur",
            NAMUR_68,
            period("2015-01-01", "2020-12-31"),
            ("R-20", "R-40", "R-41", "R-44", "R-46"),
            {"mode": "FullyIncluded", "period": "2015-01-01 … 2020-12-31"},
        ),
        (
            "famifund-east",
            NAMUR_68,
            period("1956-07-01", "2026-11-26"),
            ("R-20", "R-40", "R-41", "R-43", "R-45"),
            {"mode": "CurrentDate", "period": "2012-01-01 … 2028-06-29"},
        ),
        (
            "riziv-medical",
            "65031510159",
            period("2010-01-01", "2010-01-01"),
            ("R-20", "R-40", "R-41", "R-42"),
            {"mode": "Ignore", "period": "2000-01-01 … 2005-12-31"},
        ),
    ],
)
def test_trail_of_a_client_that_may_know_the_person(
    dataset: Dataset,
    client_id: str,
    ssin: str,
    checked: DatePeriod,
    rules: tuple[str, ...],
    facts: dict[str, Fact],
) -> None:
    """Passed: the mode and the period that satisfied it, or not required (R-40)."""
    steps = client_trail(client(dataset, client_id), ssin, checked, registers(dataset))
    assert steps == [Step("integration", Verdict.PASSED, rules, facts)]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    found=st.lists(st.tuples(st.sampled_from([1, 8]), periods()), max_size=4),
    checked=periods(),
    check=st.sampled_from(list(PeriodCheck)),
    before=st.integers(min_value=0, max_value=5),
    after=st.integers(min_value=0, max_value=5),
    today=st.integers(min_value=0, max_value=SPAN),
)
def test_trail_agrees_with_the_reply_property(
    found: list[tuple[int, DatePeriod]],
    checked: DatePeriod,
    check: PeriodCheck,
    before: int,
    after: int,
    today: int,
) -> None:
    """One step, passed exactly when there is no MSG00012; its periods are the client's."""
    entry = ClientEntry(
        id="c",
        kind="OTHER",
        identification={"cbeNumber": "0212345668"},
        service_allowed=True,
        operations=["consultCareer"],
        legal_contexts=["X:Y"],
        integration=IntegrationRule(
            required=True,
            quality_code=1,
            period_check=check,
            extension_days_before=before,
            extension_days_after=after,
        ),
        filters=[],
    )
    repertory = FakeRepertory(
        client=[IntegrationPeriod(quality_code=q, period=p) for q, p in found]
    )
    day = date.fromordinal(ORIGIN + today)
    trail = DecisionTrail()
    reply = run(
        integration.check_client_integration(entry, "s", checked, day, repertory, trail=trail)
    )
    (step,) = trail.steps
    assert (step.verdict is Verdict.PASSED) == (reply is None)
    if reply is not None:
        assert step.because is not None
        assert len(step.facts["periods_after_extension"] or []) == sum(
            1 for q, _ in found if q == 1
        )


def test_trail_of_inasti_not_knowing_the_person() -> None:
    """R-21 MSG00021: INASTI's periods with their quality codes, and the consulted period."""
    repertory = FakeRepertory(
        supplier=[
            IntegrationPeriod(quality_code=2, period=period("2010-01-01", "2012-12-31")),
            IntegrationPeriod(quality_code=1, period=period("2013-01-01")),
        ]
    )
    trail = DecisionTrail()
    run(integration.check_supplier_integration("s", period("2013-01-01"), repertory, trail=trail))
    assert trail.steps == [
        Step(
            "integration",
            Verdict.ANSWERED,
            ("R-21",),
            {
                "inasti": ["quality 2: 2010-01-01 … 2012-12-31", "quality 1: 2013-01-01 …"],
                "consulted": "2013-01-01 …",
            },
            "INASTI knows this person under quality 2 or 102 on no day of the consulted period",
        )
    ]
    passed = DecisionTrail()
    run(
        integration.check_supplier_integration(
            "s", period("2012-12-31", "2013-06-30"), repertory, trail=passed
        )
    )
    assert passed.steps == [
        Step(
            "integration",
            Verdict.PASSED,
            ("R-21",),
            {"inasti": "quality 2: 2010-01-01 … 2012-12-31"},
        )
    ]
