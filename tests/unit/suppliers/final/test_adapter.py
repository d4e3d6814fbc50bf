"""The final-phase INASTI adapter (R-22, R-61, R-65, R-66) against the simulator's answers.

Most tests serve the simulator's pure answers through `httpx.MockTransport`; one test runs the
real Twisted simulator in a subprocess.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import Dataset, load_dataset
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerAnswer,
    CareerSegment,
    CodedValue,
    ContributionPayment,
    ContributionsAnswer,
    DatePeriod,
    Description,
    Fund,
    Language,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.simulator.final import answer_career, answer_request
from selfemployed_gateway.suppliers.final.adapter import InastiFinalSupplier
from selfemployed_gateway.suppliers.final.protocol import (
    SCHEMA,
    ResultCode,
    career_request,
    career_response,
    contributions_response,
)
from selfemployed_gateway.suppliers.http import MAX_ANSWER_BYTES
from selfemployed_gateway.suppliers.soap11 import (
    body_payload,
    envelope,
    fault_envelope,
    parse_document,
)
from tests.support.aio import run
from tests.support.mock_supplier import Handler, failure_of, fixed, raising, serving
from tests.support.paths import PROJECT
from tests.support.ports import free_port

ROOT = PROJECT
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))
URL = "http://inasti.test/inasti/SelfEmployedService"
YEAR_2000 = DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31))
MULTI = "65031510159"
SLOW = "64082006457"
GARBAGE = "47061501777"
SOAP_FAULT = "93030322213"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(ROOT / "config" / "reference-dataset.json")


def settings(url: str = URL, timeout: float = 2.0) -> SupplierSettings:
    return SupplierSettings(
        url=url, timeout_seconds=timeout, connect_timeout_seconds=0.5, max_connections=4
    )


def supplier_with(handler: Handler, timeout: float = 2.0) -> InastiFinalSupplier:
    return InastiFinalSupplier(settings(timeout=timeout), transport=httpx.MockTransport(handler))


def simulator_handler(dataset: Dataset, seen: list[httpx.Request] | None = None) -> Handler:
    """Serves the simulator's pure answers (delays ignored)."""
    return serving(lambda body: answer_request(dataset, body, NOON), seen)


def details_of(call: Callable[[], object]) -> str:
    return failure_of(call).details


def texts(fr: str, nl: str, de: str) -> tuple[Description, ...]:
    return (
        Description(language=Language.FR, text=fr),
        Description(language=Language.NL, text=nl),
        Description(language=Language.DE, text=de),
    )


INDEPENDENT = CodedValue(
    code="100", descriptions=texts("Travailleur indépendant", "Zelfstandige", "Selbständiger")
)
EXPECTED_CAREER_2000 = Career(
    nisse_reference="RGTI0000000101",
    enterprise_number="0567890161",
    occupation=CodedValue(
        code="620100",
        descriptions=texts(
            "Programmation informatique", "Computerprogrammering", "Programmierungstätigkeiten"
        ),
    ),
    affiliations=(
        Affiliation(
            fund=Fund(code="010", enterprise_number="0409085424"),
            signature_date=date(1989, 12, 15),
            segments=(
                CareerSegment(
                    period=DatePeriod(begin=date(2000, 1, 1), end=date(2000, 6, 30)),
                    quality=INDEPENDENT,
                    contribution=CodedValue(
                        code="101",
                        descriptions=texts("À titre principal", "In hoofdberoep", "Hauptberuflich"),
                    ),
                    equality=CodedValue(
                        code="130",
                        descriptions=texts(
                            "Assimilation: maladie",
                            "Gelijkstelling: ziekte",
                            "Gleichstellung: Krankheit",
                        ),
                    ),
                ),
            ),
        ),
        Affiliation(
            fund=Fund(code="002", enterprise_number="0409081464"),
            signature_date=date(2000, 6, 20),
            segments=(
                CareerSegment(
                    period=DatePeriod(begin=date(2000, 7, 1)),
                    quality=INDEPENDENT,
                    contribution=CodedValue(
                        code="104",
                        descriptions=texts(
                            "À titre complémentaire", "In bijberoep", "Nebenberuflich"
                        ),
                    ),
                ),
            ),
        ),
    ),
)


def paid(quarter: str) -> ContributionPayment:
    return ContributionPayment(
        quarter=quarter,
        fund=Fund(code="002", enterprise_number="0409081464"),
        situation=CodedValue(
            code="01",
            descriptions=texts("Cotisations payées", "Bijdragen betaald", "Beiträge gezahlt"),
        ),
        ziv=CodedValue(
            code="1",
            descriptions=texts(
                "En ordre d'assurabilité AMI",
                "In orde van verzekerbaarheid ZIV",
                "Versicherungsfähigkeit KIV in Ordnung",
            ),
        ),
    )


