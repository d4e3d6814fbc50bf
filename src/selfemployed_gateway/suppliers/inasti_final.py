"""INASTI's SelfEmployedService v1: the final-phase supplier protocol and its httpx adapter.

Final phase (R-22, R-61): the gateway calls INASTI's new service directly and maps its answer
almost one to one onto the v2 response. The protocol is the project's own definition; its
schema is `schemas/InastiSelfEmployedV1.xsd` beside this module.

Wire protocol
-------------
* SOAP 1.1, document/literal, HTTP POST to the configured URL (development:
  ``http://127.0.0.1:4580/inasti/SelfEmployedService``), ``Content-Type: text/xml;
  charset=utf-8``, ``SOAPAction: "urn:be:fgov:inasti:selfemployed:v1/<operation>"``.
* Namespace ``urn:be:fgov:inasti:selfemployed:v1`` (prefix ``inasti``) on the top element of
  each message only; children are unqualified.
* ``inasti:consultCareerRequest{ssin, period{beginDate, endDate?}}`` answered by
  ``inasti:consultCareerResponse{result{code, description?}, career?}``; ``career`` has the
  structure of the v2 career (nisseReference, selfEmployedEnterpriseNumber?, occupation?,
  affiliations/affiliation+ with socialInsuranceFund, signatureDate?, careerSegments/
  careerSegment+ with period, selfEmployedQuality, contribution, equality?). INASTI returns
  the segments overlapping the period by at least one day (R-55).
* ``inasti:consultContributionsRequest{ssin, beginQuarter, endQuarter?}`` answered by
  ``inasti:consultContributionsResponse{result{code, description?}, contributions?}`` with
  ``contribution+{quarter, socialInsuranceFund, contributionSituation, ziv?}``.
* Coded values carry ``code`` then at most one ``description`` per language (FR, NL, DE):
  in the final phase INASTI supplies the descriptions (R-82).
* ``result/code``: ``OK`` (data follows), ``NO_DATA_FOR_PERSON``, ``NO_DATA_FOR_PERIOD``,
  ``SES00005`` (a fund did not answer in time, R-64) and ``SES00006`` (file under
  investigation), mapped onto `SupplierOutcome`. A server error is HTTP 500 with a SOAP Fault.

Adapter
-------
`InastiFinalSupplier` never trusts the answer (R-66): anything but a complete, schema-valid,
consistent answer raises `SupplierError`, whose `details` is one of the MSG00002 texts of R-22;
the whole call is bounded by the time budget (R-65).

The message builders and readers below are shared with the built-in simulator
(`selfemployed_gateway.simulator.inasti`), so both sides speak exactly this protocol.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from importlib import resources
from typing import TypeVar

import httpx
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.privacy import ssin_tag
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
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.suppliers import SupplierError
from selfemployed_gateway.suppliers.http import SupplierHttp
from selfemployed_gateway.xmlsafe import ExternalResourceRefused, hardened_parser

logger = logging.getLogger(__name__)

NAMESPACE = "urn:be:fgov:inasti:selfemployed:v1"
PREFIX = "inasti"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SCHEMA_FILE = "InastiSelfEmployedV1.xsd"
# An INASTI answer is a few KB; 4 MiB leaves room for the longest career while keeping a

CAREER_REQUEST = f"{{{NAMESPACE}}}consultCareerRequest"
CAREER_RESPONSE = f"{{{NAMESPACE}}}consultCareerResponse"
CONTRIBUTIONS_REQUEST = f"{{{NAMESPACE}}}consultContributionsRequest"
CONTRIBUTIONS_RESPONSE = f"{{{NAMESPACE}}}consultContributionsResponse"
_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"
_FAULT = f"{{{SOAP_ENV}}}Fault"
# Supplier texts end up in logs and fault causes: keep them short.
_MAX_CAUSE = 200


class ResultCode(StrEnum):
    """`result/code` of an INASTI answer."""

    OK = "OK"
    NO_DATA_FOR_PERSON = "NO_DATA_FOR_PERSON"
    NO_DATA_FOR_PERIOD = "NO_DATA_FOR_PERIOD"
    FUND_TIMEOUT = "SES00005"
    UNDER_INVESTIGATION = "SES00006"


OUTCOMES: dict[ResultCode, SupplierOutcome] = {
    ResultCode.OK: SupplierOutcome.FOUND,
    ResultCode.NO_DATA_FOR_PERSON: SupplierOutcome.NO_DATA_FOR_PERSON,
    ResultCode.NO_DATA_FOR_PERIOD: SupplierOutcome.NO_DATA_FOR_PERIOD,
    ResultCode.FUND_TIMEOUT: SupplierOutcome.FUND_TIMEOUT,
    ResultCode.UNDER_INVESTIGATION: SupplierOutcome.UNDER_INVESTIGATION,
}
_RESULT_CODES: dict[SupplierOutcome, ResultCode] = {v: k for k, v in OUTCOMES.items()}


class ProtocolError(ValueError):
    """A message that is not a usable message of this protocol (R-66)."""


def soap_action(operation: Operation) -> str:
    """The SOAPAction header value of `operation`, quoted as SOAP 1.1 writes it."""
    return f'"{NAMESPACE}/{operation.value}"'


# --- parsing and schema -------------------------------------------------------------------

# lxml parsers and schemas are not shareable between threads (a schema keeps its error log on
# the object): the gateway calls suppliers from its event loop, tools and tests from any thread.
_local = threading.local()


def new_parser() -> etree.XMLParser:
    """The project's hardened parser (xmlsafe): it will not fetch, expand or grow without
    bound (R-66); comments and processing instructions are dropped so that an element's
    `.text` is its whole text, the same text the schema validated."""
    return hardened_parser()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = new_parser()
        _local.parser = parser
    return parser


class ProtocolSchema:
    """The XSD of a supplier protocol (package data `suppliers/schemas/<file_name>`): one
    compiled schema per thread, since lxml keeps the error log on the schema object."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self._local = threading.local()

    def schema(self) -> etree.XMLSchema:
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            text = (
                resources.files("selfemployed_gateway.suppliers") / "schemas" / self.file_name
            ).read_bytes()
            schema = etree.XMLSchema(etree.fromstring(text, new_parser()))
            self._local.schema = schema
        return schema

    def error(self, payload: etree._Element) -> str | None:
        """The first error of `payload` against the schema, or None when it is valid."""
        try:
            self.schema().assertValid(payload)
        except etree.DocumentInvalid as exc:
            return str(exc)  # the first error, with its line
        return None


