"""Fuzzing the SOAP endpoint in process: whatever arrives, a specified answer (R-10, R-26).

Valid consultCareer / consultContributions requests are mutated at random — elements deleted,
duplicated, swapped, renamed or moved to another namespace; text replaced by random unicode,
digits, huge strings, random dates and quarters; attributes added; random bytes inserted;
the document truncated or re-encoded — and handed to `SoapEndpoint.handle` with a random
SOAPAction and client certificate. Every answer must be a response of the specification:
HTTP 200 with a status code of `codes.ALL_STATUS_CODES`, or HTTP 500 with fault reason codes
of `codes.ALL_FAULT_CODES` — and never MSG00003, which would mean an unexpected error (R-26)
inside the gateway, i.e. a bug. The hostile corpus (tests/hostile/) goes through the same
check in process.
"""

from __future__ import annotations

import contextlib
import functools
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from selfemployed_gateway import codes, xmlsafe
from selfemployed_gateway.clock import FixedClock
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
    ExchangeTrace,
    Fund,
    GatewayFault,
    Language,
    SupplierOutcome,
)
from selfemployed_gateway.soap import envelope
from selfemployed_gateway.soap.endpoint import SoapAnswer, SoapEndpoint
from selfemployed_gateway.xmlsafe import XmlSchema
from tests.hostile import generate
from tests.support.endpoints import answer as call
from tests.support.endpoints import soap_endpoint
from tests.support.soap import (
    ACTION,
    SES,
    SOAP_ENV,
    career_request,
    contributions_request,
    customer,
    fault,
    payload,
    status,
)
from tests.unit.conftest import PROJECT, ScriptedSupplier, certificate, registers

XSD = PROJECT / "xsd" / "SelfEmployedV2.xsd"
CLOCK = FixedClock.parse("2026-11-26T10:00:00+01:00")
STATUS_CODES = {status_code.code for status_code in codes.ALL_STATUS_CODES}
SERVICE_XSD = XmlSchema.from_file(XSD)
FAULT_CODES = {fault_code.code for fault_code in codes.ALL_FAULT_CODES}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TYPES = "http://kszbcss.fgov.be/types/SelfEmployed/v2"
COMMON = "http://kszbcss.fgov.be/types/common/v3"

CPAS = customer(cbe="0212345668")
ONSS = customer(sector=21, institution=0)
RIZIV = customer(cbe="0234567873")

