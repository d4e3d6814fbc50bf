"""INASTI's old flow L302 (transitional phase): protocol, conversion, adapter and simulator.

R-22 (MSG00002 details), R-55, R-60 (consultContributions unavailable), R-63 (conversion),
R-65 (time budget), R-66 (never a half-converted career). Most tests serve hand-written L302
documents or the simulator's pure answers through `httpx.MockTransport`; one test runs the
real Twisted simulator in a subprocess and calls `/inasti/L302`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import CareerEntry, Dataset, LocalizedTexts, load_dataset
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerAnswer,
    CareerSegment,
    CodedValue,
    DatePeriod,
    Description,
    ExchangeTrace,
    Fund,
    GatewayFault,
    Language,
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SimulatorSettings, SupplierSettings
from selfemployed_gateway.simulator.answers import GARBAGE_BODY, SimulatorAnswer
from selfemployed_gateway.simulator.l302 import answer_l302, answer_l302_career
from selfemployed_gateway.simulator.resource import (
    InastiSimulatorResource,
    simulator_l302_mapping,
)
from selfemployed_gateway.stages import supplier_call
from selfemployed_gateway.suppliers.final.protocol import career_request
from selfemployed_gateway.suppliers.l302.adapter import L302Supplier
from selfemployed_gateway.suppliers.l302.conversion import group_affiliations
from selfemployed_gateway.suppliers.l302.mapping import (
    L302Mapping,
    L302MappingError,
    load_l302_mapping,
)
from selfemployed_gateway.suppliers.l302.protocol import (
    SCHEMA,
    Attestation,
    CareerLine,
    Refusal,
    l302_request,
    l302_response,
    parse_begin,
    parse_end,
    read_l302_response,
)
from selfemployed_gateway.suppliers.soap11 import (
    body_payload,
    envelope,
    fault_envelope,
    is_fault,
    parse_document,
)
from tests.support.aio import run
from tests.support.mock_supplier import Handler, failure_of, fixed, raising, serving
from tests.support.simulator import simulator_on_free_port

ROOT = Path(__file__).resolve().parents[1]
MAPPING_FILE = ROOT / "config" / "l302-mapping.toml"
MAPPING = load_l302_mapping(MAPPING_FILE)
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))
URL = "http://inasti.test/inasti/L302"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
L302_NS = "urn:be:fgov:inasti:l302:v1"
WHOLE_CAREER = DatePeriod(begin=date(1956, 7, 1))
YEAR_2000 = DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31))

# People of the reference dataset.
MULTI = "65031510159"  # fund 010 (1990-1999, 2000-01..06 with equality 130), then fund 002
AIDANT = "72060120261"  # a segment of quality 200 (contribution 107, letter G)
INVESTIGATED = "85111115024"
SOAP_FAULT = "93030322213"
GARBAGE = "47061501777"
SLOW = "64082006457"
EARLY = "55121231183"  # career 1990-1995 only
NOBODY = "75010199968"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(ROOT / "config" / "reference-dataset.json")


@pytest.fixture(scope="module")
def calm(dataset: Dataset) -> Dataset:
    """The dataset without misbehaviours."""
    return dataset.model_copy(update={"simulator_behaviours": []})


def settings(url: str = URL, timeout: float = 2.0) -> SupplierSettings:
    return SupplierSettings(
        url="http://inasti.test/unused",
        l302_url=url,
        timeout_seconds=timeout,
        connect_timeout_seconds=0.5,
        max_connections=4,
    )


SupplierFactory = Callable[..., L302Supplier]


@pytest.fixture()
def supplier_with(dataset: Dataset) -> Iterator[SupplierFactory]:
    """Builds adapters on a MockTransport; closes them after the test."""
    made: list[L302Supplier] = []

    def make(handler: Handler, timeout: float = 2.0) -> L302Supplier:
        supplier = L302Supplier(
            settings(timeout=timeout),
            MAPPING,
            dataset.codes,
            dataset.funds,
            transport=httpx.MockTransport(handler),
        )
        made.append(supplier)
        return supplier

    yield make
    for supplier in made:
        run(supplier.aclose())


def simulator_handler(dataset: Dataset, seen: list[httpx.Request] | None = None) -> Handler:
    """Serves the L302 simulator's pure answers (delays ignored)."""
    return serving(lambda body: answer_l302(dataset, MAPPING, body, NOON), seen)


# --- hand-written L302 documents ----------------------------------------------------------


