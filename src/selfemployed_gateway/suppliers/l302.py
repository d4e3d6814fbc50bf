"""INASTI's old flow L302: the transitional-phase supplier protocol and its httpx adapter.

Transitional phase (R-22, R-60, R-63): the gateway consults the RGTI repertory through L302
and converts the answer to the v2 career. The real L302 element names are not public
(domain-facts §1.2); what is known (domain-facts §1.1, §1.3, §1.4) is an AttestationID,
career lines with the fund's SIFCode, a begin and end given as a month or a date, a
contribution category letter and an assimilation code. The element names below are the
project's documented assumption (`docs/l302.md`); the schema is `schemas/L302.xsd`.

Wire protocol
-------------
* SOAP 1.1, document/literal, HTTP POST to ``supplier.l302_url`` (development:
  ``http://127.0.0.1:4580/inasti/L302``), ``Content-Type: text/xml; charset=utf-8``,
  ``SOAPAction: "urn:be:fgov:inasti:l302:v1/consultRGTI"``.
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

Conversion (R-63)
-----------------
``AttestationID`` → ``nisseReference``; ``SelfEmployedCBENumber`` →
``selfEmployedEnterpriseNumber``; no occupation, no signature date. The lines, in date order,
are grouped into affiliations: a line continues the previous affiliation when it has the same
SIFCode and begins at the latest the day after the previous line ends (an affiliation is
uninterrupted, with one fund). The fund's enterprise number comes from the gateway's fund
table (none for a fund missing from it: old funds have none). Each line becomes a career
segment whose quality and contribution come from the mapping of its category letter and whose
equality comes from the mapping of its assimilation code (`l302_mapping`), with the FR, NL, DE
descriptions of the gateway's code tables.

Adapter
-------
`L302Supplier` never trusts the answer (R-66): anything but a complete, schema-valid,
fully convertible answer raises `SupplierError` with one of the MSG00002 texts of R-22, never a
half-converted career; the call is bounded by the time budget (R-65). consultContributions
does not exist in this phase: `OperationNotAvailable` (MSG00025, R-60).

The message builders and readers below are shared with the built-in simulator
(`selfemployed_gateway.simulator.l302`), so both sides speak exactly this protocol.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import httpx
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import CodeTables, FundEntry, LocalizedTexts
from selfemployed_gateway.privacy import ssin_tag
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerAnswer,
    CareerSegment,
    CodedValue,
    ContributionsAnswer,
    DatePeriod,
    Description,
    Fund,
    Language,
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.suppliers import OperationNotAvailable, SupplierError
from selfemployed_gateway.suppliers.http import HttpAnswer, SupplierHttp
from selfemployed_gateway.suppliers.inasti_final import (
    Observer,
    ProtocolError,
    ProtocolSchema,
    body_payload,
    describe_fault,
    envelope,
    is_fault,
    notify,
    parse_document,
)
from selfemployed_gateway.suppliers.l302_mapping import L302Mapping, L302MappingError

logger = logging.getLogger(__name__)

NAMESPACE = "urn:be:fgov:inasti:l302:v1"
PREFIX = "l302"
SOAP_ACTION = f"{NAMESPACE}/consultRGTI"
SCHEMA_FILE = "L302.xsd"
REQUEST = f"{{{NAMESPACE}}}L302Request"
RESPONSE = f"{{{NAMESPACE}}}L302Response"
# Supplier texts end up in logs and fault causes: keep them short.
_MAX_CAUSE = 200
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


# --- schema -------------------------------------------------------------------------------

SCHEMA = ProtocolSchema(SCHEMA_FILE)


def schema_error(payload: etree._Element) -> str | None:
    """The first error of `payload` against L302.xsd, or None when it is valid."""
    return SCHEMA.error(payload)


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
    element: etree._Element = etree.Element(
        f"{{{NAMESPACE}}}{local_name}", nsmap={PREFIX: NAMESPACE}
    )
    return element


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    # lxml escapes the text: values are never formatted into markup.
    child: etree._Element = etree.SubElement(parent, name)
    if text is not None:
        child.text = text
    return child


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


def _text(parent: etree._Element, name: str) -> str:
    child: etree._Element | None = parent.find(name)
    if child is None:
        raise ProtocolError(f"{name} missing in {etree.QName(parent).localname}")
    return child.text or ""


def _optional_text(parent: etree._Element, name: str) -> str | None:
    child: etree._Element | None = parent.find(name)
    return None if child is None else (child.text or "")


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
    """A schema-valid `L302Response` as a value; ProtocolError (a ValueError) when a date is
    impossible or a line ends before it begins."""
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


# --- conversion to the v2 career (R-63) ---------------------------------------------------


class UnmappedCode(ProtocolError):
    """A category letter or assimilation code that the L302 mapping does not know."""


def _coded(table: Mapping[str, LocalizedTexts], code: str) -> CodedValue:
    texts = table[code]  # present: checked when the conversion is built
    return CodedValue(
        code=code,
        descriptions=tuple(
            Description(language=language, text=getattr(texts, language.value))
            for language in Language  # FR, NL, DE
        ),
    )


def _continues(previous: CareerLine, line: CareerLine) -> bool:
    """Whether `line` extends the uninterrupted affiliation that `previous` ends."""
    if line.sif_code != previous.sif_code:
        return False
    return previous.end is None or line.begin <= previous.end + timedelta(days=1)


def group_affiliations(lines: Iterable[CareerLine]) -> list[list[CareerLine]]:
    """The lines in date order, grouped into uninterrupted affiliations with one fund."""
    groups: list[list[CareerLine]] = []
    for line in sorted(lines, key=lambda item: item.begin):
        if groups and _continues(groups[-1][-1], line):
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


class L302Conversion:
    """L302 attestation → v2 `Career` (R-63), with the mapping, code tables and fund table.

    Built once at start-up: a mapped code without descriptions in the code tables raises
    `L302MappingError` then, rather than answering codes without descriptions later.
    """

    def __init__(
        self, mapping: L302Mapping, code_tables: CodeTables, funds: Sequence[FundEntry]
    ) -> None:
        _check_descriptions(mapping, code_tables)
        self._mapping = mapping
        self._tables = code_tables
        self._fund_numbers = {fund.code: fund.enterpriseNumber for fund in funds}

    def career(self, attestation: Attestation) -> Career:
        """The whole career, or UnmappedCode: never a half-converted one (R-66)."""
        return Career(
            nisse_reference=attestation.attestation_id,
            enterprise_number=attestation.enterprise_number,
            affiliations=tuple(
                self._affiliation(group) for group in group_affiliations(attestation.lines)
            ),
        )

    def _affiliation(self, lines: list[CareerLine]) -> Affiliation:
        code = lines[0].sif_code
        return Affiliation(
            fund=Fund(code=code, enterprise_number=self._fund_numbers.get(code)),
            segments=tuple(self._segment(line) for line in lines),
        )

    def _segment(self, line: CareerLine) -> CareerSegment:
        category = self._mapping.categories.get(line.category)
        if category is None:
            raise UnmappedCode(
                f"contribution category {line.category!r} is not in the L302 mapping"
            )
        return CareerSegment(
            period=DatePeriod(begin=line.begin, end=line.end),
            quality=_coded(self._tables.selfEmployedQuality, category.quality),
            contribution=_coded(self._tables.contribution, category.contribution),
            equality=None if line.assimilation is None else self._equality(line.assimilation),
        )

    def _equality(self, assimilation: str) -> CodedValue:
        equality = self._mapping.assimilations.get(assimilation)
        if equality is None:
            raise UnmappedCode(f"assimilation code {assimilation!r} is not in the L302 mapping")
        return _coded(self._tables.equality, equality)


def _check_descriptions(mapping: L302Mapping, code_tables: CodeTables) -> None:
    categories = mapping.categories.values()
    wanted = (
        ("quality", code_tables.selfEmployedQuality, {entry.quality for entry in categories}),
        ("contribution", code_tables.contribution, {entry.contribution for entry in categories}),
        ("equality", code_tables.equality, set(mapping.assimilations.values())),
    )
    missing = [
        f"{name} {code}"
        for name, table, needed in wanted
        for code in sorted(needed)
        if code not in table
    ]
    if missing:
        raise L302MappingError(
            "L302 mapping: codes without descriptions in the gateway's code tables "
            f"(R-63): {', '.join(missing)}"
        )


# --- the adapter --------------------------------------------------------------------------


class L302Supplier:
    """The `Supplier` of the transitional phase: INASTI's L302 over HTTP (R-60, R-63).

    HTTP goes through `SupplierHttp` (`settings.l302_url`): one pooled client, every call
    cancelled when the time budget is spent (R-65), answers over the size cap refused.
    Failures raise `SupplierError` with the R-22 `details`; only a complete, schema-valid,
    fully mapped answer becomes a record (R-66).

    `observer`, when given, is called after every call with ("consultCareer", outcome,
    seconds), outcome being the `SupplierOutcome` value or the `SupplierError` details.
    """

    operations = frozenset({Operation.CONSULT_CAREER})

    def __init__(
        self,
        settings: SupplierSettings,
        mapping: L302Mapping,
        codes: CodeTables,
        funds: Sequence[FundEntry],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._conversion = L302Conversion(mapping, codes, funds)
        self._observer = observer
        SCHEMA.schema()  # a broken package (XSD missing) fails at start-up, not on the first call
        self._http = SupplierHttp(settings.l302_url, settings, transport=transport)

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        """L302 at INASTI: the career lines overlapping `period` (R-55), converted (R-63)."""
        started = time.monotonic()
        try:
            answer = await self._http.post(SOAP_ACTION, envelope(l302_request(ssin, period)))
            result = self._interpret(answer)
        except SupplierError as error:
            logger.warning(
                "INASTI L302 for %s failed: %s (%s)", ssin_tag(ssin), error.details, error.cause
            )
            notify(self._observer, Operation.CONSULT_CAREER, error.details, started)
            raise
        notify(self._observer, Operation.CONSULT_CAREER, result.outcome.value, started)
        return result

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        """Not in the transitional phase: L302 has no contributions (R-60, MSG00025)."""
        raise OperationNotAvailable(Operation.CONSULT_CONTRIBUTIONS.value)

    def is_reachable(self) -> bool:
        return self._http.is_reachable()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- one answer ------------------------------------------------------------------------

    def _interpret(self, answer: HttpAnswer) -> CareerAnswer:
        """An HTTP answer as a record, or SupplierError (R-22, R-66)."""
        payload = _payload(answer)
        if payload.tag != RESPONSE:
            raise SupplierError(
                codes.SUPPLIER_UNEXPECTED_RESPONSE,
                f"body element {str(payload.tag)[:80]}, expected {RESPONSE}",
            )
        error = schema_error(payload)
        if error is not None:
            raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, f"schema: {error}"[:_MAX_CAUSE])
        try:
            return self._outcome(read_l302_response(payload))
        except ValueError as exc:  # ProtocolError, UnmappedCode, or a record refusing a value
            raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, str(exc)[:_MAX_CAUSE]) from exc

    def _outcome(self, answer: L302Answer) -> CareerAnswer:
        if answer is None:
            raise SupplierError(
                codes.SUPPLIER_NO_L302_ELEMENT, "L302Response holds neither L302 nor Refusal"
            )
        if isinstance(answer, Refusal):
            return CareerAnswer(outcome=_refusal_outcome(answer))
        if not answer.lines:
            return CareerAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERIOD)
        return CareerAnswer(outcome=SupplierOutcome.FOUND, career=self._conversion.career(answer))


def _refusal_outcome(refusal: Refusal) -> SupplierOutcome:
    outcome = REFUSAL_OUTCOMES.get(refusal.return_code)
    if outcome is None:
        cause = f"L302 refusal {refusal.return_code!r}: {refusal.description or ''}"
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, cause[:_MAX_CAUSE])
    return outcome


def _payload(answer: HttpAnswer) -> etree._Element:
    """The Body element of an HTTP 200 answer; SupplierError for a SOAP Fault (HTTP 200 or
    500), another status, or a body that is not a SOAP envelope."""
    try:
        payload = body_payload(parse_document(answer.body))
    except ProtocolError as exc:
        if answer.status == 200:
            raise SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, str(exc)[:_MAX_CAUSE]) from exc
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"HTTP {answer.status}") from exc
    if answer.status in (200, 500) and is_fault(payload):
        raise SupplierError(
            codes.SUPPLIER_L302_SOAP_FAULT,
            f"HTTP {answer.status}, SOAP Fault {describe_fault(payload)}"[:_MAX_CAUSE],
        )
    if answer.status != 200:
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"HTTP {answer.status}")
    return payload