# Valid requests of several clients (and the client that may send each), so that
# mutations reach every stage of the pipeline.
BASES = [
    (
        career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01", "2010-12-31"),
        "cpas-namur",
    ),
    (career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159"), "onss-inspection"),
    (
        career_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159", "1995-01-01"),
        "riziv-medical",
    ),
    (
        contributions_request(
            ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159", "2024Q1", "2024Q4"
        ),
        "onss-inspection",
    ),
    (
        contributions_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159", "2025Q1"),
        "riziv-medical",
    ),
]
CLIENTS = ["cpas-namur", "onss-inspection", "riziv-medical", "stranger", None]
ACTIONS = [
    None,
    "",
    '""',
    ACTION + "consultCareer",
    ACTION + "consultContributions",
    '"' + ACTION + "consultCareer" + '"',
    "urn:anything",
]
NAMES = [
    "informationCustomer",
    "ticket",
    "timestampSent",
    "customerIdentification",
    "cbeNumber",
    "sector",
    "institution",
    "informationCBSS",
    "ticketCBSS",
    "legalContext",
    "criteria",
    "ssin",
    "period",
    "beginDate",
    "endDate",
    "beginQuarter",
    "endQuarter",
    "consultCareerRequest",
    "consultContributionsRequest",
    "Envelope",
    "Body",
    "Header",
]
NAMESPACES = [None, SES, SOAP_ENV, SOAP12_ENV, TYPES, COMMON, XSI, "urn:x"]


# --- the endpoint under test -------------------------------------------------------------


def _description(text: str) -> tuple[Description, ...]:
    return tuple(Description(language=lang, text=f"{text} {lang}") for lang in Language)


def _coded(code: str) -> CodedValue:
    return CodedValue(code=code, descriptions=_description(f"code {code}"))


def _found_career(ssin: str, period: DatePeriod) -> CareerAnswer:
    """A career with data, so that mutated periods also reach the response writer."""
    segments = (
        CareerSegment(
            period=DatePeriod(begin=date(1990, 1, 1), end=date(1999, 12, 31)),
            quality=_coded("100"),
            contribution=_coded("101"),
            equality=_coded("130"),
        ),
        CareerSegment(
            period=DatePeriod(begin=date(2000, 1, 1), end=None),
            quality=_coded("300"),
            contribution=_coded("104"),
        ),
    )
    return CareerAnswer(
        outcome=SupplierOutcome.FOUND,
        career=Career(
            nisse_reference="RGTI0000000101",
            enterprise_number="0567890161",
            occupation=CodedValue(code="620100", descriptions=_description("occupation")),
            affiliations=(
                Affiliation(
                    fund=Fund(code="010", enterprise_number="0409085424"),
                    signature_date=date(1989, 12, 15),
                    segments=segments,
                ),
            ),
        ),
    )


def _found_contributions(ssin: str, begin: str, end: str | None) -> ContributionsAnswer:
    payments = tuple(
        ContributionPayment(
            quarter=quarter,
            fund=Fund(code="002", enterprise_number="0409081464"),
            situation=_coded("01"),
            ziv=_coded("1") if quarter.endswith(("1", "3")) else None,
        )
        for quarter in ("2023Q4", "2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1")
    )
    return ContributionsAnswer(outcome=SupplierOutcome.FOUND, payments=payments)


class RecordingEndpoint(SoapEndpoint):
    """Keeps the traceback of every unexpected error, for the failure message."""

    errors: list[str]

    def internal_error(self, trace: ExchangeTrace, error: Exception) -> GatewayFault:
        self.errors.append("".join(traceback.format_exception(error)))
        return super().internal_error(trace, error)


@functools.cache
def _dataset() -> Dataset:
    return load_dataset(PROJECT / "config" / "reference-dataset.json")


@functools.cache
def fuzz_endpoint() -> RecordingEndpoint:
    dataset = _dataset()
    endpoint = soap_endpoint(
        dataset,
        registers(dataset),
        ScriptedSupplier(career=_found_career, contributions=_found_contributions),
        CLOCK,
        validate_responses=True,  # a response that breaks the contract is an error too
        kind=RecordingEndpoint,
    )
    endpoint.errors = []
    return endpoint


def assert_specified(answer: SoapAnswer, errors: list[str], request: bytes) -> str:
    """The answer is one the specification allows, never MSG00003; returns its code."""
    shown = request[:600]
    assert not errors, f"unexpected error for {shown!r}:\n{errors[-1]}"
    if answer.status == 200:
        code = str(status(payload(answer.body))["code"])
        assert code in STATUS_CODES, (code, shown)
        return code
    assert answer.status == 500, (answer.status, shown)
    soap_fault = payload(answer.body)
    if soap_fault.findtext("faultcode") == codes.MUST_UNDERSTAND.origin.value:
        # SOAP's own fault for a mandatory header block, without detail.
        assert soap_fault.find("detail") is None, shown
        assert soap_fault.findtext("faultactor") == codes.FAULT_ACTOR, shown
        return codes.MUST_UNDERSTAND.code
    (detail_element,) = list(soap_fault.find("detail"))
    assert SERVICE_XSD.first_error(detail_element) is None, shown  # §8: a contract fault
    details = fault(answer.body)["details"]
    assert isinstance(details, list) and details
    reasons = [str(detail["reasonCode"]) for detail in details]
    assert set(reasons) <= FAULT_CODES, (reasons, shown)
    assert codes.INTERNAL_ERROR.code not in reasons, shown
    return reasons[0]


def run(request: bytes, action: str | None, client: str | None) -> str:
    endpoint = fuzz_endpoint()
    endpoint.errors.clear()
    answer, _trace = call(endpoint, request, action, certificate(client) if client else None)
    return assert_specified(answer, endpoint.errors, request)


# --- mutations ---------------------------------------------------------------------------

Draw = st.DrawFn

# Text that lxml accepts in an element (no control characters, no surrogates).
xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r "),
    max_size=40,
)
digits = st.from_regex(r"[0-9]{0,14}", fullmatch=True)
huge = st.builds(lambda n, c: c * n, st.integers(300, 120_000), st.sampled_from("9aé "))
zones = st.sampled_from(["", "", "Z", "+00:00", "+14:00", "-14:00", "+01:00", "-12:30"])