SCHEMA = ProtocolSchema(SCHEMA_FILE)


def schema_error(payload: etree._Element) -> str | None:
    """The first error of `payload` against the protocol's XSD, or None when it is valid."""
    return SCHEMA.error(payload)


def parse_document(data: bytes) -> etree._Element:
    """The root element of `data`; ProtocolError when it is not well-formed XML."""
    try:
        root: etree._Element = etree.fromstring(data, _parser())
    except ExternalResourceRefused as exc:
        raise ProtocolError("a SOAP message must not load external resources") from exc
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"not well-formed XML: {exc}") from exc
    # SOAP 1.1 forbids a DTD; refusing it also keeps unexpanded entities out of the texts.
    if root.getroottree().docinfo.internalDTD is not None:
        raise ProtocolError("a SOAP message must not contain a DOCTYPE")
    return root


def body_payload(root: etree._Element) -> etree._Element:
    """The one element inside the SOAP 1.1 Body of `root` (may be a `soapenv:Fault`)."""
    if root.tag != _ENVELOPE:
        raise ProtocolError(f"not a SOAP 1.1 envelope: root element {root.tag}")
    parts = [child for child in root if isinstance(child.tag, str)]
    if parts and parts[0].tag == _HEADER:
        parts = parts[1:]
    if len(parts) != 1 or parts[0].tag != _BODY:
        raise ProtocolError("the envelope must hold an optional Header and one Body")
    payload = [child for child in parts[0] if isinstance(child.tag, str)]
    if len(payload) != 1:
        raise ProtocolError(f"the Body must hold one element, not {len(payload)}")
    return payload[0]


def is_fault(payload: etree._Element) -> bool:
    return bool(payload.tag == _FAULT)


def describe_fault(payload: etree._Element) -> str:
    """`faultcode: faultstring` of a SOAP Fault, shortened (supplier text, untrusted)."""
    text = f"{payload.findtext('faultcode') or '?'}: {payload.findtext('faultstring') or ''}"
    return text[:_MAX_CAUSE]


# --- writing ------------------------------------------------------------------------------


def envelope(payload: etree._Element) -> bytes:
    """`payload` inside a SOAP 1.1 envelope, serialised as UTF-8."""
    root = etree.Element(_ENVELOPE, nsmap={"soapenv": SOAP_ENV})
    etree.SubElement(root, _BODY).append(payload)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return data


def fault_envelope(faultcode: str, faultstring: str) -> bytes:
    """A SOAP 1.1 Fault; `faultcode` is a local name of the envelope namespace (Client)."""
    fault = etree.Element(_FAULT, nsmap={"soapenv": SOAP_ENV})
    _sub(fault, "faultcode", f"soapenv:{faultcode}")
    _sub(fault, "faultstring", faultstring)
    return envelope(fault)


