"""Writing responses (R-52 … R-54, §10) without spyne: lxml and text.

Spyne's response serialisation cost three quarters of a request's CPU (about 135 leaf values
walked through its generic model machinery); the response is built here directly from the
pipeline's `Reply`. The contract is still checked: tests and acceptance validate every
emitted response against the XSD (`gateway.validate_responses`). The request's
informationCustomer, legalContext and criteria are copied element by element (R-53), so a
client gets back exactly what it sent.

The blocks copied from the request and informationCBSS are lxml elements; what the gateway
answers after them (status, ssin, dataFilters, the career or the contributions: most of an
answer's elements, all unqualified) is written as text, the bytes lxml writes for those
elements, and spliced before the payload's end tag. An lxml element costs ~0.75 µs to build
where its text costs a tenth (a DATA_FOUND career answer: 64 -> 31 µs, issue #17). Every text
is refused as lxml refuses it (`ValueError` for a character XML cannot hold) and escaped as
lxml escapes it: tests/unit/soap/test_writer.py reads hostile answers back and finds lxml
writing the same bytes.
"""

from __future__ import annotations

import re
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
    end = f"</ses:{operation.value}Response>".encode()
    if not serialised.endswith(end):  # informationCBSS is always there: a bug of ours
        raise RuntimeError(f"the payload does not end with {end!r}")
    written = serialised[: -len(end)] + _answer_text(operation, reply).encode("utf-8") + end
    return _ENVELOPE_START + written + _ENVELOPE_END


def response_payload(
    operation: Operation, request: etree._Element, reply: Reply, cbss: etree._Element
) -> etree._Element:
    """The payload up to the answer (`_answer_text`): the blocks copied from the request
    around informationCBSS."""
    root = etree.Element(f"{{{SERVICE}}}{operation.value}Response", nsmap={"ses": SERVICE})
    _copy(request, root, _COPIED_BEFORE_CBSS)
    root.append(cbss)
    _copy(request, root, _COPIED_AFTER_CBSS)
    etree.cleanup_namespaces(root)
    return root


def _answer_text(operation: Operation, reply: Reply) -> str:
    """What the gateway answers, last in the payload, as text: status, ssin, then the
    dataFilters and the career, or the contributions."""
    parts: list[str] = []
    _status(parts, reply)
    if reply.ssin is not None:
        attributes = ' canceled="true"' if reply.ssin.canceled else ""
        if reply.ssin.replaces is not None:
            attributes += f' replaces="{_escaped_attribute(reply.ssin.replaces)}"'
        parts.append(f"<ssin{attributes}>{_escaped(reply.ssin.ssin)}</ssin>")
    if operation is Operation.CONSULT_CAREER:
        if reply.data_filters:
            parts.append("<dataFilters>")
            for name in reply.data_filters:
                _text(parts, "filteredElement", name)
            parts.append("</dataFilters>")
        if reply.career is not None:
            _career(parts, reply.career)
    elif reply.payments:
        parts.append("<contributions>")
        for payment in reply.payments:
            _payment(parts, payment)
        parts.append("</contributions>")
    return "".join(parts)


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


def _status(parts: list[str], reply: Reply) -> None:
    parts.append("<status>")
    _text(parts, "value", reply.status.value.value)
    _text(parts, "code", reply.status.code)
    _text(parts, "description", reply.status.description)
    for item in reply.information:
        parts.append("<information>")
        _text(parts, "fieldName", item.field_name)
        if item.field_value is not None:
            _text(parts, "fieldValue", item.field_value)
        parts.append("</information>")
    parts.append("</status>")