def response_document(inner: str) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
        f'<l302:L302Response xmlns:l302="{L302_NS}">{inner}</l302:L302Response>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def line(
    fund: str = "010",
    begin: str = "1990-01",
    end: str | None = "1999-12",
    category: str = "A",
    assimilation: str | None = None,
) -> str:
    parts = [f"<SIFCode>{fund}</SIFCode>", f"<BeginDate>{begin}</BeginDate>"]
    if end is not None:
        parts.append(f"<EndDate>{end}</EndDate>")
    parts.append(f"<ContributionCategory>{category}</ContributionCategory>")
    if assimilation is not None:
        parts.append(f"<AssimilationCode>{assimilation}</AssimilationCode>")
    return f"<CareerLine>{''.join(parts)}</CareerLine>"


def attestation(*lines: str, reference: str = "L3020000000101", cbe: str | None = None) -> bytes:
    number = "" if cbe is None else f"<SelfEmployedCBENumber>{cbe}</SelfEmployedCBENumber>"
    return response_document(
        f"<L302><AttestationID>{reference}</AttestationID>{number}{''.join(lines)}</L302>"
    )


def refusal(code: str, description: str | None = None) -> bytes:
    text = "" if description is None else f"<Description>{description}</Description>"
    return response_document(f"<Refusal><ReturnCode>{code}</ReturnCode>{text}</Refusal>")


def coded(table: dict[str, LocalizedTexts], code: str) -> CodedValue:
    texts = table[code]
    return CodedValue(
        code=code,
        descriptions=(
            Description(language=Language.FR, text=texts.FR),
            Description(language=Language.NL, text=texts.NL),
            Description(language=Language.DE, text=texts.DE),
        ),
    )


def career_of(answer: CareerAnswer) -> Career:
    assert answer.outcome is SupplierOutcome.FOUND and answer.career is not None
    return answer.career


def only_segment(career: Career) -> CareerSegment:
    (affiliation,) = career.affiliations
    (segment,) = affiliation.segments
    return segment


# --- conversion (R-63) --------------------------------------------------------------------


@pytest.mark.parametrize("letter", sorted(MAPPING.categories))
def test_every_category_letter_of_the_mapping(
    dataset: Dataset, supplier_with: SupplierFactory, letter: str
) -> None:
    body = attestation(line(begin="2001-03-15", end="2002-06-30", category=letter))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    entry = MAPPING.categories[letter]
    assert entry.quality in {"100", "300", "400"}
    assert segment == CareerSegment(
        period=DatePeriod(begin=date(2001, 3, 15), end=date(2002, 6, 30)),
        quality=coded(dataset.codes.selfEmployedQuality, entry.quality),
        contribution=coded(dataset.codes.contribution, entry.contribution),
    )


def test_helping_spouse_maxi_status_spelled_out(supplier_with: SupplierFactory) -> None:
    """Letter L, independently of the table lookups: quality 300, contribution 112."""
    body = attestation(line(category="L", assimilation="3C"))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    assert segment.quality == CodedValue(
        code="300",
        descriptions=(
            Description(language=Language.FR, text="Conjoint aidant"),
            Description(language=Language.NL, text="Meewerkende echtgenoot"),
            Description(language=Language.DE, text="Mithelfender Ehepartner"),
        ),
    )
    assert segment.contribution.code == "112"
    assert [d.text for d in segment.contribution.descriptions] == [
        "Conjoint aidant, maxi-statut",
        "Meewerkende echtgenoot, maxistatuut",
        "Mithelfender Ehepartner, Maxi-Statut",
    ]
    assert segment.equality is not None and segment.equality.code == "136"
    assert [d.language for d in segment.equality.descriptions] == [
        Language.FR,
        Language.NL,
        Language.DE,
    ]


@pytest.mark.parametrize("code", sorted(MAPPING.assimilations))
def test_every_assimilation_code_of_the_mapping(
    dataset: Dataset, supplier_with: SupplierFactory, code: str
) -> None:
    body = attestation(line(assimilation=code))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    assert segment.equality == coded(dataset.codes.equality, MAPPING.assimilations[code])


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


def test_career_header_and_funds(supplier_with: SupplierFactory) -> None:
    """AttestationID → nisseReference, CBE number kept, no occupation, no signature date; the
    fund's enterprise number from the fund table, none for an old fund or one not in it."""
    body = attestation(
        line(fund="010", begin="1970-01", end="1974-12"),
        line(fund="014", begin="1975-01", end="1979-12"),
        line(fund="055", begin="1980-01", end="1984-12"),
        reference="L30200000001",
        cbe="0567890161",
    )
    career = career_of(run(supplier_with(fixed(body)).consult_career(MULTI, WHOLE_CAREER)))
    assert career.nisse_reference == "L30200000001"
    assert career.enterprise_number == "0567890161"
    assert career.occupation is None
    assert [a.fund for a in career.affiliations] == [
        Fund(code="010", enterprise_number="0409085424"),
        Fund(code="014", enterprise_number=None),
        Fund(code="055", enterprise_number=None),
    ]
    assert all(a.signature_date is None for a in career.affiliations)