def _top(local_name: str) -> etree._Element:
    element: etree._Element = etree.Element(
        f"{{{NAMESPACE}}}{local_name}", nsmap={PREFIX: NAMESPACE}
    )
    return element


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    # lxml escapes the text and refuses characters XML cannot carry: values are never
    # formatted into markup.
    child: etree._Element = etree.SubElement(parent, name)
    if text is not None:
        child.text = text
    return child


def _write_period(parent: etree._Element, name: str, period: DatePeriod) -> None:
    element = _sub(parent, name)
    _sub(element, "beginDate", period.begin.isoformat())
    if period.end is not None:
        _sub(element, "endDate", period.end.isoformat())


def _write_coded(parent: etree._Element, name: str, value: CodedValue) -> None:
    element = _sub(parent, name)
    _sub(element, "code", value.code)
    for description in value.descriptions:
        _sub(element, "description", description.text).set("language", description.language)


def _write_fund(parent: etree._Element, fund: Fund) -> None:
    element = _sub(parent, "socialInsuranceFund")
    if fund.enterprise_number is not None:
        _sub(element, "enterpriseNumber", fund.enterprise_number)
    _sub(element, "code", fund.code)


def _write_result(parent: etree._Element, result: ResultCode, description: str | None) -> None:
    element = _sub(parent, "result")
    _sub(element, "code", result.value)
    if description is not None:
        _sub(element, "description", description)


def _write_segment(parent: etree._Element, segment: CareerSegment) -> None:
    element = _sub(parent, "careerSegment")
    _write_period(element, "period", segment.period)
    _write_coded(element, "selfEmployedQuality", segment.quality)
    _write_coded(element, "contribution", segment.contribution)
    if segment.equality is not None:
        _write_coded(element, "equality", segment.equality)


def _write_affiliation(parent: etree._Element, affiliation: Affiliation) -> None:
    element = _sub(parent, "affiliation")
    _write_fund(element, affiliation.fund)
    if affiliation.signature_date is not None:
        _sub(element, "signatureDate", affiliation.signature_date.isoformat())
    segments = _sub(element, "careerSegments")
    for segment in affiliation.segments:
        _write_segment(segments, segment)


def _write_career(parent: etree._Element, career: Career) -> None:
    element = _sub(parent, "career")
    _sub(element, "nisseReference", career.nisse_reference)
    if career.enterprise_number is not None:
        _sub(element, "selfEmployedEnterpriseNumber", career.enterprise_number)
    if career.occupation is not None:
        _write_coded(element, "occupation", career.occupation)
    affiliations = _sub(element, "affiliations")
    for affiliation in career.affiliations:
        _write_affiliation(affiliations, affiliation)


def _write_payment(parent: etree._Element, payment: ContributionPayment) -> None:
    element = _sub(parent, "contribution")
    _sub(element, "quarter", payment.quarter)
    _write_fund(element, payment.fund)
    _write_coded(element, "contributionSituation", payment.situation)
    if payment.ziv is not None:
        _write_coded(element, "ziv", payment.ziv)


def career_request(ssin: str, period: DatePeriod) -> etree._Element:
    payload = _top("consultCareerRequest")
    _sub(payload, "ssin", ssin)
    _write_period(payload, "period", period)
    return payload


def contributions_request(ssin: str, begin_quarter: str, end_quarter: str | None) -> etree._Element:
    payload = _top("consultContributionsRequest")
    _sub(payload, "ssin", ssin)
    _sub(payload, "beginQuarter", begin_quarter)
    if end_quarter is not None:
        _sub(payload, "endQuarter", end_quarter)
    return payload


def career_response(
    result: ResultCode, career: Career | None = None, description: str | None = None
) -> etree._Element:
    """The answer to consultCareerRequest; `career` goes with OK only."""
    payload = _top("consultCareerResponse")
    _write_result(payload, result, description)
    if career is not None:
        _write_career(payload, career)
    return payload


def contributions_response(
    result: ResultCode,
    payments: Iterable[ContributionPayment] = (),
    description: str | None = None,
) -> etree._Element:
    """The answer to consultContributionsRequest; payments go with OK only."""
    payload = _top("consultContributionsResponse")
    _write_result(payload, result, description)
    payments = tuple(payments)
    if payments:
        contributions = _sub(payload, "contributions")
        for payment in payments:
            _write_payment(contributions, payment)
    return payload


# --- reading (of schema-valid payloads; the checks here are what the XSD cannot say) -------


