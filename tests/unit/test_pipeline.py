"""The pipeline itself (pipeline.py): records in, a reply or a fault out — no XML, no server.

Each stage has its own tests; these check the composition of specification §3: which stage
answers first, that nothing after it runs (the supplier is not called), and what the
pipeline adds between stages (R-55 then R-24/R-50, R-51 whatever the status, the NISS status
on integration refusals, the trace) and the decision trail the stages leave (issue #18).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.clock import FixedClock
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.decisions import Step, Verdict
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.pipeline import Pipeline, checked_period, consulted_period
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerAnswer,
    CareerRequest,
    CodedValue,
    ConsultRequest,
    ContributionPayment,
    ContributionsAnswer,
    ContributionsRequest,
    DatePeriod,
    ExchangeTrace,
    Fund,
    GatewayFault,
    Operation,
    Organisation,
    Reply,
    SsinStatus,
    SupplierOutcome,
)
from tests.support.aio import run
from tests.support.records import segment
from tests.unit.conftest import ScriptedSupplier, certificate, registers

CLOCK = FixedClock.parse("2026-11-26T10:00:00+01:00")
SSIN = "65031510159"
INSPECTION = Organisation(sector=21, institution=0)
INSPECTION_CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
CPAS_NAMUR = Organisation(cbe_number="0212345668")
YEAR_2000 = DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31))
CODE = CodedValue(code="100")
TODAY = date(2026, 11, 26)


# INASTI over-answers: one segment before, one inside and one after the year 2000.
CAREER = Career(
    nisse_reference="RGTI0000000101",
    occupation=CodedValue(code="200"),
    affiliations=(
        Affiliation(
            fund=Fund(code="010"),
            signature_date=date(1990, 1, 1),
            segments=(segment("1990-01-01", "1999-12-31"), segment("2000-01-01", "2000-06-30")),
        ),
        Affiliation(fund=Fund(code="002"), segments=(segment("2005-01-01", "2005-12-31"),)),
    ),
)


def career(
    customer: Organisation = INSPECTION,
    legal_context: str = INSPECTION_CONTEXT,
    ssin: str = SSIN,
    period: DatePeriod | None = YEAR_2000,
) -> CareerRequest:
    return CareerRequest(customer=customer, legal_context=legal_context, ssin=ssin, period=period)


def contributions(begin: str = "2024Q1", end: str | None = "2024Q4") -> ContributionsRequest:
    return ContributionsRequest(
        customer=INSPECTION,
        legal_context=INSPECTION_CONTEXT,
        ssin=SSIN,
        begin_quarter=begin,
        end_quarter=end,
    )


def pipeline(dataset: Dataset, supplier: ScriptedSupplier) -> Pipeline:
    return Pipeline(
        annex=Annex.from_dataset(dataset),
        register=registers(dataset),
        repertory=registers(dataset),
        supplier=supplier,
        clock=CLOCK,
    )


def trace() -> ExchangeTrace:
    return ExchangeTrace(ticket_cbss="t", received=datetime(2026, 11, 26, 9, tzinfo=UTC))


def found(ssin: str, period: DatePeriod) -> CareerAnswer:
    return CareerAnswer(outcome=SupplierOutcome.FOUND, career=CAREER)


def consult(
    dataset: Dataset,
    supplier: ScriptedSupplier,
    request: CareerRequest | ContributionsRequest,
    client: str | None = "onss-inspection",
    exchange: ExchangeTrace | None = None,
) -> Reply:
    return run(
        pipeline(dataset, supplier).consult(request, certificate(client), exchange or trace())
    )


# --- the whole way through -------------------------------------------------------------------


def test_data_found_keeps_only_the_segments_of_the_consulted_period(dataset: Dataset) -> None:
    """R-22 then R-55: the segment before 2000 and the affiliation after it are dropped."""
    supplier = ScriptedSupplier(career=found)
    exchange = trace()
    reply = consult(dataset, supplier, career(), exchange=exchange)
    assert reply.status is codes.DATA_FOUND
    assert reply.ssin == SsinStatus(ssin=SSIN)
    assert reply.career is not None
    assert [a.fund.code for a in reply.career.affiliations] == ["010"]
    assert [s.period.begin for s in reply.career.affiliations[0].segments] == [date(2000, 1, 1)]
    assert reply.career.occupation == CodedValue(code="200")  # onss-inspection: no filter
    assert reply.data_filters is None
    assert supplier.calls == [("consultCareer", SSIN, "2000-01-01", "2000-12-31")]
    assert (exchange.client_id, exchange.supplier_outcome) == ("onss-inspection", "FOUND")


def test_nothing_left_after_r55_is_no_data_found_for_the_period(dataset: Dataset) -> None:
    supplier = ScriptedSupplier(career=found)
    reply = consult(dataset, supplier, career(period=DatePeriod(begin=date(2010, 1, 1))))
    assert reply.status is codes.NO_DATA_FOUND
    assert [(i.field_name, i.field_value) for i in reply.information] == [
        ("Reason", "No data for requested period")
    ]
    assert reply.career is None


def test_filters_remove_elements_and_are_listed_whatever_the_status(dataset: Dataset) -> None:
    """R-50 on DATA_FOUND; R-51 on every consultCareer reply, here a refusal of R-13."""
    supplier = ScriptedSupplier(career=found)
    refused = consult(dataset, supplier, career(customer=CPAS_NAMUR), client="cpas-namur")
    assert refused.status is codes.ACCESS_NOT_ALLOWED
    assert refused.data_filters == ("occupation", "signatureDate")
    assert supplier.calls == []


def test_contributions_found_are_the_payments(dataset: Dataset) -> None:
    payment = ContributionPayment(quarter="2024Q2", fund=Fund(code="010"), situation=CODE)
    supplier = ScriptedSupplier(
        contributions=lambda ssin, begin, end: ContributionsAnswer(
            outcome=SupplierOutcome.FOUND, payments=(payment,)
        )
    )
    reply = consult(dataset, supplier, contributions())
    assert reply.status is codes.DATA_FOUND
    assert reply.payments == (payment,)
    assert reply.data_filters is None
    assert supplier.calls == [("consultContributions", SSIN, "2024Q1", "2024Q4")]


def test_supplier_failure_is_msg00002_with_its_details(dataset: Dataset) -> None:
    def failing(ssin: str, period: DatePeriod) -> CareerAnswer:
        raise SupplierError(codes.SUPPLIER_TIME_BUDGET, "ReadTimeout")

    exchange = trace()
    with pytest.raises(GatewayFault) as fault:
        consult(dataset, ScriptedSupplier(career=failing), career(), exchange=exchange)
    assert fault.value.code is codes.SUPPLIER_ERROR
    assert [(i.field_name, i.field_value) for i in fault.value.information] == [
        ("details", codes.SUPPLIER_TIME_BUDGET)
    ]
    assert exchange.supplier_outcome == codes.SUPPLIER_TIME_BUDGET


# --- the first stage that answers, and nothing after it ----------------------------------------


def test_unknown_certificate_is_msg00015_before_anything(dataset: Dataset) -> None:
    supplier = ScriptedSupplier(career=found)
    with pytest.raises(GatewayFault) as fault:
        consult(dataset, supplier, career(), client="nobody-we-know")
    assert fault.value.code is codes.AUTHORIZATION_REFUSED
    assert supplier.calls == []


def test_inconsistent_entry_is_msg00003_even_for_an_operation_it_may_not_use(
    dataset: Dataset,
) -> None:
    """R-14 before R-13 (a decision): the legal context is wrong too, yet MSG00003 answers."""
    clients = [
        c.model_copy(update={"filters": ["birthDate"]}) if c.id == "onss-inspection" else c
        for c in dataset.clients
    ]
    broken = dataset.model_copy(update={"clients": clients})
    supplier = ScriptedSupplier(career=found)
    with pytest.raises(GatewayFault) as fault:
        consult(broken, supplier, career(legal_context="OTHER:ANY"))
    assert fault.value.code is codes.INTERNAL_ERROR
    assert supplier.calls == []


def test_operation_the_supplier_lacks_is_msg00025_before_the_dates(dataset: Dataset) -> None:
    """R-60 (transitional phase): MSG00025 although the quarters are invalid too (R-35)."""
    supplier = ScriptedSupplier(operations=frozenset({Operation.CONSULT_CAREER}))
    with pytest.raises(GatewayFault) as fault:
        consult(dataset, supplier, contributions(begin="2024Q4", end="2024Q1"))
    assert fault.value.code is codes.NOT_AVAILABLE
    assert supplier.calls == []


def test_invalid_period_is_msg00008_before_the_niss(dataset: Dataset) -> None:
    supplier = ScriptedSupplier(career=found)
    request = career(
        ssin="65031510158",  # a wrong checksum too: the dates answer first
        period=DatePeriod(begin=date(2001, 1, 1), end=date(2000, 1, 1)),
    )
    reply = consult(dataset, supplier, request)
    assert reply.status is codes.INVALID_DATA
    assert reply.ssin is None
    assert supplier.calls == []


def test_invalid_niss_is_msg00011(dataset: Dataset) -> None:
    supplier = ScriptedSupplier(career=found)
    reply = consult(dataset, supplier, career(ssin="65031510158"))
    assert (reply.status, reply.ssin) == (codes.SSIN_INVALID, None)
    assert supplier.calls == []


def test_client_integration_refusal_carries_the_ssin_status(dataset: Dataset) -> None:
    """R-20: MSG00012, with the `ssin` element of R-52 added by the pipeline."""
    supplier = ScriptedSupplier(career=found)
    request = career(
        customer=CPAS_NAMUR,
        legal_context="PCSA:SOCIAL_INQUIRY",
        period=DatePeriod(begin=date(1956, 7, 1), end=date(1956, 12, 31)),
    )
    reply = consult(dataset, supplier, request, client="cpas-namur")
    assert reply.status is codes.NOT_INTEGRATED_FOR_CLIENT
    assert reply.ssin == SsinStatus(ssin=SSIN)
    assert supplier.calls == []


# --- consulted and checked periods (R-33) ----------------------------------------------------


def period(begin: str, end: str | None = None) -> DatePeriod:
    return DatePeriod(begin=date.fromisoformat(begin), end=date.fromisoformat(end) if end else None)


@pytest.mark.parametrize(
    ("request_", "consulted"),
    [
        (career(period=None), period("1956-07-01")),
        (career(period=period("2000-01-01")), period("2000-01-01")),
        (career(period=period("2000-01-01", "2010-12-31")), period("2000-01-01", "2010-12-31")),
        (contributions("2024Q1", "2025Q4"), period("2024-01-01", "2025-12-31")),
        (contributions("2024Q2", "2024Q2"), period("2024-04-01", "2024-06-30")),
        (contributions("2024Q3", "2024Q3"), period("2024-07-01", "2024-09-30")),
        (contributions("2024Q1", "2024Q1"), period("2024-01-01", "2024-03-31")),
        (contributions("2023Q1", "2023Q1"), period("2023-01-01", "2023-03-31")),
        (contributions("2020Q4", None), period("2020-10-01")),
    ],
)
def test_consulted_period(request_: ConsultRequest, consulted: DatePeriod) -> None:
    """R-33: no period → from 1956-07-01, open; quarters → their first and last days."""
    assert consulted_period(request_) == consulted


@pytest.mark.parametrize(
    ("consulted", "checked"),
    [
        (period("1956-07-01"), period("1956-07-01", "2026-11-26")),
        (period("2000-01-01", "2010-12-31"), period("2000-01-01", "2010-12-31")),
        (period("2026-10-01", "2026-12-31"), period("2026-10-01", "2026-12-31")),
    ],
)
def test_checked_period(consulted: DatePeriod, checked: DatePeriod) -> None:
    """R-21, R-33: for the integration checks an open end reads as today."""
    assert checked_period(consulted, TODAY) == checked


def test_an_open_consultation_asks_inasti_for_a_future_activity(dataset: Dataset) -> None:
    """R-21 on the consulted period, not cut at today: on 2019-03-15, 72060120261 is known to
    INASTI from 2019-04-01; the client's checks (R-40 … R-46) still read the end as today."""
    supplier = ScriptedSupplier(career=found)
    early = Pipeline(
        annex=Annex.from_dataset(dataset),
        register=registers(dataset),
        repertory=registers(dataset),
        supplier=supplier,
        clock=FixedClock.parse("2019-03-15T10:00:00+01:00"),
    )
    request = career(ssin="72060120261", period=period("2019-01-01"))
    reply = run(early.consult(request, certificate("onss-inspection"), trace()))
    assert reply.status is not codes.NOT_INTEGRATED_AT_SUPPLIER
    assert supplier.calls == [("consultCareer", "72060120261", "2019-01-01", "None")]