def fund_groups(career: Career) -> list[tuple[str, list[date]]]:
    return [(a.fund.code, [s.period.begin for s in a.segments]) for a in career.affiliations]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (  # consecutive lines of one fund: one affiliation; another fund: another one
            [
                line("010", "1990-01", "1999-12", "A"),
                line("010", "2000-01", "2000-06", "A", "30"),
                line("002", "2000-07", None, "D"),
            ],
            [("010", [date(1990, 1, 1), date(2000, 1, 1)]), ("002", [date(2000, 7, 1)])],
        ),
        (  # back to the first fund: a new affiliation
            [
                line("010", "1990-01", "1994-12"),
                line("002", "1995-01", "1999-12"),
                line("010", "2000-01", None),
            ],
            [
                ("010", [date(1990, 1, 1)]),
                ("002", [date(1995, 1, 1)]),
                ("010", [date(2000, 1, 1)]),
            ],
        ),
        (  # an interruption at the same fund: the affiliation is not uninterrupted
            [line("010", "1990-01", "1994-12"), line("010", "1996-01", "1999-12")],
            [("010", [date(1990, 1, 1)]), ("010", [date(1996, 1, 1)])],
        ),
        (  # day-granular continuation: the next day continues
            [line("010", "1990-01-01", "1994-06-14"), line("010", "1994-06-15", None, "D")],
            [("010", [date(1990, 1, 1), date(1994, 6, 15)])],
        ),
        (  # lines out of order are taken in date order
            [line("010", "2000-01", "2000-06", "D"), line("010", "1990-01", "1999-12")],
            [("010", [date(1990, 1, 1), date(2000, 1, 1)])],
        ),
    ],
    ids=["two-funds", "back-to-first-fund", "interruption", "next-day", "unordered"],
)
def test_lines_grouped_into_affiliations(
    supplier_with: SupplierFactory, lines: list[str], expected: list[tuple[str, list[date]]]
) -> None:
    career = career_of(
        run(supplier_with(fixed(attestation(*lines))).consult_career(MULTI, WHOLE_CAREER))
    )
    assert fund_groups(career) == expected


def test_grouping_keeps_every_line() -> None:
    lines = [
        CareerLine("010", date(1990, 1, 1), date(1990, 12, 31), "A"),
        CareerLine("010", date(1991, 1, 1), None, "D"),
        CareerLine("002", date(1985, 1, 1), date(1989, 12, 31), "A"),
    ]
    groups = group_affiliations(lines)
    assert [[item.begin.year for item in group] for group in groups] == [[1985], [1990, 1991]]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (attestation(line(category="Z")), "'Z'"),
        (attestation(line(), line("002", "2000-01", None, "B")), "'B'"),  # after a good line
        (attestation(line(assimilation="3K")), "'3K'"),
    ],
    ids=["unknown-letter", "unknown-letter-after-a-good-line", "unknown-assimilation"],
)
def test_unmapped_code_is_msg00002_naming_it(
    supplier_with: SupplierFactory, body: bytes, named: str
) -> None:
    answers: list[object] = []
    supplier = supplier_with(fixed(body))
    error = failure_of(lambda: answers.append(run(supplier.consult_career(MULTI, WHOLE_CAREER))))
    assert error.details == codes.SUPPLIER_UNEXPECTED_RESPONSE
    assert named in error.cause and "L302 mapping" in error.cause
    assert answers == []  # never a half-converted career


# --- outcomes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (refusal("NOT_FOUND", "unknown"), SupplierOutcome.NO_DATA_FOR_PERSON),
        (refusal("NOT_FOUND"), SupplierOutcome.NO_DATA_FOR_PERSON),
        (refusal("UNDER_INVESTIGATION"), SupplierOutcome.UNDER_INVESTIGATION),
        (attestation(), SupplierOutcome.NO_DATA_FOR_PERIOD),
        (attestation(cbe="0567890161"), SupplierOutcome.NO_DATA_FOR_PERIOD),
    ],
    ids=["not-found", "not-found-bare", "under-investigation", "no-line", "no-line-with-cbe"],
)
def test_outcomes_without_career(
    supplier_with: SupplierFactory, body: bytes, expected: SupplierOutcome
) -> None:
    answer = run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000))
    assert answer == CareerAnswer(outcome=expected)


def test_unknown_return_code(supplier_with: SupplierFactory) -> None:
    supplier = supplier_with(fixed(refusal("BLOCKED", "access refused")))
    error = failure_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000)))
    assert error.details == codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    assert "'BLOCKED'" in error.cause


def test_no_l302_element(supplier_with: SupplierFactory) -> None:
    supplier = supplier_with(fixed(response_document("")))
    error = failure_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000)))
    assert error.details == codes.SUPPLIER_NO_L302_ELEMENT


