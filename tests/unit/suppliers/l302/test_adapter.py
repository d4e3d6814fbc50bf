"""The transitional-phase adapter (suppliers/l302/adapter.py): outcomes, exact MSG00002 details
(R-22, R-65, R-66), the request, and the round trip dataset → simulator → adapter (R-63)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import CareerEntry, Dataset
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerAnswer,
    CareerSegment,
    DatePeriod,
    Fund,
    GatewayFault,
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.simulator.answers import GARBAGE_BODY
from selfemployed_gateway.simulator.l302 import answer_l302
from selfemployed_gateway.stages import supplier_call
from selfemployed_gateway.suppliers.final.protocol import career_request
from selfemployed_gateway.suppliers.l302.adapter import L302Supplier
from selfemployed_gateway.suppliers.l302.mapping import (
    L302Mapping,
    L302MappingError,
)
from selfemployed_gateway.suppliers.l302.protocol import (
    SCHEMA,
    l302_request,
)
from selfemployed_gateway.suppliers.soap11 import (
    body_payload,
    envelope,
    fault_envelope,
    parse_document,
)
from tests.support.aio import run
from tests.support.l302 import (
    AIDANT,
    GARBAGE,
    L302_NS,
    MAPPING,
    MULTI,
    NOBODY,
    NOON,
    SLOW,
    SOAP_FAULT,
    URL,
    WHOLE_CAREER,
    YEAR_2000,
    SupplierFactory,
    attestation,
    career_of,
    coded,
    line,
    refusal,
    response_document,
    settings,
    simulator_handler,
)
from tests.support.mock_supplier import Handler, failure_of, fixed, raising

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
    assert error.answered  # INASTI answered, with a code we do not know


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


# No answer of INASTI's came: only these count towards opening the circuit (breaker.py).
NO_ANSWER = {
    "soap-fault-502",
    "http-500-not-xml",
    "http-503",
    "http-302",
    "connection-refused",
    "read-timeout",
}


@pytest.mark.parametrize(
    ("name", "handler", "details"),
    FAILURES,
    ids=[name for name, _, _ in FAILURES],
)
def test_failure_details(
    supplier_with: SupplierFactory, name: str, handler: Handler, details: str
) -> None:
    answers: list[object] = []
    supplier = supplier_with(handler)
    error = failure_of(lambda: answers.append(run(supplier.consult_career(MULTI, YEAR_2000))))
    assert error.details == details
    assert answers == []
    assert error.answered is (name not in NO_ANSWER)


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


# --- the request --------------------------------------------------------------------------


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


def test_mapping_codes_must_have_descriptions(dataset: Dataset) -> None:
    mapping = L302Mapping.model_validate(
        {"categories": {"A": {"quality": "100", "contribution": "199"}}, "assimilations": {}}
    )
    with pytest.raises(L302MappingError, match="contribution 199"):
        L302Supplier(settings(), mapping, dataset.codes, dataset.funds)


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


# --- the real simulator over HTTP ---------------------------------------------------------


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