def paid_in(*quarters: str) -> ScriptedSupplier:
    """A supplier that over-answers: these quarters, whatever was asked."""
    payments = tuple(
        ContributionPayment(quarter=q, fund=Fund(code="010"), situation=CODE) for q in quarters
    )
    return ScriptedSupplier(
        contributions=lambda ssin, begin, end: ContributionsAnswer(
            outcome=SupplierOutcome.FOUND, payments=payments
        )
    )


@pytest.mark.parametrize(
    ("begin", "end", "kept"),
    [
        ("2024Q1", "2024Q4", ["2024Q1", "2024Q4"]),
        ("2024Q2", "2024Q2", []),
        ("2024Q1", None, ["2024Q1", "2024Q4", "2025Q1"]),  # open end: up to the last known
    ],
)
def test_payments_outside_the_consulted_quarters_are_dropped(
    dataset: Dataset, begin: str, end: str | None, kept: list[str]
) -> None:
    """§6, R-66: every payment whose quarter falls inside the consulted period, and no other."""
    supplier = paid_in("2023Q4", "2024Q1", "2024Q4", "2025Q1")
    reply = consult(dataset, supplier, contributions(begin, end))
    if not kept:
        assert reply.status is codes.NO_DATA_FOUND
        assert [(i.field_name, i.field_value) for i in reply.information] == [
            ("Reason", "No data for requested period")
        ]
        assert reply.payments is None
        return
    assert reply.status is codes.DATA_FOUND
    assert [p.quarter for p in reply.payments or ()] == kept


