"""INASTI's SelfEmployedService v1, the final-phase protocol: every message, both ways.

Final phase (R-22, R-61): the gateway calls INASTI's new service directly and maps its answer
almost one to one onto the v2 response. The protocol is the project's own definition; its
schema is `suppliers/schemas/InastiSelfEmployedV1.xsd`. The adapter (`adapter.py`) writes
requests and reads answers; the built-in simulator reads requests and writes answers.

Wire protocol
-------------
* SOAP 1.1 (`suppliers/soap11.py`), document/literal, HTTP POST to the configured URL
  (development: ``http://127.0.0.1:4580/inasti/SelfEmployedService``), ``Content-Type:
  text/xml; charset=utf-8``, ``SOAPAction: "urn:be:fgov:inasti:selfemployed:v1/<operation>"``.
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

Readers take schema-valid payloads (`SCHEMA`); what they check is what the XSD cannot say.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from lxml import etree

from selfemployed_gateway.namespaces import INASTI_FINAL
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
from selfemployed_gateway.suppliers.elements import Children, missing, top
from selfemployed_gateway.suppliers.elements import child as _child
from selfemployed_gateway.suppliers.elements import optional_text as _optional_text
from selfemployed_gateway.suppliers.elements import sub as _sub
from selfemployed_gateway.suppliers.elements import text as _text
from selfemployed_gateway.suppliers.soap11 import ProtocolError
from selfemployed_gateway.xmlsafe import XmlSchema

NAMESPACE = INASTI_FINAL
PREFIX = "inasti"
SCHEMA = XmlSchema.from_package(
    "selfemployed_gateway.suppliers", "schemas", "InastiSelfEmployedV1.xsd"
)

CAREER_REQUEST = f"{{{NAMESPACE}}}consultCareerRequest"
CAREER_RESPONSE = f"{{{NAMESPACE}}}consultCareerResponse"
CONTRIBUTIONS_REQUEST = f"{{{NAMESPACE}}}consultContributionsRequest"
CONTRIBUTIONS_RESPONSE = f"{{{NAMESPACE}}}consultContributionsResponse"


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


def soap_action(operation: Operation) -> str:
    """The SOAPAction header value of `operation`, quoted as SOAP 1.1 writes it."""
    return f'"{NAMESPACE}/{operation.value}"'


# --- writing ------------------------------------------------------------------------------


def _top(local_name: str) -> etree._Element:
    return top(NAMESPACE, PREFIX, local_name)


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


def _optional_date(children: Children, name: str) -> date | None:
    text = children.optional_text(name)
    return None if text is None else date.fromisoformat(text)


def _read_period(element: etree._Element) -> DatePeriod:
    children = Children(element)
    period = DatePeriod(
        begin=date.fromisoformat(children.text("beginDate")),
        end=_optional_date(children, "endDate"),
    )
    if period.end is not None and period.end < period.begin:
        raise ProtocolError("a period ends before it begins")
    return period


def _read_coded(element: etree._Element) -> CodedValue:
    """A code and its descriptions, in one walk over the element's children."""
    code: str | None = None
    descriptions: list[tuple[str, str]] = []
    for item in element:
        if item.tag == "description":
            descriptions.append((str(item.get("language")), item.text or ""))
        elif item.tag == "code" and code is None:
            code = item.text or ""
    if code is None:
        raise missing("code", element)
    return _coded_value(code, tuple(descriptions))


@functools.lru_cache(maxsize=1024)
def _coded_value(code: str, descriptions: tuple[tuple[str, str], ...]) -> CodedValue:
    """Remembered: coded values repeat within and across answers (a code and its table's
    descriptions), and building the records was ~40% of reading a career (issue #17).
    Records are frozen, so sharing one is safe; an unknown language still raises."""
    return CodedValue(
        code=code,
        descriptions=tuple(
            Description(language=Language(language), text=text) for language, text in descriptions
        ),
    )


def _read_optional_coded(children: Children, name: str) -> CodedValue | None:
    element = children.first(name)
    return None if element is None else _read_coded(element)


def _read_fund(element: etree._Element) -> Fund:
    children = Children(element)
    return Fund(
        code=children.text("code"),
        enterprise_number=children.optional_text("enterpriseNumber"),
    )


def _read_segment(element: etree._Element) -> CareerSegment:
    children = Children(element)
    return CareerSegment(
        period=_read_period(children.child("period")),
        quality=_read_coded(children.child("selfEmployedQuality")),
        contribution=_read_coded(children.child("contribution")),
        equality=_read_optional_coded(children, "equality"),
    )


def _read_affiliation(element: etree._Element) -> Affiliation:
    children = Children(element)
    return Affiliation(
        fund=_read_fund(children.child("socialInsuranceFund")),
        signature_date=_optional_date(children, "signatureDate"),
        segments=tuple(
            _read_segment(item)
            for item in children.child("careerSegments").iterchildren("careerSegment")
        ),
    )


def _read_career(element: etree._Element) -> Career:
    children = Children(element)
    return Career(
        nisse_reference=children.text("nisseReference"),
        enterprise_number=children.optional_text("selfEmployedEnterpriseNumber"),
        occupation=_read_optional_coded(children, "occupation"),
        affiliations=tuple(
            _read_affiliation(item)
            for item in children.child("affiliations").iterchildren("affiliation")
        ),
    )


def _read_payment(element: etree._Element) -> ContributionPayment:
    children = Children(element)
    return ContributionPayment(
        quarter=children.text("quarter"),
        fund=_read_fund(children.child("socialInsuranceFund")),
        situation=_read_coded(children.child("contributionSituation")),
        ziv=_read_optional_coded(children, "ziv"),
    )


def _read_result(children: Children, data: etree._Element | None) -> ResultCode:
    """The result code, checked against the presence of the data (OK if and only if data)."""
    text = _text(children.child("result"), "code")
    try:
        result = ResultCode(text)
    except ValueError:
        raise ProtocolError(f"unknown result code {text[:40]!r}") from None
    if (result is ResultCode.OK) != (data is not None):
        raise ProtocolError(f"result {result.value} does not match the data present")
    return result


def read_career_response(payload: etree._Element) -> CareerAnswer:
    """A schema-valid consultCareerResponse as a record; ProtocolError when inconsistent."""
    children = Children(payload)
    element = children.first("career")
    result = _read_result(children, element)
    career = None if element is None else _read_career(element)
    return CareerAnswer(outcome=OUTCOMES[result], career=career)


def read_contributions_response(payload: etree._Element) -> ContributionsAnswer:
    """A schema-valid consultContributionsResponse as a record; ProtocolError when inconsistent."""
    children = Children(payload)
    element = children.first("contributions")
    result = _read_result(children, element)
    payments = (
        ()
        if element is None
        else tuple(_read_payment(item) for item in element.iterchildren("contribution"))
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