def _child(parent: etree._Element, name: str) -> etree._Element:
    child: etree._Element | None = parent.find(name)
    if child is None:
        raise ProtocolError(f"{name} missing in {etree.QName(parent).localname}")
    return child


def _text(parent: etree._Element, name: str) -> str:
    return _child(parent, name).text or ""


def _optional_text(parent: etree._Element, name: str) -> str | None:
    child: etree._Element | None = parent.find(name)
    return None if child is None else (child.text or "")


def _optional_date(parent: etree._Element, name: str) -> date | None:
    text = _optional_text(parent, name)
    return None if text is None else date.fromisoformat(text)


def _read_period(element: etree._Element) -> DatePeriod:
    period = DatePeriod(
        begin=date.fromisoformat(_text(element, "beginDate")),
        end=_optional_date(element, "endDate"),
    )
    if period.end is not None and period.end < period.begin:
        raise ProtocolError("a period ends before it begins")
    return period


def _read_coded(element: etree._Element) -> CodedValue:
    descriptions = tuple(
        Description(language=Language(str(item.get("language"))), text=item.text or "")
        for item in element.iterfind("description")
    )
    return CodedValue(code=_text(element, "code"), descriptions=descriptions)


def _read_optional_coded(parent: etree._Element, name: str) -> CodedValue | None:
    element: etree._Element | None = parent.find(name)
    return None if element is None else _read_coded(element)


def _read_fund(element: etree._Element) -> Fund:
    return Fund(
        code=_text(element, "code"),
        enterprise_number=_optional_text(element, "enterpriseNumber"),
    )


def _read_segment(element: etree._Element) -> CareerSegment:
    return CareerSegment(
        period=_read_period(_child(element, "period")),
        quality=_read_coded(_child(element, "selfEmployedQuality")),
        contribution=_read_coded(_child(element, "contribution")),
        equality=_read_optional_coded(element, "equality"),
    )


def _read_affiliation(element: etree._Element) -> Affiliation:
    return Affiliation(
        fund=_read_fund(_child(element, "socialInsuranceFund")),
        signature_date=_optional_date(element, "signatureDate"),
        segments=tuple(
            _read_segment(item)
            for item in _child(element, "careerSegments").iterfind("careerSegment")
        ),
    )


def _read_career(element: etree._Element) -> Career:
    return Career(
        nisse_reference=_text(element, "nisseReference"),
        enterprise_number=_optional_text(element, "selfEmployedEnterpriseNumber"),
        occupation=_read_optional_coded(element, "occupation"),
        affiliations=tuple(
            _read_affiliation(item)
            for item in _child(element, "affiliations").iterfind("affiliation")
        ),
    )


def _read_payment(element: etree._Element) -> ContributionPayment:
    return ContributionPayment(
        quarter=_text(element, "quarter"),
        fund=_read_fund(_child(element, "socialInsuranceFund")),
        situation=_read_coded(_child(element, "contributionSituation")),
        ziv=_read_optional_coded(element, "ziv"),
    )


def _read_result(payload: etree._Element, data: etree._Element | None) -> ResultCode:
    """The result code, checked against the presence of the data (OK if and only if data)."""
    text = _text(_child(payload, "result"), "code")
    try:
        result = ResultCode(text)
    except ValueError:
        raise ProtocolError(f"unknown result code {text[:40]!r}") from None
    if (result is ResultCode.OK) != (data is not None):
        raise ProtocolError(f"result {result.value} does not match the data present")
    return result


def read_career_response(payload: etree._Element) -> CareerAnswer:
    """A schema-valid consultCareerResponse as a record; ProtocolError when inconsistent."""
    element: etree._Element | None = payload.find("career")
    result = _read_result(payload, element)
    career = None if element is None else _read_career(element)
    return CareerAnswer(outcome=OUTCOMES[result], career=career)


def read_contributions_response(payload: etree._Element) -> ContributionsAnswer:
    """A schema-valid consultContributionsResponse as a record; ProtocolError when inconsistent."""
    element: etree._Element | None = payload.find("contributions")
    result = _read_result(payload, element)
    payments = (
        ()
        if element is None
        else tuple(_read_payment(item) for item in element.iterfind("contribution"))
    )
    return ContributionsAnswer(outcome=OUTCOMES[result], payments=payments)


def read_career_request(payload: etree._Element) -> tuple[str, DatePeriod]:
    """(ssin, period) of a schema-valid consultCareerRequest."""
    return _text(payload, "ssin"), _read_period(_child(payload, "period"))