# --- decision trail (issue #18) ----------------------------------------------------------------


def stages(exchange: ExchangeTrace) -> list[tuple[str, str, tuple[str, ...]]]:
    """The trail in short: stage, verdict and rules of each step."""
    return [(step.stage, step.verdict.value, step.rules) for step in exchange.decisions.steps]


PASSED_TO_THE_CALL = [
    ("authorisation", "passed", ("R-11", "R-12", "R-14", "R-13")),
    ("phase", "passed", ("R-60",)),
    ("dates", "passed", ("R-15", "R-30", "R-31", "R-32")),
    ("NISS", "passed", ("R-16", "R-17", "R-18")),
    ("integration", "passed", ("R-20", "R-40")),
    ("integration", "passed", ("R-21",)),
    ("supplier call", "passed", ("R-22",)),
]


def test_trail_of_a_career_found(dataset: Dataset) -> None:
    """Every stage that ran, in order, each with its facts; the reply (R-25) answers."""
    exchange = trace()
    checked = Pipeline(
        annex=Annex.from_dataset(dataset),
        register=registers(dataset),
        repertory=registers(dataset),
        supplier=ScriptedSupplier(career=found),
        clock=CLOCK,
        configuration="sha256:0123abcd",
    )
    run(checked.consult(career(), certificate("onss-inspection"), exchange))
    assert exchange.supplier_seconds is not None
    assert exchange.decisions.configuration == "sha256:0123abcd"
    assert exchange.decisions.steps == [
        Step(
            "authorisation",
            Verdict.PASSED,
            ("R-11", "R-12", "R-14", "R-13"),
            {"client": "onss-inspection"},
        ),
        Step("phase", Verdict.PASSED, ("R-60",), {"operation": "consultCareer"}),
        Step(
            "dates",
            Verdict.PASSED,
            ("R-15", "R-30", "R-31", "R-32"),
            {"period": "2000-01-01 … 2000-12-31"},
        ),
        Step("NISS", Verdict.PASSED, ("R-16", "R-17", "R-18"), {"register": "active"}),
        Step(
            "integration",
            Verdict.PASSED,
            ("R-20", "R-40"),
            {"integration": "integration not required (R-40)"},
        ),
        Step("integration", Verdict.PASSED, ("R-21",), {"inasti": "quality 2: 1990-01-01 …"}),
        Step(
            "supplier call",
            Verdict.PASSED,
            ("R-22",),
            {"duration_ms": round(exchange.supplier_seconds * 1000), "outcome": "FOUND"},
        ),
        Step("interpretation", Verdict.PASSED, ("R-23",), {"outcome": "FOUND"}),
        Step(
            "filtering",
            Verdict.PASSED,
            ("R-55", "R-24", "R-50"),
            {
                "received": 3,
                "kept": 1,
                "dropped": 2,
                "consulted": "2000-01-01 … 2000-12-31",
                "filters": [],
            },
        ),
        Step(
            "reply",
            Verdict.ANSWERED,
            ("R-25",),
            {"status": "MSG00000", "affiliations": 1, "segments": 1},
        ),
    ]
    assert exchange.decisions.deciding == exchange.decisions.steps[-1]


