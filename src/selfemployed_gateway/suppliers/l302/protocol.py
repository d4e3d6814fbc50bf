"""INASTI's old flow L302, the transitional-phase protocol: every message, both ways.

Transitional phase (R-22, R-60, R-63): the gateway consults the RGTI repertory through L302
and converts the answer to the v2 career (`conversion.py`). The real L302 element names are
not public (domain-facts §1.2); what is known (domain-facts §1.1, §1.3, §1.4) is an
AttestationID, career lines with the fund's SIFCode, a begin and end given as a month or a
date, a contribution category letter and an assimilation code. The element names below are
the project's documented assumption (`docs/l302.md`); the schema is
`suppliers/schemas/L302.xsd`. The adapter writes requests and reads answers; the built-in
simulator reads requests and writes answers.

Wire protocol
-------------
* SOAP 1.1 (`suppliers/soap11.py`), document/literal, HTTP POST to ``supplier.l302_url``
  (development: ``http://127.0.0.1:4580/inasti/L302``), ``Content-Type: text/xml;
  charset=utf-8``, ``SOAPAction: "urn:be:fgov:inasti:l302:v1/consultRGTI"``.
* Namespace ``urn:be:fgov:inasti:l302:v1`` (prefix ``l302``) on the top element only;
  children are unqualified.
* Request ``l302:L302Request{SSIN, BeginDate, EndDate?}`` (days, ``YYYY-MM-DD``).
* Answer ``l302:L302Response`` holding either
  ``L302{AttestationID, SelfEmployedCBENumber?, CareerLine*{SIFCode, BeginDate, EndDate?,
  ContributionCategory, AssimilationCode?}}`` or ``Refusal{ReturnCode, Description?}``.
  Career-line dates are ``YYYY-MM-DD`` or ``YYYY-MM`` (a begin month means its first day, an
  end month its last day). INASTI returns the lines overlapping the asked period (R-55).
* Refusal ``NOT_FOUND``: no data for the person; ``UNDER_INVESTIGATION``: SES00006; any other
  return code is MSG00002 "Unexpected return code from supplier". An ``L302`` without career
  line: no data for the period. A server error is a SOAP Fault (HTTP 500).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from lxml import etree

from selfemployed_gateway.namespaces import INASTI_L302
from selfemployed_gateway.records import DatePeriod, SupplierOutcome
from selfemployed_gateway.suppliers.elements import optional_text as _optional_text
from selfemployed_gateway.suppliers.elements import sub as _sub
from selfemployed_gateway.suppliers.elements import text as _text
from selfemployed_gateway.suppliers.elements import top
from selfemployed_gateway.suppliers.soap11 import ProtocolError
from selfemployed_gateway.xmlsafe import XmlSchema

NAMESPACE = INASTI_L302
PREFIX = "l302"
SOAP_ACTION = f"{NAMESPACE}/consultRGTI"
SCHEMA = XmlSchema.from_package("selfemployed_gateway.suppliers", "schemas", "L302.xsd")
REQUEST = f"{{{NAMESPACE}}}L302Request"
RESPONSE = f"{{{NAMESPACE}}}L302Response"
_MONTH_LENGTH = len("YYYY-MM")


class ReturnCode(StrEnum):
    """The `Refusal/ReturnCode` values the gateway understands (R-22)."""

    NOT_FOUND = "NOT_FOUND"
    UNDER_INVESTIGATION = "UNDER_INVESTIGATION"


REFUSAL_OUTCOMES: Mapping[str, SupplierOutcome] = {
    ReturnCode.NOT_FOUND: SupplierOutcome.NO_DATA_FOR_PERSON,
    ReturnCode.UNDER_INVESTIGATION: SupplierOutcome.UNDER_INVESTIGATION,
}


# --- the messages, as values --------------------------------------------------------------


@dataclass(frozen=True)
class CareerLine:
    """One `CareerLine`, dates resolved to days (a begin month: its first day; an end month:
    its last day)."""

    sif_code: str
    begin: date
    end: date | None
    category: str
    assimilation: str | None = None


@dataclass(frozen=True)
class Attestation:
    """The `L302` element: INASTI's attestation of the career lines."""

    attestation_id: str
    enterprise_number: str | None
    lines: tuple[CareerLine, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """The `Refusal` element."""

    return_code: str
    description: str | None = None


L302Answer = Attestation | Refusal | None  # None: an L302Response with neither


# --- dates --------------------------------------------------------------------------------


def parse_begin(text: str) -> date:
    """A begin date: `YYYY-MM-DD`, or `YYYY-MM` meaning the month's first day."""
    if len(text) == _MONTH_LENGTH:
        return date.fromisoformat(f"{text}-01")
    return date.fromisoformat(text)


def parse_end(text: str) -> date:
    """An end date: `YYYY-MM-DD`, or `YYYY-MM` meaning the month's last day."""
    if len(text) == _MONTH_LENGTH:
        first = date.fromisoformat(f"{text}-01")
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return date.fromisoformat(text)


def format_begin(day: date, months: bool = False) -> str:
    """`day` as written in a career line; with `months`, a month's first day as `YYYY-MM`."""
    return day.isoformat()[:_MONTH_LENGTH] if months and day.day == 1 else day.isoformat()


def format_end(day: date, months: bool = False) -> str:
    """`day` as written in a career line; with `months`, a month's last day as `YYYY-MM`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.isoformat()[:_MONTH_LENGTH] if months and day.day == last else day.isoformat()


# --- writing ------------------------------------------------------------------------------


def _top(local_name: str) -> etree._Element:
    return top(NAMESPACE, PREFIX, local_name)


def l302_request(ssin: str, period: DatePeriod) -> etree._Element:
    """`L302Request` for the career lines of `ssin` overlapping `period`."""
    payload = _top("L302Request")
    _sub(payload, "SSIN", ssin)
    _sub(payload, "BeginDate", period.begin.isoformat())
    if period.end is not None:
        _sub(payload, "EndDate", period.end.isoformat())
    return payload


def _write_line(parent: etree._Element, line: CareerLine, months: bool) -> None:
    element = _sub(parent, "CareerLine")
    _sub(element, "SIFCode", line.sif_code)
    _sub(element, "BeginDate", format_begin(line.begin, months))
    if line.end is not None:
        _sub(element, "EndDate", format_end(line.end, months))
    _sub(element, "ContributionCategory", line.category)
    if line.assimilation is not None:
        _sub(element, "AssimilationCode", line.assimilation)


def _write_attestation(parent: etree._Element, attestation: Attestation, months: bool) -> None:
    element = _sub(parent, "L302")
    _sub(element, "AttestationID", attestation.attestation_id)
    if attestation.enterprise_number is not None:
        _sub(element, "SelfEmployedCBENumber", attestation.enterprise_number)
    for line in attestation.lines:
        _write_line(element, line, months)


def _write_refusal(parent: etree._Element, refusal: Refusal) -> None:
    element = _sub(parent, "Refusal")
    _sub(element, "ReturnCode", refusal.return_code)
    if refusal.description is not None:
        _sub(element, "Description", refusal.description)


def l302_response(answer: L302Answer, *, months: bool = False) -> etree._Element:
    """`L302Response` holding `answer` (None: neither L302 nor Refusal). With `months`, dates
    on a month boundary are written at month granularity (`YYYY-MM`)."""
    payload = _top("L302Response")
    if isinstance(answer, Attestation):
        _write_attestation(payload, answer, months)
    elif isinstance(answer, Refusal):
        _write_refusal(payload, answer)
    return payload


# --- reading (of schema-valid payloads; the checks here are what the XSD cannot say) -------


def _read_line(element: etree._Element) -> CareerLine:
    end_text = _optional_text(element, "EndDate")
    line = CareerLine(
        sif_code=_text(element, "SIFCode"),
        begin=parse_begin(_text(element, "BeginDate")),
        end=None if end_text is None else parse_end(end_text),
        category=_text(element, "ContributionCategory"),
        assimilation=_optional_text(element, "AssimilationCode"),
    )
    if line.end is not None and line.end < line.begin:
        raise ProtocolError(f"a career line of fund {line.sif_code} ends before it begins")
    return line


def _read_attestation(element: etree._Element) -> Attestation:
    return Attestation(
        attestation_id=_text(element, "AttestationID"),
        enterprise_number=_optional_text(element, "SelfEmployedCBENumber"),
        lines=tuple(_read_line(item) for item in element.iterfind("CareerLine")),
    )


def read_l302_response(payload: etree._Element) -> L302Answer:
    """A schema-valid `L302Response` as a value; ProtocolError when a line ends before it
    begins (and the ValueError of `date` when a date is impossible)."""
    attestation: etree._Element | None = payload.find("L302")
    if attestation is not None:
        return _read_attestation(attestation)
    refusal: etree._Element | None = payload.find("Refusal")
    if refusal is not None:
        return Refusal(
            return_code=_text(refusal, "ReturnCode"),
            description=_optional_text(refusal, "Description"),
        )
    return None


def read_l302_request(payload: etree._Element) -> tuple[str, DatePeriod]:
    """(ssin, period) of a schema-valid `L302Request`."""
    end = _optional_text(payload, "EndDate")
    return _text(payload, "SSIN"), DatePeriod(
        begin=date.fromisoformat(_text(payload, "BeginDate")),
        end=None if end is None else date.fromisoformat(end),
    )