# --- answers that become records ----------------------------------------------------------


def test_found_career_is_exactly_the_records(dataset: Dataset) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    answer = run(supplier.consult_career(MULTI, YEAR_2000))
    assert answer == CareerAnswer(outcome=SupplierOutcome.FOUND, career=EXPECTED_CAREER_2000)


def test_found_contributions_are_exactly_the_records(dataset: Dataset) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    answer = run(supplier.consult_contributions(MULTI, "2015Q1", "2015Q2"))
    assert answer == ContributionsAnswer(
        outcome=SupplierOutcome.FOUND, payments=(paid("2015Q1"), paid("2015Q2"))
    )


@pytest.mark.parametrize(
    ("ssin", "expected"),
    [
        ("75010199968", SupplierOutcome.NO_DATA_FOR_PERSON),
        ("55121231183", SupplierOutcome.NO_DATA_FOR_PERIOD),  # career 1990-1995 only
        ("85111115024", SupplierOutcome.UNDER_INVESTIGATION),
    ],
)
def test_career_outcomes(dataset: Dataset, ssin: str, expected: SupplierOutcome) -> None:
    answer = run(supplier_with(simulator_handler(dataset)).consult_career(ssin, YEAR_2000))
    assert answer == CareerAnswer(outcome=expected)


@pytest.mark.parametrize(
    ("ssin", "begin", "expected"),
    [
        ("58112403357", "2015Q1", SupplierOutcome.NO_DATA_FOR_PERSON),
        (MULTI, "2010Q1", SupplierOutcome.NO_DATA_FOR_PERIOD),
        ("61093008964", "2015Q1", SupplierOutcome.FUND_TIMEOUT),
    ],
)
def test_contributions_outcomes(
    dataset: Dataset, ssin: str, begin: str, expected: SupplierOutcome
) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    answer = run(
        supplier.consult_contributions(ssin, begin, "2014Q4" if begin == "2010Q1" else None)
    )
    assert answer == ContributionsAnswer(outcome=expected)


def test_request_is_a_valid_soap_message_with_its_headers(dataset: Dataset) -> None:
    seen: list[httpx.Request] = []
    supplier = supplier_with(simulator_handler(dataset, seen))
    run(supplier.consult_career(MULTI, DatePeriod(begin=date(2000, 1, 1))))
    run(supplier.consult_contributions(MULTI, "2015Q1", None))
    career, contributions = seen
    assert career.method == "POST" and str(career.url) == URL
    assert career.headers["SOAPAction"] == '"urn:be:fgov:inasti:selfemployed:v1/consultCareer"'
    assert career.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert contributions.headers["SOAPAction"] == (
        '"urn:be:fgov:inasti:selfemployed:v1/consultContributions"'
    )
    for request in seen:
        payload = body_payload(parse_document(request.content))
        assert SCHEMA.first_error(payload) is None
        assert payload.findtext("ssin") == MULTI
    assert body_payload(parse_document(career.content)).find("period/endDate") is None