def test_trail_names_no_configuration_by_default(dataset: Dataset) -> None:
    exchange = trace()
    exchange.decisions.configuration = "left over"
    consult(dataset, ScriptedSupplier(career=found), career(), exchange=exchange)
    assert exchange.decisions.configuration is None


def test_trail_of_the_filters_of_the_client(dataset: Dataset) -> None:
    """R-50: cpas-namur's filters named in the filtering step."""
    exchange = trace()
    request = career(
        customer=CPAS_NAMUR,
        legal_context="PCSA:SOCIAL_INQUIRY",
        period=DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31)),
    )
    consult(dataset, ScriptedSupplier(career=found), request, "cpas-namur", exchange)
    filtering = [s for s in exchange.decisions.steps if s.stage == "filtering"]
    assert [s.facts["filters"] for s in filtering] == [["occupation", "signatureDate"]]


def test_trail_of_msg00012_is_the_deciding_integration_step(dataset: Dataset) -> None:
    """R-20: what the service desk reads for "why MSG00012?"."""
    exchange = trace()
    request = career(
        customer=CPAS_NAMUR,
        legal_context="PCSA:SOCIAL_INQUIRY",
        period=DatePeriod(begin=date(1956, 7, 1), end=date(1956, 12, 31)),
    )
    reply = consult(dataset, ScriptedSupplier(career=found), request, "cpas-namur", exchange)
    assert reply.status is codes.NOT_INTEGRATED_FOR_CLIENT
    assert stages(exchange) == [
        ("authorisation", "passed", ("R-11", "R-12", "R-14", "R-13")),
        ("phase", "passed", ("R-60",)),
        ("dates", "passed", ("R-15", "R-30", "R-31", "R-32")),
        ("NISS", "passed", ("R-16", "R-17", "R-18")),
        ("integration", "answered", ("R-20", "R-44", "R-46")),
    ]
    assert exchange.decisions.deciding == Step(
        "integration",
        Verdict.ANSWERED,
        ("R-20", "R-44", "R-46"),
        {
            "client": "cpas-namur",
            "mode": "FullyIncluded",
            "required": True,
            "quality_code": 1,
            "extension_days_before": 0,
            "extension_days_after": 0,
            "periods_after_extension": ["1985-01-01 …"],
            "other_quality_codes": [],
            "checked": "1956-07-01 … 1956-12-31",
            "cbe_number": "0212345668",
        },
        "the integration of cpas-namur for this person begins 1985-01-01; the checked period "
        "begins 1956-07-01; FullyIncluded requires it inside",
    )