def read_contributions_request(payload: etree._Element) -> tuple[str, str, str | None]:
    """(ssin, beginQuarter, endQuarter) of a schema-valid consultContributionsRequest."""
    return (
        _text(payload, "ssin"),
        _text(payload, "beginQuarter"),
        _optional_text(payload, "endQuarter"),
    )


# --- the adapter --------------------------------------------------------------------------

Observer = Callable[[str, str, float], None]


def notify(observer: Observer | None, operation: Operation, outcome: str, started: float) -> None:
    """Tell `observer` (if any) how a call ended and how long it took, since `started`."""
    if observer is None:
        return
    try:
        observer(operation.value, outcome, time.monotonic() - started)
    except Exception:
        # A measurement must never change the answer given to the client.
        logger.exception("supplier observer failed")


_Answer = TypeVar("_Answer", CareerAnswer, ContributionsAnswer)


class InastiFinalSupplier:
    """The `Supplier` of the final phase: INASTI's SelfEmployedService v1 over HTTP (R-61).

    HTTP goes through `SupplierHttp`: one pooled client, every call cancelled when the time
    budget is spent (R-65), answers over the size cap refused. Failures raise
    `SupplierError` with the R-22 `details`; only a complete, schema-valid answer becomes a
    record (R-66).

    `observer`, when given, is called after every call with (operation, outcome, seconds),
    outcome being the INASTI result code or the `SupplierError` details: a per-call hook
    that is safe with many calls in flight, unlike "last call" state on the object.
    """

    operations = frozenset(Operation)

    def __init__(
        self,
        settings: SupplierSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer
        SCHEMA.schema()  # a broken package (XSD missing) fails at start-up, not on the first call
        self._http = SupplierHttp(settings.url, settings, transport=transport)

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        """consultCareer at INASTI: segments overlapping `period` (R-55)."""
        return await self._exchange(
            Operation.CONSULT_CAREER,
            ssin,
            career_request(ssin, period),
            CAREER_RESPONSE,
            read_career_response,
        )

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        """consultContributions at INASTI, which asks the funds concerned (R-64)."""
        return await self._exchange(
            Operation.CONSULT_CONTRIBUTIONS,
            ssin,
            contributions_request(ssin, begin_quarter, end_quarter),
            CONTRIBUTIONS_RESPONSE,
            read_contributions_response,
        )

    def is_reachable(self) -> bool:
        return self._http.is_reachable()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- one call --------------------------------------------------------------------------

    async def _exchange(
        self,
        operation: Operation,
        ssin: str,
        request: etree._Element,
        expected: str,
        read: Callable[[etree._Element], _Answer],
    ) -> _Answer:
        started = time.monotonic()
        try:
            answer = await self._http.post(soap_action(operation).strip('"'), envelope(request))
            if answer.status != 200:
                raise SupplierError(
                    codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
                    _describe_status(answer.status, answer.body),
                )
            result = _interpret(answer.body, expected, read)
        except SupplierError as error:
            logger.warning(
                "INASTI %s for %s failed: %s (%s)",
                operation.value,
                ssin_tag(ssin),
                error.details,
                error.cause,
            )
            notify(self._observer, operation, error.details, started)
            raise
        notify(self._observer, operation, _RESULT_CODES[result.outcome].value, started)
        return result


def _describe_status(status: int, body: bytes) -> str:
    """`HTTP <status>`, with the SOAP Fault's code and text when the body is one."""
    try:
        payload = body_payload(parse_document(body))
    except ProtocolError:
        return f"HTTP {status}"
    return (
        f"HTTP {status}, SOAP Fault {describe_fault(payload)}"
        if is_fault(payload)
        else f"HTTP {status}"
    )


def _interpret(body: bytes, expected: str, read: Callable[[etree._Element], _Answer]) -> _Answer:
    """An HTTP 200 body as a record, or SupplierError (R-66: never a partial record)."""
    try:
        payload = body_payload(parse_document(body))
    except ProtocolError as exc:
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, str(exc)[:_MAX_CAUSE]) from exc
    if is_fault(payload):
        raise SupplierError(
            codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"SOAP Fault {describe_fault(payload)}"
        )
    if payload.tag != expected:
        raise SupplierError(
            codes.SUPPLIER_UNEXPECTED_RESPONSE,
            f"body element {str(payload.tag)[:80]}, expected {expected}",
        )
    error = schema_error(payload)
    if error is not None:
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, f"schema: {error}"[:_MAX_CAUSE])
    try:
        return read(payload)
    except ValueError as exc:  # ProtocolError, or a record that refuses a value
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, str(exc)[:_MAX_CAUSE]) from exc