def test_consult_contributions_is_not_available(supplier_with: SupplierFactory) -> None:
    """R-60: the gateway answers MSG00025; INASTI is not even called."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    supplier = supplier_with(handle)
    assert Operation.CONSULT_CONTRIBUTIONS not in supplier.operations
    with pytest.raises(GatewayFault) as caught:
        supplier_call.check_available(supplier, Operation.CONSULT_CONTRIBUTIONS)
    assert caught.value.code is codes.NOT_AVAILABLE
    assert [(i.field_name, i.field_value) for i in caught.value.information] == [
        ("operation not supported", "consultContributions")
    ]
    assert seen == []


# --- failures: exact details (R-22, R-65, R-66) -------------------------------------------

GOOD = attestation(line(), reference="L3020000000101", cbe="0567890161")
GOOD_TEXT = GOOD.decode()


def corrupt(old: str, new: str) -> bytes:
    assert old in GOOD_TEXT
    return GOOD_TEXT.replace(old, new, 1).encode()


FAILURES: list[tuple[str, Handler, str]] = [
    (
        "soap-fault-500",
        fixed(fault_envelope("Server", "boom"), 500),
        codes.SUPPLIER_L302_SOAP_FAULT,
    ),
    (
        "soap-fault-200",
        fixed(fault_envelope("Server", "boom"), 200),
        codes.SUPPLIER_L302_SOAP_FAULT,
    ),
    (
        "soap-fault-502",
        fixed(fault_envelope("Server", "boom"), 502),
        codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
    ),
    (
        "http-500-not-xml",
        fixed(b"Internal Server Error", 500),
        codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
    ),
    ("http-503", fixed(b"", 503), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
    ("http-302", fixed(GOOD, 302), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
    (
        "connection-refused",
        raising(httpx.ConnectError("refused")),
        codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
    ),
    ("read-timeout", raising(httpx.ReadTimeout("slow")), codes.SUPPLIER_TIME_BUDGET),
    ("empty-body", fixed(b""), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ("not-xml", fixed(GARBAGE_BODY), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ("not-soap", fixed(b"<html><body>Gateway</body></html>"), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ("truncated", fixed(GOOD[: len(GOOD) // 2]), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    (
        "wrong-body-element",
        fixed(envelope(l302_request(MULTI, YEAR_2000))),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    (
        "final-phase-answer",
        fixed(envelope(career_request(MULTI, YEAR_2000))),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    ("unknown-child", fixed(response_document("<Surprise/>")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    (
        "l302-and-refusal",
        fixed(
            response_document(
                "<L302><AttestationID>X</AttestationID></L302>"
                "<Refusal><ReturnCode>NOT_FOUND</ReturnCode></Refusal>"
            )
        ),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    ("lowercase-letter", fixed(corrupt(">A<", ">a<")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ("two-letters", fixed(corrupt(">A<", ">AB<")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ("short-fund", fixed(corrupt(">010<", ">10<")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ("bad-cbe", fixed(corrupt(">0567890161<", ">2567890161<")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    (
        "long-attestation",
        fixed(corrupt(">L3020000000101<", ">L302000000010199<")),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    ("month-13", fixed(corrupt(">1990-01<", ">1990-13<")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    (
        "february-30",
        fixed(corrupt(">1990-01<", ">1990-02-30<")),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    (
        "date-with-zone",
        fixed(corrupt(">1990-01<", ">1990-01-01Z<")),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    ("year-only", fixed(corrupt(">1990-01<", ">1990<")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
    (
        "ends-before-begin",
        fixed(corrupt(">1999-12<", ">1989-12<")),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    (
        "qualified-child",
        fixed(corrupt("<L302>", "<l302:L302>").replace(b"</L302>", b"</l302:L302>")),
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
    ),
    ("empty-return-code", fixed(refusal("")), codes.SUPPLIER_UNEXPECTED_RESPONSE),
]


@pytest.mark.parametrize(
    ("handler", "details"),
    [(handler, details) for _, handler, details in FAILURES],
    ids=[name for name, _, _ in FAILURES],
)
def test_failure_details(supplier_with: SupplierFactory, handler: Handler, details: str) -> None:
    answers: list[object] = []
    supplier = supplier_with(handler)
    error = failure_of(lambda: answers.append(run(supplier.consult_career(MULTI, YEAR_2000))))
    assert error.details == details
    assert answers == []


def test_soap_fault_cause_names_the_fault(supplier_with: SupplierFactory) -> None:
    supplier = supplier_with(fixed(fault_envelope("Server", "RGTI down"), 500))
    error = failure_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000)))
    assert "HTTP 500" in error.cause and "RGTI down" in error.cause


def test_entities_are_refused(supplier_with: SupplierFactory) -> None:
    body = GOOD_TEXT.replace("L3020000000101", "&ref;")
    doctype = '<!DOCTYPE soapenv:Envelope [<!ENTITY ref "L3020000000101">]>'
    supplier = supplier_with(fixed((doctype + body).encode()))
    error = failure_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000)))
    assert error.details == codes.SUPPLIER_UNEXPECTED_RESPONSE


def test_total_deadline_cuts_a_trickling_answer(supplier_with: SupplierFactory) -> None:
    """R-65: each chunk in time for httpx, together over the budget."""

    async def trickle() -> AsyncIterator[bytes]:
        for index in range(0, len(GOOD), 32):
            await asyncio.sleep(0.1)
            yield GOOD[index : index + 32]

    supplier = supplier_with(lambda r: httpx.Response(200, content=trickle()), timeout=0.5)
    started = time.monotonic()
    error = failure_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000)))
    assert error.details == codes.SUPPLIER_TIME_BUDGET
    assert time.monotonic() - started < 1.0


# --- the request, the timing of a call ------------------------------------------------------------


def test_request_is_a_valid_l302_message(dataset: Dataset, supplier_with: SupplierFactory) -> None:
    seen: list[httpx.Request] = []
    supplier = supplier_with(simulator_handler(dataset, seen))
    run(supplier.consult_career(MULTI, YEAR_2000))
    run(supplier.consult_career(MULTI, DatePeriod(begin=date(2000, 1, 1))))
    closed, open_ended = seen
    assert closed.method == "POST" and str(closed.url) == URL
    assert closed.headers["SOAPAction"] == '"urn:be:fgov:inasti:l302:v1/consultRGTI"'
    assert closed.headers["Content-Type"] == "text/xml; charset=utf-8"
    payload = body_payload(parse_document(closed.content))
    assert SCHEMA.first_error(payload) is None
    assert payload.tag == f"{{{L302_NS}}}L302Request"
    assert [(child.tag, child.text) for child in payload] == [
        ("SSIN", MULTI),
        ("BeginDate", "2000-01-01"),
        ("EndDate", "2000-12-31"),
    ]
    assert body_payload(parse_document(open_ended.content)).find("EndDate") is None


def test_each_call_is_timed_once_in_the_trace(
    dataset: Dataset, supplier_with: SupplierFactory
) -> None:
    """One timing per call, by the pipeline's supplier-call stage (R-22): outcome and seconds."""
    supplier = supplier_with(simulator_handler(dataset))
    traces = [ExchangeTrace(ticket_cbss=f"t{i}", received=NOON) for i in range(3)]
    run(supplier_call.call_career(supplier, MULTI, YEAR_2000, traces[0]))
    run(supplier_call.call_career(supplier, NOBODY, YEAR_2000, traces[1]))
    with pytest.raises(GatewayFault):
        run(supplier_call.call_career(supplier, SOAP_FAULT, YEAR_2000, traces[2]))
    assert [trace.supplier_outcome for trace in traces] == [
        "FOUND",
        "NO_DATA_FOR_PERSON",
        codes.SUPPLIER_L302_SOAP_FAULT,
    ]
    assert all(t.supplier_seconds is not None and t.supplier_seconds < 1 for t in traces)