def test_trail_of_a_career_outside_the_period_decides_in_filtering(dataset: Dataset) -> None:
    """R-55: FOUND, yet nothing in the consulted period: MSG00100 for the period, decided by
    the filtering step (no reply step after it)."""
    exchange = trace()
    reply = consult(
        dataset,
        ScriptedSupplier(career=found),
        career(period=period("2010-01-01")),
        exchange=exchange,
    )
    assert reply.status is codes.NO_DATA_FOUND
    assert stages(exchange) == [
        *PASSED_TO_THE_CALL[:2],
        ("dates", "passed", ("R-15", "R-30", "R-31", "R-32", "R-33")),
        *PASSED_TO_THE_CALL[3:],
        ("interpretation", "passed", ("R-23",)),
        ("filtering", "answered", ("R-55",)),
    ]
    deciding = exchange.decisions.deciding
    assert deciding is not None
    assert deciding.because == (
        "INASTI's 3 segments all lie outside the consulted period; they span "
        "1990-01-01 … 2005-12-31"
    )
    assert (deciding.facts["status"], deciding.facts["reason"]) == (
        "MSG00100",
        "No data for requested period",
    )


def test_trail_of_no_data_at_inasti_decides_in_interpretation(dataset: Dataset) -> None:
    exchange = trace()
    reply = consult(dataset, ScriptedSupplier(), career(), exchange=exchange)
    assert reply.status is codes.NO_DATA_FOUND
    assert stages(exchange) == [*PASSED_TO_THE_CALL, ("interpretation", "answered", ("R-23",))]
    deciding = exchange.decisions.deciding
    assert deciding is not None
    assert deciding.because == "INASTI answered that it has no data for this person"


