"""Writing responses (R-52 … R-54, §10) straight with lxml.

Spyne's response serialisation cost three quarters of a request's CPU (about 135 leaf values
walked through its generic model machinery); the response is built here directly from the
pipeline's `Reply`. The contract is still checked: tests and acceptance validate every
emitted response against the XSD (`gateway.validate_responses`). The request's
informationCustomer, legalContext and criteria are copied element by element (R-53), so a
client gets back exactly what it sent.
"""

from __future__ import annotations

import functools
from datetime import date

from lxml import etree

from selfemployed_gateway.namespaces import SERVICE, SOAP_ENV, XSI
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerSegment,
    CodedValue,
    ContributionPayment,
    Fund,
    Operation,
    Reply,
)

_COPIED_BEFORE_CBSS = ("informationCustomer",)
_COPIED_AFTER_CBSS = ("legalContext", "criteria")
_XSI_ATTRIBUTES = f"{{{XSI}}}*"
_ENVELOPE_START = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
).encode()
_ENVELOPE_END = b"</soapenv:Body></soapenv:Envelope>"


def response_envelope(
    operation: Operation, request: etree._Element, reply: Reply, cbss: etree._Element
) -> bytes:
    """The whole SOAP envelope of the response to `request`: the bytes lxml would write for
    the payload appended to an Envelope, without moving it into a second document first
    (~12 µs of an answer, issue #17)."""
    payload = response_payload(operation, request, reply, cbss)
    serialised: bytes = etree.tostring(
        payload, encoding="UTF-8", xml_declaration=False, with_tail=False
    )
    return _ENVELOPE_START + serialised + _ENVELOPE_END


def response_payload(
    operation: Operation, request: etree._Element, reply: Reply, cbss: etree._Element
) -> etree._Element:
    root = etree.Element(f"{{{SERVICE}}}{operation.value}Response", nsmap={"ses": SERVICE})
    _copy(request, root, _COPIED_BEFORE_CBSS)
    root.append(cbss)
    _copy(request, root, _COPIED_AFTER_CBSS)
    _status(root, reply)
    if reply.ssin is not None:
        ssin = _sub(root, "ssin", reply.ssin.ssin)
        if reply.ssin.canceled:
            ssin.set("canceled", "true")
        if reply.ssin.replaces is not None:
            ssin.set("replaces", reply.ssin.replaces)
    if operation is Operation.CONSULT_CAREER:
        if reply.data_filters:
            filters = _sub(root, "dataFilters")
            for name in reply.data_filters:
                _sub(filters, "filteredElement", name)
        if reply.career is not None:
            _career(root, reply.career)
    elif reply.payments:
        contributions = _sub(root, "contributions")
        for payment in reply.payments:
            _payment(contributions, payment)
    etree.cleanup_namespaces(root)
    return root


def _copy(request: etree._Element, parent: etree._Element, names: tuple[str, ...]) -> None:
    """R-53: the request's blocks, as sent, without the XML Schema instance attributes.

    `xsi:type`, `xsi:nil`, `xsi:schemaLocation` and `xsi:noNamespaceSchemaLocation` are hints
    about the client's document, not data: in a schema-valid request xsi:type can only name the
    declared type, and no element of the contract is nillable. Copied, xsi:type would also
    break the response: its value is a QName whose prefix `cleanup_namespaces` does not see
    (an undeclared prefix, found by tests/unit/test_fuzz.py), and schema locations would send
    back whatever URL a client put there.
    """
    for name in names:
        found = request.find(name)
        if found is not None:
            parent.append(copied_block(found))


def copied_block(found: etree._Element) -> etree._Element:
    """One block of the request as `_copy` writes it back (a fault's informationCustomer
    too, §8): a copy without its tail and without any xsi:* attribute."""
    element = found.__deepcopy__(None)  # lxml's own copy, without copy.py's dispatch
    element.tail = None
    etree.strip_attributes(element, _XSI_ATTRIBUTES)  # every xsi:*, in C
    return element


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _status(parent: etree._Element, reply: Reply) -> None:
    status = _sub(parent, "status")
    _sub(status, "value", reply.status.value.value)
    _sub(status, "code", reply.status.code)
    _sub(status, "description", reply.status.description)
    for item in reply.information:
        information = _sub(status, "information")
        _sub(information, "fieldName", item.field_name)
        if item.field_value is not None:
            _sub(information, "fieldValue", item.field_value)


def _coded(parent: etree._Element, tag: str, value: CodedValue | None) -> None:
    if value is not None:
        parent.append(_coded_element(tag, value).__copy__())


@functools.lru_cache(maxsize=1024)
def _coded_element(tag: str, value: CodedValue) -> etree._Element:
    """A coded value's element, built once and copied into each answer: coded values repeat
    within and across answers, records are frozen, and a copy costs 7 µs where building the
    code and its descriptions cost 18 (issue #17). The cache is only read (copied), never
    modified."""
    element = etree.Element(tag)
    _sub(element, "code", value.code)
    for description in value.descriptions:
        _sub(element, "description", description.text).set("language", description.language)
    return element


def _fund(parent: etree._Element, fund: Fund) -> None:
    element = _sub(parent, "socialInsuranceFund")
    if fund.enterprise_number is not None:
        _sub(element, "enterpriseNumber", fund.enterprise_number)
    _sub(element, "code", fund.code)


def _date(parent: etree._Element, tag: str, value: date | None) -> None:
    if value is not None:
        _sub(parent, tag, value.isoformat())


def _career(parent: etree._Element, career: Career) -> None:
    element = _sub(parent, "career")
    _sub(element, "nisseReference", career.nisse_reference)
    if career.enterprise_number is not None:
        _sub(element, "selfEmployedEnterpriseNumber", career.enterprise_number)
    _coded(element, "occupation", career.occupation)
    affiliations = _sub(element, "affiliations")
    for affiliation in career.affiliations:
        _affiliation(affiliations, affiliation)


def _affiliation(parent: etree._Element, affiliation: Affiliation) -> None:
    element = _sub(parent, "affiliation")
    _fund(element, affiliation.fund)
    _date(element, "signatureDate", affiliation.signature_date)
    segments = _sub(element, "careerSegments")
    for segment in affiliation.segments:
        _segment(segments, segment)


def _segment(parent: etree._Element, segment: CareerSegment) -> None:
    element = _sub(parent, "careerSegment")
    period = _sub(element, "period")
    _date(period, "beginDate", segment.period.begin)
    _date(period, "endDate", segment.period.end)
    _coded(element, "selfEmployedQuality", segment.quality)
    _coded(element, "contribution", segment.contribution)
    _coded(element, "equality", segment.equality)


def _payment(parent: etree._Element, payment: ContributionPayment) -> None:
    element = _sub(parent, "contribution")
    _sub(element, "quarter", payment.quarter)
    _fund(element, payment.fund)
    _coded(element, "contributionSituation", payment.situation)
    _coded(element, "ziv", payment.ziv)