def test_a_failed_call_is_logged_with_its_cause_and_no_niss(
    dataset: Dataset, supplier_with: SupplierFactory, caplog: pytest.LogCaptureFixture
) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    trace = ExchangeTrace(ticket_cbss="t", received=NOON)
    with pytest.raises(GatewayFault):
        run(supplier_call.call_career(supplier, SOAP_FAULT, YEAR_2000, trace))
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("supplier_call")]
    assert len(warnings) == 1
    assert codes.SUPPLIER_L302_SOAP_FAULT in warnings[0]
    assert "HTTP 500, SOAP Fault" in warnings[0]
    assert SOAP_FAULT not in warnings[0]


def test_mapping_codes_must_have_descriptions(dataset: Dataset) -> None:
    mapping = L302Mapping.model_validate(
        {"categories": {"A": {"quality": "100", "contribution": "199"}}, "assimilations": {}}
    )
    with pytest.raises(L302MappingError, match="contribution 199"):
        L302Supplier(settings(), mapping, dataset.codes, dataset.funds)


# --- the simulator ------------------------------------------------------------------------


def valid_payload(answer: SimulatorAnswer) -> etree._Element:
    payload = body_payload(parse_document(answer.body))
    assert SCHEMA.first_error(payload) is None, SCHEMA.first_error(payload)
    return payload


PERIODS = [
    WHOLE_CAREER,
    YEAR_2000,
    DatePeriod(begin=date(2026, 1, 1)),
    DatePeriod(begin=date(1960, 1, 1), end=date(1960, 12, 31)),
]