# A character that needs work: one XML 1.0 cannot hold (lxml refuses it: ValueError), or one
# lxml escapes in text (&, <, >, and the carriage return, which a parser would normalise).
_NEEDS_WORK = re.compile(
    "[^\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escaped(text: str) -> str:
    """`text` as lxml writes it in an element's content; `ValueError` as lxml's if XML cannot
    hold one of its characters (a NUL, a control character, a lone surrogate)."""
    if _NEEDS_WORK.search(text) is None:
        return text
    if _NOT_XML.search(text) is not None:
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, "
            "no NULL bytes or control characters"
        )
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escaped_attribute(text: str) -> str:
    """`text` as lxml writes it in a double-quoted attribute (whitespace kept as written)."""
    return _escaped(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _text(parts: list[str], tag: str, text: str) -> None:
    parts.append(f"<{tag}>{_escaped(text)}</{tag}>")


def _coded(parts: list[str], tag: str, value: CodedValue | None) -> None:
    if value is None:
        return
    # By identity: the supplier's reader shares one record per coded value
    # (suppliers/final/protocol.py), and hashing a record, field by field, was a fifth of
    # writing an answer (issue #17). The memo holds the record, so its id is not reused
    # while it is there; bounded, emptied when full.
    key = (tag, id(value))
    kept = _CODED.get(key)
    if kept is None or kept[0] is not value:
        if len(_CODED) >= _CODED_MAX:
            _CODED.clear()
        kept = _CODED[key] = (value, _coded_text(tag, value))
    parts.append(kept[1])


_CODED: dict[tuple[str, int], tuple[CodedValue, str]] = {}
_CODED_MAX = 1024


def _coded_text(tag: str, value: CodedValue) -> str:
    """A coded value's element: the code and a description per language."""
    parts = [f"<{tag}>"]
    _text(parts, "code", value.code)
    for description in value.descriptions:
        # The language is one of Language's values: nothing to escape in the attribute.
        parts.append(f'<description language="{description.language.value}">')
        parts.append(f"{_escaped(description.text)}</description>")
    parts.append(f"</{tag}>")
    return "".join(parts)


def _fund(parts: list[str], fund: Fund) -> None:
    parts.append("<socialInsuranceFund>")
    if fund.enterprise_number is not None:
        _text(parts, "enterpriseNumber", fund.enterprise_number)
    _text(parts, "code", fund.code)
    parts.append("</socialInsuranceFund>")


def _date(parts: list[str], tag: str, value: date | None) -> None:
    if value is not None:
        parts.append(f"<{tag}>{value.isoformat()}</{tag}>")


def _career(parts: list[str], career: Career) -> None:
    parts.append("<career>")
    _text(parts, "nisseReference", career.nisse_reference)
    if career.enterprise_number is not None:
        _text(parts, "selfEmployedEnterpriseNumber", career.enterprise_number)
    _coded(parts, "occupation", career.occupation)
    parts.append("<affiliations>")
    for affiliation in career.affiliations:
        _affiliation(parts, affiliation)
    parts.append("</affiliations></career>")


def _affiliation(parts: list[str], affiliation: Affiliation) -> None:
    parts.append("<affiliation>")
    _fund(parts, affiliation.fund)
    _date(parts, "signatureDate", affiliation.signature_date)
    parts.append("<careerSegments>")
    for segment in affiliation.segments:
        _segment(parts, segment)
    parts.append("</careerSegments></affiliation>")


def _segment(parts: list[str], segment: CareerSegment) -> None:
    parts.append("<careerSegment><period>")
    _date(parts, "beginDate", segment.period.begin)
    _date(parts, "endDate", segment.period.end)
    parts.append("</period>")
    _coded(parts, "selfEmployedQuality", segment.quality)
    _coded(parts, "contribution", segment.contribution)
    _coded(parts, "equality", segment.equality)
    parts.append("</careerSegment>")


def _payment(parts: list[str], payment: ContributionPayment) -> None:
    parts.append("<contribution>")
    _text(parts, "quarter", payment.quarter)
    _fund(parts, payment.fund)
    _coded(parts, "contributionSituation", payment.situation)
    _coded(parts, "ziv", payment.ziv)
    parts.append("</contribution>")