# --- failures: exact details --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ssin", "details"),
    [
        (SOAP_FAULT, codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (GARBAGE, codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ],
)
def test_misbehaving_simulator(dataset: Dataset, ssin: str, details: str) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    assert details_of(lambda: run(supplier.consult_career(ssin, YEAR_2000))) == details
    assert details_of(lambda: run(supplier.consult_contributions(ssin, "2015Q1", None))) == details


OK_CAREER = envelope(career_response(ResultCode.OK, EXPECTED_CAREER_2000))


def corrupt(text: str, old: str, new: str) -> bytes:
    assert old in text
    return text.replace(old, new, 1).encode()


OK_TEXT = OK_CAREER.decode()


# No answer of INASTI's came: only these count towards opening the circuit (breaker.py).
NO_ANSWER = {
    "connection-refused",
    "connection-reset",
    "connect-timeout",
    "read-timeout",
    "pool-timeout",
    "http-503",
    "http-302",
    "huge-http-502",
}


@pytest.mark.parametrize(
    ("handler", "details"),
    [
        (raising(httpx.ConnectError("refused")), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (raising(httpx.RemoteProtocolError("reset")), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (raising(httpx.ConnectTimeout("slow connect")), codes.SUPPLIER_TIME_BUDGET),
        (raising(httpx.ReadTimeout("slow answer")), codes.SUPPLIER_TIME_BUDGET),
        (raising(httpx.PoolTimeout("pool full")), codes.SUPPLIER_TIME_BUDGET),
        (fixed(b"", 503), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (fixed(OK_CAREER, 302), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (fixed(fault_envelope("Server", "boom"), 500), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (fixed(fault_envelope("Server", "boom"), 200), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (fixed(b"x" * (MAX_ANSWER_BYTES + 1), 502), codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        (fixed(b""), codes.SUPPLIER_UNEXPECTED_RESPONSE),
        (fixed(b"<html><body>Gateway</body></html>"), codes.SUPPLIER_UNEXPECTED_RESPONSE),
        (fixed(OK_CAREER[: len(OK_CAREER) // 2]), codes.SUPPLIER_UNEXPECTED_RESPONSE),
        (
            fixed(envelope(contributions_response(ResultCode.NO_DATA_FOR_PERSON))),
            codes.SUPPLIER_UNEXPECTED_RESPONSE,
        ),
        (
            fixed(corrupt(OK_TEXT, "<code>OK</code>", "<code>MAYBE</code>")),
            codes.SUPPLIER_UNEXPECTED_RESPONSE,
        ),
        (
            fixed(corrupt(OK_TEXT, "<code>OK</code>", "<code> OK</code>")),
            codes.SUPPLIER_UNEXPECTED_RESPONSE,
        ),
    ],
    ids=[
        "connection-refused",
        "connection-reset",
        "connect-timeout",
        "read-timeout",
        "pool-timeout",
        "http-503",
        "http-302",
        "soap-fault-500",
        "soap-fault-200",
        "huge-http-502",
        "empty-body",
        "not-soap",
        "truncated",
        "wrong-body-element",
        "unknown-result-code",
        "result-code-with-space",
    ],
)
def test_failure_details(handler: Handler, details: str, request: pytest.FixtureRequest) -> None:
    supplier = supplier_with(handler)
    error = failure_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000)))
    assert error.details == details
    assert error.answered is (request.node.callspec.id not in NO_ANSWER)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<code>002</code>", "<code>12</code>"),  # fund code of the second affiliation
        ("<enterpriseNumber>0409081464", "<enterpriseNumber>2409081464"),
        ("<beginDate>2000-07-01</beginDate>", "<beginDate>2000-07-01Z</beginDate>"),
        ("<nisseReference>RGTI0000000101", "<nisseReference>RGTI00000001019999"),
        ('language="DE">Nebenberuflich', 'language="EN">Nebenberuflich'),
        ('language="DE">Nebenberuflich', 'language="NL">Nebenberuflich'),  # twice NL
        ("<code>104</code>", "<code>0104</code>"),
        ("</careerSegments>", "<surprise/></careerSegments>"),
        ("<endDate>2000-06-30</endDate>", "<endDate>1999-06-30</endDate>"),  # ends before begin
    ],
)
def test_a_half_valid_answer_never_becomes_a_record(old: str, new: str) -> None:
    """R-66: one bad value anywhere, even after valid affiliations, and there is no record."""
    answers: list[object] = []

    def call() -> None:
        answers.append(
            run(supplier_with(fixed(corrupt(OK_TEXT, old, new))).consult_career(MULTI, YEAR_2000))
        )

    assert details_of(call) == codes.SUPPLIER_UNEXPECTED_RESPONSE
    assert answers == []


@pytest.mark.parametrize(
    "payload",
    [
        career_response(ResultCode.OK),  # OK without a career
        career_response(ResultCode.NO_DATA_FOR_PERSON, EXPECTED_CAREER_2000),  # data without OK
    ],
    ids=["ok-without-career", "career-without-ok"],
)
def test_result_and_data_must_agree(payload: etree._Element) -> None:
    supplier = supplier_with(fixed(envelope(payload)))
    assert details_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_UNEXPECTED_RESPONSE
    )


def test_entities_are_refused() -> None:
    body = OK_TEXT.replace("<?xml version='1.0' encoding='utf-8'?>", "").replace(
        "RGTI0000000101", "&ref;"
    )
    doctype = '<!DOCTYPE soapenv:Envelope [<!ENTITY ref "RGTI0000000101">]>'
    supplier = supplier_with(fixed((doctype + body).encode()))
    assert details_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_UNEXPECTED_RESPONSE
    )


# --- size cap and deadline ----------------------------------------------------------------


def test_answer_larger_than_the_cap_is_refused_without_reading_it_all() -> None:
    chunk = b" " * 65536
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        sent.append(100)
        yield OK_CAREER[:100]
        while True:
            sent.append(len(chunk))
            yield chunk

    supplier = supplier_with(lambda request: httpx.Response(200, content=endless()))
    assert details_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_UNEXPECTED_RESPONSE
    )
    # Stopped at the first chunk past the cap.
    assert MAX_ANSWER_BYTES < sum(sent) <= MAX_ANSWER_BYTES + len(chunk)


async def one_byte() -> AsyncIterator[bytes]:
    yield b"x"


def test_declared_length_over_the_cap_is_refused_at_once() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Length": str(MAX_ANSWER_BYTES + 1)}, content=one_byte()
        )

    assert details_of(lambda: run(supplier_with(handle).consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_UNEXPECTED_RESPONSE
    )


def test_answer_just_under_the_cap_is_read() -> None:
    padding = MAX_ANSWER_BYTES - len(OK_CAREER) - 1
    body = OK_CAREER.replace(b"</soapenv:Envelope>", b" " * padding + b"</soapenv:Envelope>")
    assert len(body) <= MAX_ANSWER_BYTES
    answer = run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000))
    assert answer.career == EXPECTED_CAREER_2000


def test_total_deadline_cuts_a_trickling_answer() -> None:
    """Each chunk comes in time for httpx, but together they exceed the budget (R-65)."""

    async def trickle() -> AsyncIterator[bytes]:
        for index in range(0, len(OK_CAREER), 64):
            await asyncio.sleep(0.15)
            yield OK_CAREER[index : index + 64]

    supplier = supplier_with(lambda r: httpx.Response(200, content=trickle()), timeout=0.5)
    started = time.monotonic()
    assert details_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_TIME_BUDGET
    )
    assert time.monotonic() - started < 1.0