def test_trail_of_contributions_found_and_of_none_in_the_quarters(dataset: Dataset) -> None:
    """§6, R-25: the quarters kept and dropped; the reply counts the contributions."""
    exchange = trace()
    consult(dataset, paid_in("2023Q4", "2024Q1", "2024Q4"), contributions(), exchange=exchange)
    assert stages(exchange) == [
        *PASSED_TO_THE_CALL[:2],
        ("dates", "passed", ("R-15", "R-34", "R-35", "R-36")),
        *PASSED_TO_THE_CALL[3:],
        ("interpretation", "passed", ("R-23",)),
        ("filtering", "passed", ("R-24",)),
        ("reply", "answered", ("R-25",)),
    ]
    filtering, reply = exchange.decisions.steps[-2:]
    assert (filtering.facts["quarters_kept"], filtering.facts["quarters_dropped"]) == (
        ["2024Q1", "2024Q4"],
        ["2023Q4"],
    )
    assert reply.facts == {"status": "MSG00000", "contributions": 2}
    nothing = trace()
    consult(dataset, paid_in("2023Q4"), contributions(), exchange=nothing)
    assert stages(nothing)[-1] == ("filtering", "answered", ("R-24",))


def test_trail_of_a_fault_is_recorded_before_it_is_raised(dataset: Dataset) -> None:
    """R-11, R-14, R-60, R-22: the step that answered is in the trail the fault leaves."""
    unknown = trace()
    with pytest.raises(GatewayFault):
        consult(dataset, ScriptedSupplier(), career(), "nobody-we-know", unknown)
    assert unknown.decisions.steps == [
        Step(
            "authorisation",
            Verdict.ANSWERED,
            ("R-11",),
            {"subject": "CN=nobody-we-know", "issuer": None},
            "no client of the annex is bound to this certificate (subject and issuer)",
        )
    ]
    suspended = trace()
    with pytest.raises(GatewayFault):
        consult(dataset, ScriptedSupplier(), career(), "suspended-institution", suspended)
    assert stages(suspended) == [("authorisation", "answered", ("R-12",))]
    no_l302 = trace()
    supplier = ScriptedSupplier(operations=frozenset({Operation.CONSULT_CAREER}))
    with pytest.raises(GatewayFault):
        consult(dataset, supplier, contributions(), exchange=no_l302)
    assert stages(no_l302) == [PASSED_TO_THE_CALL[0], ("phase", "answered", ("R-60",))]

    def failing(ssin: str, period: DatePeriod) -> CareerAnswer:
        raise SupplierError(codes.SUPPLIER_TIME_BUDGET, "ReadTimeout")

    timed_out = trace()
    with pytest.raises(GatewayFault):
        consult(dataset, ScriptedSupplier(career=failing), career(), exchange=timed_out)
    assert stages(timed_out) == [
        *PASSED_TO_THE_CALL[:-1],
        ("supplier call", "answered", ("R-22", "R-65")),
    ]
    deciding = timed_out.decisions.deciding
    assert deciding is not None
    assert deciding.facts["details"] == codes.SUPPLIER_TIME_BUDGET