def test_every_answer_of_the_dataset_is_valid_against_the_xsd(dataset: Dataset) -> None:
    for entry in dataset.careers:
        for period in PERIODS:
            answer = answer_l302_career(dataset, MAPPING, entry.ssin, period, NOON)
            if answer.body != GARBAGE_BODY and answer.status == 200:
                valid_payload(answer)


def test_simulator_answers_lines_of_the_period_with_month_dates(dataset: Dataset) -> None:
    answer = answer_l302_career(dataset, MAPPING, MULTI, YEAR_2000, NOON)
    assert read_l302_response(valid_payload(answer)) == Attestation(
        attestation_id="L3020000000101",
        enterprise_number="0567890161",
        lines=(
            CareerLine("010", date(2000, 1, 1), date(2000, 6, 30), "A", "30"),
            CareerLine("002", date(2000, 7, 1), None, "D"),
        ),
    )
    assert b"<BeginDate>2000-01</BeginDate><EndDate>2000-06</EndDate>" in answer.body


@pytest.mark.parametrize(
    ("ssin", "period", "expected"),
    [
        (NOBODY, WHOLE_CAREER, Refusal("NOT_FOUND", "Person unknown in the RGTI repertory")),
        (INVESTIGATED, WHOLE_CAREER, Refusal("UNDER_INVESTIGATION", "File under investigation.")),
        (EARLY, YEAR_2000, Attestation("L3020000000707", None, ())),
    ],
)
def test_simulator_outcomes(
    dataset: Dataset, ssin: str, period: DatePeriod, expected: Attestation | Refusal
) -> None:
    answer = answer_l302_career(dataset, MAPPING, ssin, period, NOON)
    assert answer.status == 200
    assert read_l302_response(valid_payload(answer)) == expected


def test_simulator_misbehaviours(dataset: Dataset) -> None:
    fault = answer_l302_career(dataset, MAPPING, SOAP_FAULT, WHOLE_CAREER, NOON)
    assert fault.status == 500 and is_fault(body_payload(parse_document(fault.body)))
    garbage = answer_l302_career(dataset, MAPPING, GARBAGE, WHOLE_CAREER, NOON)
    assert (garbage.status, garbage.body) == (200, GARBAGE_BODY)
    slow = answer_l302_career(dataset, MAPPING, SLOW, WHOLE_CAREER, NOON)
    assert slow.delay_seconds == 30 and slow.status == 200
    valid_payload(slow)


@pytest.mark.parametrize(
    ("ssin", "details"),
    [
        (SOAP_FAULT, codes.SUPPLIER_L302_SOAP_FAULT),
        (GARBAGE, codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ],
)
def test_misbehaving_simulator_through_the_adapter(
    dataset: Dataset, supplier_with: SupplierFactory, ssin: str, details: str
) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    assert failure_of(lambda: run(supplier.consult_career(ssin, YEAR_2000))).details == details


def test_simulator_without_a_reverse_code_is_a_server_fault(dataset: Dataset) -> None:
    partial = L302Mapping.model_validate(
        {"categories": {"D": {"quality": "100", "contribution": "104"}}}
    )
    answer = answer_l302_career(dataset, partial, MULTI, WHOLE_CAREER, NOON)
    assert answer.status == 500
    assert "101" in str(body_payload(parse_document(answer.body)).findtext("faultstring"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        envelope(career_request(MULTI, YEAR_2000)),  # the final-phase protocol
        envelope(l302_response(Refusal("NOT_FOUND"))),  # an answer, not a request
        envelope(l302_request("123", YEAR_2000)),  # not a NISS
    ],
)
def test_unreadable_l302_request_is_a_client_fault(dataset: Dataset, body: bytes) -> None:
    answer = answer_l302(dataset, MAPPING, body, NOON)
    assert answer.status == 500
    assert body_payload(parse_document(answer.body)).findtext("faultcode") == "soapenv:Client"


# --- end to end: dataset career → simulator L302 → adapter → Career (R-63) ----------------


def expected_career(dataset: Dataset, entry: CareerEntry, period: DatePeriod) -> Career:
    """The dataset career as L302 can carry it: no occupation, no signature date, quality
    200 ("aidant", not derivable) as 100, descriptions from the code tables."""
    tables = dataset.codes
    affiliations = []
    for affiliation in entry.affiliations:
        segments = tuple(
            CareerSegment(
                period=DatePeriod(begin=segment.begin, end=segment.end),
                quality=coded(
                    tables.selfEmployedQuality,
                    "100" if segment.quality == "200" else segment.quality,
                ),
                contribution=coded(tables.contribution, segment.contribution),
                equality=None
                if segment.equality is None
                else coded(tables.equality, segment.equality),
            )
            for segment in affiliation.segments
            if DatePeriod(begin=segment.begin, end=segment.end).overlaps(period)
        )
        if segments:
            fund = dataset.fund(affiliation.fund)
            affiliations.append(
                Affiliation(
                    fund=Fund(
                        code=affiliation.fund,
                        enterprise_number=None if fund is None else fund.enterpriseNumber,
                    ),
                    segments=segments,
                )
            )
    return Career(
        nisse_reference="L302" + entry.nisseReference.removeprefix("RGTI"),
        enterprise_number=entry.selfEmployedEnterpriseNumber,
        affiliations=tuple(affiliations),
    )


@pytest.mark.parametrize("period", [WHOLE_CAREER, YEAR_2000], ids=["whole", "2000"])
def test_round_trip_of_every_career(
    calm: Dataset, supplier_with: SupplierFactory, period: DatePeriod
) -> None:
    supplier = supplier_with(simulator_handler(calm))
    found = 0
    for entry in calm.careers:
        expected = expected_career(calm, entry, period)
        answer = run(supplier.consult_career(entry.ssin, period))
        if not expected.affiliations:
            assert answer == CareerAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERIOD)
            continue
        assert answer == CareerAnswer(outcome=SupplierOutcome.FOUND, career=expected), entry.ssin
        found += 1
    assert found >= (len(calm.careers) if period == WHOLE_CAREER else 3)