# --- reachability ---------------------------------------------------------------------------


def test_is_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        open_supplier = InastiFinalSupplier(settings(f"http://127.0.0.1:{port}/x"))
        assert open_supplier.is_reachable()
    closed = InastiFinalSupplier(settings(f"http://127.0.0.1:{free_port()}/x"))
    assert not closed.is_reachable()
    run(open_supplier.aclose())
    run(closed.aclose())


# --- the real simulator -------------------------------------------------------------------


def test_against_the_real_simulator(dataset: Dataset, simulator_port: int) -> None:
    url = f"http://127.0.0.1:{simulator_port}/inasti/SelfEmployedService"
    supplier = InastiFinalSupplier(settings(url, timeout=1.0))
    raw_client = httpx.Client(trust_env=False)  # no proxy from the environment for loopback
    try:
        assert supplier.is_reachable()
        assert run(supplier.consult_career(MULTI, YEAR_2000)).career == EXPECTED_CAREER_2000
        expected = answer_career(dataset, MULTI, YEAR_2000, NOON)
        raw = raw_client.post(url, content=envelope(career_request(MULTI, YEAR_2000)))
        assert (raw.status_code, raw.content) == (200, expected.body)
        assert run(supplier.consult_contributions(MULTI, "2015Q1", "2015Q2")).payments == (
            paid("2015Q1"),
            paid("2015Q2"),
        )
        for ssin, details in [
            (GARBAGE, codes.SUPPLIER_UNEXPECTED_RESPONSE),
            (SOAP_FAULT, codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
        ]:
            assert details_of(lambda s=ssin: run(supplier.consult_career(s, YEAR_2000))) == details

        started = time.monotonic()
        assert details_of(lambda: run(supplier.consult_career(SLOW, YEAR_2000))) == (
            codes.SUPPLIER_TIME_BUDGET
        )
        assert 0.9 <= time.monotonic() - started < 1.5
        # The simulator dropped the abandoned answer and still serves.
        assert run(supplier.consult_career(MULTI, YEAR_2000)).outcome is SupplierOutcome.FOUND
        assert raw_client.get(url).status_code == 405
    finally:
        run(supplier.aclose())
        raw_client.close()

    closed = InastiFinalSupplier(settings(f"http://127.0.0.1:{free_port()}/x", timeout=1.0))
    started = time.monotonic()
    assert details_of(lambda: run(closed.consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    )
    assert time.monotonic() - started < 0.5
    assert not closed.is_reachable()
    run(closed.aclose())


def test_a_stall_after_the_headers_is_cut_at_the_budget() -> None:
    """R-65: headers in time, then nothing: the call is cancelled when the budget is spent
    (httpx's per-read timeout alone would allow a second full budget)."""

    async def stall() -> AsyncIterator[bytes]:
        yield OK_CAREER[:100]
        await asyncio.sleep(10)
        yield OK_CAREER[100:]

    supplier = supplier_with(lambda r: httpx.Response(200, content=stall()), timeout=0.5)
    started = time.monotonic()
    assert details_of(lambda: run(supplier.consult_career(MULTI, YEAR_2000))) == (
        codes.SUPPLIER_TIME_BUDGET
    )
    assert time.monotonic() - started < 0.9