def test_trail_of_an_inconsistent_entry(dataset: Dataset) -> None:
    clients = [
        c.model_copy(update={"filters": ["birthDate"]}) if c.id == "onss-inspection" else c
        for c in dataset.clients
    ]
    exchange = trace()
    with pytest.raises(GatewayFault):
        consult(
            dataset.model_copy(update={"clients": clients}),
            ScriptedSupplier(),
            career(),
            exchange=exchange,
        )
    assert stages(exchange) == [("authorisation", "answered", ("R-14",))]
    assert exchange.decisions.steps[0].facts["client"] == "onss-inspection"


@pytest.mark.parametrize(
    ("request_", "client", "last"),
    [
        # the legal context
        (career(legal_context="OTHER:ANY"), "onss-inspection", ("authorisation", ("R-13",))),
        # the dates
        (
            career(period=period("2001-01-01", "2000-01-01")),
            "onss-inspection",
            ("dates", ("R-31",)),
        ),
        # R-16 … R-18: the NISS
        (career(ssin="65031510158"), "onss-inspection", ("NISS", ("R-16",))),
        (career(ssin="75010199968"), "onss-inspection", ("NISS", ("R-17",))),
        (career(ssin="80022904503"), "onss-inspection", ("NISS", ("R-18",))),
        # unknown to INASTI
        (career(ssin="03050701202"), "onss-inspection", ("integration", ("R-21",))),
    ],
)
def test_the_stage_that_answers_is_the_last_step(
    dataset: Dataset,
    request_: CareerRequest,
    client: str,
    last: tuple[str, tuple[str, ...]],
) -> None:
    """The first stage that answers is the trail's deciding step, and nothing runs after it."""
    exchange = trace()
    consult(dataset, ScriptedSupplier(career=found), request_, client, exchange)
    steps = exchange.decisions.steps
    assert [s.verdict for s in steps[:-1]] == [Verdict.PASSED] * (len(steps) - 1)
    assert exchange.decisions.deciding == steps[-1]
    assert (steps[-1].stage, steps[-1].rules) == last
    assert steps[-1].because