def _xs_date(year: int, month: int, day: int, zone: str) -> str:
    sign = "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}{zone}"


# Lexically valid xs:date values, years far outside 0001-9999 included, and near misses.
dates = st.one_of(
    st.builds(
        _xs_date, st.integers(-99_999, 99_999), st.integers(1, 12), st.integers(1, 28), zones
    ),
    st.builds(_xs_date, st.integers(1950, 2030), st.integers(1, 12), st.integers(1, 31), zones),
    st.sampled_from(
        [
            "0001-01-01",
            "0000-01-01",
            "-0001-01-01",
            "10000-01-01",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "1956-06-30",
            "1956-07-01",
            "2026-11-26",
            "2026-11-27",
            "2026-11-27-14:00",
            "2000-01-01+24:00",
            "2000-01-01T00:00:00",
            "20000101",
            " 2000-01-01 ",
            "",
        ]
    ),
)
quarters = st.one_of(
    st.from_regex(r"[0-9]{4}Q[0-9]", fullmatch=True),
    st.sampled_from(
        ["2016Q3", "2016Q4", "2026Q4", "2027Q1", "1999Q4", "2999Q4", "1000Q1", "2024q1", ""]
    ),
    xml_text,
)
timestamps = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.sampled_from(
        [
            "2024-01-01T24:00:00",
            "-0001-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "2024-01-01T00:00:00.123456789012Z",
            "2024-01-01T00:00:00+14:00",
        ]
    ),
)
TARGETED: dict[str, st.SearchStrategy[str]] = {
    "beginDate": dates,
    "endDate": dates,
    "beginQuarter": quarters,
    "endQuarter": quarters,
    "ssin": st.one_of(st.from_regex(r"[0-9]{11}", fullmatch=True), digits),
    "cbeNumber": st.one_of(st.from_regex(r"[0-9]{10}", fullmatch=True), digits),
    "sector": st.one_of(st.integers(-5, 10_000).map(str), digits),
    "institution": st.one_of(st.integers(-5, 10_000).map(str), digits),
    "ticket": st.one_of(xml_text, huge),
    "legalContext": st.one_of(
        st.sampled_from(["PCSA:SOCIAL_INQUIRY", "SOCIAL_INSPECTION:INVESTIGATION"]), xml_text
    ),
    "timestampSent": timestamps,
    "timestampReceive": timestamps,
    "ticketCBSS": st.one_of(st.uuids().map(str), xml_text),
}
any_text = st.one_of(xml_text, digits, huge, dates, quarters)
tag_names = st.one_of(
    st.sampled_from(NAMES), st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True)
)


def _elements(root: etree._Element) -> list[etree._Element]:
    return [element for element in root.iter() if isinstance(element.tag, str)]


def _pick(draw: Draw, items: list[etree._Element]) -> etree._Element:
    return items[draw(st.integers(0, len(items) - 1))]


def _set_text(element: etree._Element, text: object) -> None:
    # A string lxml refuses to hold is skipped; byte mutations cover those.
    with contextlib.suppress(ValueError):
        element.text = str(text)