def test_round_trip_turns_aidant_into_100(calm: Dataset, supplier_with: SupplierFactory) -> None:
    entry = next(e for e in calm.careers if e.ssin == AIDANT)
    assert "200" in {s.quality for a in entry.affiliations for s in a.segments}
    career = career_of(
        run(supplier_with(simulator_handler(calm)).consult_career(AIDANT, WHOLE_CAREER))
    )
    qualities = [s.quality.code for a in career.affiliations for s in a.segments]
    assert qualities == ["100", "100", "100"]
    assert [s.contribution.code for a in career.affiliations for s in a.segments] == [
        "101",
        "107",
        "101",
    ]


# --- the mapping loader -------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_MAPPING = """
[categories.A]
quality = "100"
contribution = "101"
[assimilations]
"30" = "130"
"""


def test_shipped_mapping_loads() -> None:
    assert set(MAPPING.categories) >= {"A", "D", "L", "Q"}
    assert {entry.quality for entry in MAPPING.categories.values()} <= {"100", "300", "400"}


def test_reverse_lookups() -> None:
    assert MAPPING.letter_for("101") == "A"
    assert MAPPING.letter_for("112") == "L"
    assert MAPPING.letter_for("999") is None
    assert MAPPING.assimilation_for("130") == "30"
    assert MAPPING.assimilation_for("999") is None
    shared = L302Mapping.model_validate(
        {
            "categories": {
                "Q": {"quality": "300", "contribution": "117"},
                "J": {"quality": "100", "contribution": "117"},
            }
        }
    )
    assert shared.letter_for("117") == "J"  # the first in alphabetical order


def test_integers_are_read_as_codes(tmp_path: Path) -> None:
    mapping = load_l302_mapping(
        write(tmp_path, "[categories.A]\nquality = 100\ncontribution = 101\n")
    )
    assert mapping.categories["A"].quality == "100" and mapping.assimilations == {}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            GOOD_MAPPING.replace('quality = "100"', 'quality = "200"'),
            ["categories.A.quality", "100, 300 or 400", "'200'"],
        ),
        (
            GOOD_MAPPING.replace("[categories.A]", "[categories.a]"),
            ["categories.a (key)"],
        ),
        (
            GOOD_MAPPING.replace("[categories.A]", "[categories.AB]"),
            ["categories.AB (key)"],
        ),
        (
            GOOD_MAPPING.replace('contribution = "101"', 'contribution = "99"'),
            ["categories.A.contribution"],
        ),
        (GOOD_MAPPING.replace('"30" = "130"', '"3" = "130"'), ["assimilations.3 (key)"]),
        (GOOD_MAPPING.replace('"30" = "130"', '"30" = "1300"'), ["assimilations.30"]),
        (GOOD_MAPPING + "\n[extra]\nx = 1\n", ["extra", "Extra inputs"]),
        (
            GOOD_MAPPING.replace('contribution = "101"', 'contribution = "101"\nnote = "x"'),
            ["categories.A.note"],
        ),
        ("[assimilations]\n", ["categories", "Field required"]),
        ("[categories]\n", ["categories", "at least 1"]),
        ("[categories.A\n", ["not valid TOML"]),
    ],
    ids=[
        "quality-200",
        "lowercase-letter",
        "two-letters",
        "contribution-pattern",
        "assimilation-key",
        "equality-pattern",
        "unknown-section",
        "unknown-field",
        "no-categories",
        "empty-categories",
        "not-toml",
    ],
)
def test_mapping_errors_name_the_file_and_the_field(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(L302MappingError) as caught:
        load_l302_mapping(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message
    assert isinstance(caught.value, ConfigurationError)


def test_missing_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(L302MappingError, match="cannot read"):
        load_l302_mapping(path)


# --- the simulator's resource and configuration -------------------------------------------


def post(resource: InastiSimulatorResource, path: list[bytes], body: bytes) -> DummyRequest:
    request = DummyRequest(path)
    request.method = b"POST"
    request.content = BytesIO(body)
    result = resource.render(request)
    assert isinstance(result, bytes)
    request.written.append(result)
    return request


def test_resource_dispatches_on_the_path(dataset: Dataset, tmp_path: Path) -> None:
    settings = SimulatorSettings(dataset=tmp_path / "d.json")
    resource = InastiSimulatorResource(
        dataset, settings, Clock(), now=lambda: NOON, l302_mapping=MAPPING
    )
    l302 = post(resource, [b"inasti", b"L302"], envelope(l302_request(MULTI, YEAR_2000)))
    expected = answer_l302(dataset, MAPPING, envelope(l302_request(MULTI, YEAR_2000)), NOON)
    assert (l302.responseCode, b"".join(l302.written)) == (200, expected.body)
    final = post(
        resource, [b"inasti", b"SelfEmployedService"], envelope(career_request(MULTI, YEAR_2000))
    )
    assert final.responseCode == 200 and b"RGTI0000000101" in b"".join(final.written)
    # Each path speaks its own protocol only.
    wrong = post(resource, [b"inasti", b"L302"], envelope(career_request(MULTI, YEAR_2000)))
    assert wrong.responseCode == 500


def test_resource_without_mapping_answers_l302_with_a_fault(
    dataset: Dataset, tmp_path: Path
) -> None:
    resource = InastiSimulatorResource(
        dataset, SimulatorSettings(dataset=tmp_path / "d.json"), Clock()
    )
    request = post(resource, [b"inasti", b"L302"], envelope(l302_request(MULTI, YEAR_2000)))
    assert request.responseCode == 500
    assert b"not configured" in b"".join(request.written)


def test_simulator_mapping_setting(tmp_path: Path) -> None:
    dataset_file = ROOT / "config" / "reference-dataset.json"
    assert simulator_l302_mapping(SimulatorSettings(dataset=dataset_file)) == MAPPING
    assert simulator_l302_mapping(SimulatorSettings(dataset=tmp_path / "d.json")) is None
    broken = write(tmp_path, "[categories.A]\nquality = 200\ncontribution = 101\n")
    with pytest.raises(L302MappingError):
        simulator_l302_mapping(SimulatorSettings(dataset=dataset_file, l302_mapping=broken))


# --- the real simulator over HTTP ---------------------------------------------------------


@pytest.fixture()
def simulator_port(tmp_path: Path) -> Iterator[int]:
    """The Twisted simulator in a subprocess, on a free port of 127.0.0.1."""
    with simulator_on_free_port(tmp_path, NOON) as port:
        yield port


def test_against_the_real_simulator(dataset: Dataset, simulator_port: int) -> None:
    url = f"http://127.0.0.1:{simulator_port}/inasti/L302"
    supplier = L302Supplier(settings(url, timeout=1.0), MAPPING, dataset.codes, dataset.funds)
    raw_client = httpx.Client(trust_env=False)  # no proxy from the environment for loopback
    try:
        assert supplier.is_reachable()
        multi = next(entry for entry in dataset.careers if entry.ssin == MULTI)
        assert run(supplier.consult_career(MULTI, YEAR_2000)) == CareerAnswer(
            outcome=SupplierOutcome.FOUND, career=expected_career(dataset, multi, YEAR_2000)
        )
        request = envelope(l302_request(MULTI, YEAR_2000))
        raw = raw_client.post(url, content=request)
        expected = answer_l302(dataset, MAPPING, request, NOON)
        assert (raw.status_code, raw.content) == (200, expected.body)
        assert run(supplier.consult_career(NOBODY, YEAR_2000)).outcome is (
            SupplierOutcome.NO_DATA_FOR_PERSON
        )
        for ssin, details in [
            (GARBAGE, codes.SUPPLIER_UNEXPECTED_RESPONSE),
            (SOAP_FAULT, codes.SUPPLIER_L302_SOAP_FAULT),
        ]:
            assert failure_of(
                lambda s=ssin: run(supplier.consult_career(s, YEAR_2000))
            ).details == (details)
        started = time.monotonic()
        assert failure_of(lambda: run(supplier.consult_career(SLOW, YEAR_2000))).details == (
            codes.SUPPLIER_TIME_BUDGET
        )
        assert 0.9 <= time.monotonic() - started < 1.5
        assert run(supplier.consult_career(MULTI, YEAR_2000)).outcome is SupplierOutcome.FOUND
    finally:
        run(supplier.aclose())
        raw_client.close()