def delete(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def duplicate(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    if element.getparent() is not None:
        element.addnext(etree.fromstring(etree.tostring(element)))


def swap(draw: Draw, root: etree._Element) -> None:
    elements = _elements(root)
    first, second = _pick(draw, elements), _pick(draw, elements)
    if first is second or first in second.iterancestors() or second in first.iterancestors():
        return
    if first.getparent() is None or second.getparent() is None:
        return
    marker = etree.Element("marker")
    first.addprevious(marker)
    second.addprevious(first)
    marker.addprevious(second)
    parent = marker.getparent()
    assert parent is not None
    parent.remove(marker)


def replace_text(draw: Draw, root: etree._Element) -> None:
    _set_text(_pick(draw, _elements(root)), draw(any_text))


def targeted_text(draw: Draw, root: etree._Element) -> None:
    """A new value, of the kind its name calls for, in one leaf of the request."""
    leaves = [e for e in _elements(root) if etree.QName(e).localname in TARGETED]
    if leaves:
        leaf = _pick(draw, leaves)
        _set_text(leaf, draw(TARGETED[etree.QName(leaf).localname]))


def rename(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    namespace = draw(st.sampled_from(NAMESPACES))
    name = draw(tag_names)
    element.tag = f"{{{namespace}}}{name}" if namespace else str(name)


def change_namespace(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    namespace = draw(st.sampled_from(NAMESPACES))
    name = etree.QName(element).localname
    element.tag = f"{{{namespace}}}{name}" if namespace else name


def add_attribute(draw: Draw, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    name = draw(
        st.sampled_from(
            [
                f"{{{XSI}}}type",
                f"{{{XSI}}}nil",
                f"{{{XSI}}}schemaLocation",
                f"{{{XSI}}}noNamespaceSchemaLocation",
                f"{{{SOAP_ENV}}}mustUnderstand",
                "canceled",
                "language",
                "id",
            ]
        )
    )
    value = draw(
        st.one_of(
            st.sampled_from(
                [
                    "true",
                    "1",
                    "se:ConsultCareerCriteriaType",
                    "ses:consultCareerRequest",
                    "xsd:string",
                    "common:SsinType",
                    f"{SES} http://127.0.0.1:9/evil.xsd",
                    "file:///etc/passwd",
                ]
            ),
            xml_text,
        )
    )
    with contextlib.suppress(ValueError):
        element.set(str(name), str(value))
    if draw(st.booleans()):
        # Declare the prefixes a QName value may use, on the element itself.
        nsmap = {"se": TYPES, "ses": SES, "common": COMMON, "xsd": XSD_NS}
        copy = etree.Element(element.tag, nsmap=nsmap, attrib=dict(element.attrib))
        copy.text, copy.tail = element.text, element.tail
        copy.extend(list(element))
        parent = element.getparent()
        if parent is not None:
            parent.replace(element, copy)


def insert_element(draw: Draw, root: etree._Element) -> None:
    parent = _pick(draw, _elements(root))
    namespace = draw(st.sampled_from(NAMESPACES))
    name = draw(tag_names)
    child = etree.Element(f"{{{namespace}}}{name}" if namespace else str(name))
    _set_text(child, draw(any_text))
    parent.insert(draw(st.integers(0, len(parent))), child)


def add_header(draw: Draw, root: etree._Element) -> None:
    header = etree.Element(f"{{{SOAP_ENV}}}Header")
    block = etree.SubElement(header, f"{{{draw(st.sampled_from([SES, 'urn:x']))}}}security")
    if draw(st.booleans()):
        block.set(f"{{{SOAP_ENV}}}mustUnderstand", "1")
    _set_text(block, draw(xml_text))
    root.insert(0, header)


def split_text(draw: Draw, root: etree._Element) -> None:
    """A comment in the middle of a text: the value stays the same for the schema."""
    leaves = [e for e in _elements(root) if e.text and len(e) == 0]
    if leaves:
        leaf = _pick(draw, leaves)
        text = leaf.text or ""
        at = draw(st.integers(0, len(text)))
        comment = etree.Comment(draw(st.sampled_from(["", " x ", "x-x"])))
        leaf.text = text[:at]
        comment.tail = text[at:]
        leaf.insert(0, comment)


TREE_MUTATIONS = [
    split_text,
    delete,
    duplicate,
    swap,
    replace_text,
    targeted_text,
    targeted_text,
    rename,
    change_namespace,
    add_attribute,
    insert_element,
    add_header,
]


@dataclass(frozen=True)
class Mutant:
    body: bytes
    action: str | None
    client: str | None


def _bytes_mutation(draw: Draw, body: bytes) -> bytes:
    kind = draw(st.sampled_from(["insert", "truncate", "flip", "utf16", "latin1", "bom"]))
    if kind == "insert":
        at = draw(st.integers(0, len(body)))
        junk = draw(st.binary(min_size=1, max_size=16))
        return body[:at] + junk + body[at:]
    if kind == "truncate":
        return body[: draw(st.integers(0, len(body)))]
    if kind == "flip":
        if not body:
            return body
        at = draw(st.integers(0, len(body) - 1))
        value = draw(st.integers(0, 255))
        return body[:at] + bytes([value]) + body[at + 1 :]
    text = body.decode("utf-8")
    if kind == "utf16":
        return ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16")
    if kind == "latin1":
        declared = '<?xml version="1.0" encoding="ISO-8859-1"?>' + text
        return declared.encode("latin-1", errors="replace")
    return b"\xef\xbb\xbf" + body


@st.composite
def mutants(draw: Draw) -> Mutant:
    """A mutated request. Half of them only get new values in their leaves (dates,
    quarters, numbers, texts) so that they stay well-formed and mostly schema-valid and reach
    the pipeline; the others get structural mutations, and some of those byte mutations."""
    base, first_client = draw(st.sampled_from(BASES))
    client: str | None = first_client
    root = etree.fromstring(base.encode())
    mode = draw(st.sampled_from(["leaves", "leaves", "structure", "bytes"]))
    count = draw(st.integers(1, 3))
    for _ in range(count):
        if mode == "leaves":
            targeted_text(draw, root)
            if draw(st.integers(0, 3)) == 0:
                split_text(draw, root)
        else:
            draw(st.sampled_from(TREE_MUTATIONS))(draw, root)
    body = bytes(etree.tostring(root))
    if mode == "bytes":
        body = _bytes_mutation(draw, body)
    if draw(st.integers(0, 3)) == 0:
        client = draw(st.sampled_from(CLIENTS))
    action = draw(st.sampled_from(ACTIONS)) if mode != "leaves" else None
    return Mutant(body, action, client)


# --- tests -------------------------------------------------------------------------------

_CAREER = BASES[0][0]
REGRESSIONS = {
    "year-10000": _CAREER.replace("2010-12-31", "10000-01-01").encode(),
    "negative-year": _CAREER.replace("2000-01-01", "-0001-01-01").encode(),
    "xsi-type": _CAREER.replace(
        "<criteria>",
        f'<criteria xmlns:xsi="{XSI}" xmlns:se="{TYPES}" xsi:type="se:ConsultCareerCriteriaType">',
    ).encode(),
    "comment-in-date": _CAREER.replace("2000-01-01", "2000-<!---->01-01").encode(),
}


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutants())
# Bugs this fuzzer found, kept as explicit examples (see the docstrings of the fixes).
@example(Mutant(REGRESSIONS["year-10000"], None, "cpas-namur"))  # soap/mapping.py
@example(Mutant(REGRESSIONS["negative-year"], None, "cpas-namur"))  # soap/mapping.py
@example(Mutant(REGRESSIONS["xsi-type"], None, "cpas-namur"))  # soap/writer.py
@example(Mutant(REGRESSIONS["comment-in-date"], None, "cpas-namur"))  # soap/envelope.py
def test_mutated_requests_get_a_specified_answer(mutant: Mutant) -> None:
    """R-10, R-26: any mutation of a valid request is a status or a spec fault, never
    MSG00003 and never an exception out of the endpoint."""
    run(mutant.body, mutant.action, mutant.client)


@pytest.mark.parametrize(("base", "client"), BASES)
def test_the_unmutated_requests_are_answered_with_data(base: str, client: str) -> None:
    """The fuzzer starts from requests that go all the way through the pipeline."""
    assert run(base.encode(), None, client) == codes.DATA_FOUND.code


_TEXT = re.compile(rb">([^<]+)<")


@st.composite
def same_values(draw: Draw) -> tuple[bytes, bytes, str]:
    """A base request, and the same request with its values written differently: split by
    comments or processing instructions, partly in CDATA sections or character references."""
    base, client = draw(st.sampled_from(BASES))
    original = base.encode()
    texts = list(_TEXT.finditer(original))
    positions: set[int] = set()
    for _ in range(draw(st.integers(1, 4))):
        start, end = texts[draw(st.integers(0, len(texts) - 1))].span(1)
        positions.add(draw(st.integers(start, end - 1)))
    variant = original
    for at in sorted(positions, reverse=True):  # from the end: earlier offsets stay right
        char = variant[at : at + 1]
        kind = draw(st.sampled_from(["comment", "pi", "cdata", "reference"]))
        replacement = {
            "comment": b"<!-- c -->" + char,
            "pi": b"<?seg x?>" + char,
            "cdata": b"<![CDATA[" + char + b"]]>",
            "reference": b"&#%d;" % char[0],
        }[str(kind)]
        variant = variant[:at] + replacement + variant[at + 1 :]
    return original, variant, client


@settings(max_examples=60, deadline=None, derandomize=True)
@given(same_values())
def test_values_written_differently_get_the_same_answer(case: tuple[bytes, bytes, str]) -> None:
    """R-10, R-53: the schema validates a value whatever its XML spelling; the pipeline must
    see that same value (a comment once cut `<ssin>` short: a wrong MSG00011)."""
    original, variant, client = case
    assert run(variant, None, client) == run(original, None, client), variant


def _corpus() -> list[tuple[str, Callable[[], bytes]]]:
    files = [
        (path.name, functools.partial(path.read_bytes))
        for path in sorted(generate.CORPUS.glob("*.xml"))
    ]
    return files + sorted(generate.GENERATED.items())


@pytest.mark.parametrize(("name", "build"), _corpus(), ids=[name for name, _ in _corpus()])
def test_hostile_corpus_in_process(name: str, build: Callable[[], bytes]) -> None:
    """Every case of tests/hostile/ through the endpoint alone (no HTTP limits): a specified
    answer, and nothing of /etc/passwd in it."""
    endpoint = fuzz_endpoint()
    endpoint.errors.clear()
    body = build()
    answer, _trace = call(endpoint, body, None, certificate("cpas-namur"))
    assert_specified(answer, endpoint.errors, body)
    assert b"root:" not in answer.body
    assert b"lollol" not in answer.body


def test_external_resources_stop_at_the_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-10: the parser's resolver is what keeps libxml2 from reading a file named by an
    external DTD or parameter entity (load_dtd=False alone does not)."""
    asked: list[str | None] = []
    refuse = xmlsafe._NoExternalResources.resolve

    def recording(
        self: xmlsafe._NoExternalResources, url: str | None, public_id: str | None, context: object
    ) -> None:
        asked.append(url)
        refuse(self, url, public_id, context)

    monkeypatch.setattr(xmlsafe._NoExternalResources, "resolve", recording)
    for name in ("external-dtd.xml", "external-parameter-entity.xml"):
        body = (generate.CORPUS / name).read_bytes()
        with pytest.raises(GatewayFault) as raised:
            envelope.parse_request(body)
        assert "external resources are never loaded" in str(raised.value.information)
    assert asked == ["file:///etc/passwd", "file:///etc/passwd"]
