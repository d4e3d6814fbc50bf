"""Internal records of a consultation: what the pipeline reads and writes.

They know nothing of SOAP or XML; the SOAP edge (`soap/`) converts to and from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import total_ordering
from typing import Literal

from pydantic import BaseModel, ConfigDict

from selfemployed_gateway.codes import FaultCode, StatusCode
from selfemployed_gateway.decisions import DecisionTrail


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Operation(StrEnum):
    """The two operations of the service (R-03)."""

    CONSULT_CAREER = "consultCareer"
    CONSULT_CONTRIBUTIONS = "consultContributions"


class Language(StrEnum):
    FR = "FR"
    NL = "NL"
    DE = "DE"


_QUARTER = re.compile(r"^([12]\d{3})Q([1-4])$")


@total_ordering
class Quarter:
    """A calendar quarter, written `YYYYQn` on the wire (common:YearQuarterType)."""

    __slots__ = ("quarter", "year")

    def __init__(self, year: int, quarter: int) -> None:
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter must be 1..4, not {quarter}")
        self.year = year
        self.quarter = quarter

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text.strip())
        if match is None:
            raise ValueError(f"not a quarter (YYYYQn): {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def last_day(self) -> date:
        following = Quarter(self.year + self.quarter // 4, self.quarter % 4 + 1)
        return date.fromordinal(following.first_day.toordinal() - 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    def __repr__(self) -> str:
        return f"Quarter({self.year}, {self.quarter})"

    def _key(self) -> tuple[int, int]:
        return (self.year, self.quarter)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quarter) and self._key() == other._key()

    def __lt__(self, other: Quarter) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class DatePeriod(Record):
    """A period of days, both ends included; `end` None means open."""

    begin: date
    end: date | None = None

    def overlaps(self, other: DatePeriod) -> bool:
        """At least one day in common (R-21, R-55)."""
        if self.end is not None and self.end < other.begin:
            return False
        return other.end is None or self.begin <= other.end


# --- request -----------------------------------------------------------------------------


class Organisation(Record):
    """An institution as `customerIdentification` names it: a CBE number, or a sector and an
    institution number (common:OrganizationIdentificationType)."""

    cbe_number: str | None = None
    sector: int | None = None
    institution: int | None = None


class _Consultation(Record):
    """What every request carries (R-10 passed): who asks, under which legal context, whom."""

    customer: Organisation
    customer_ticket: str | None = None
    legal_context: str
    ssin: str


class CareerRequest(_Consultation):
    """consultCareer: a period of days, or none for the whole career (R-33)."""

    operation: Literal[Operation.CONSULT_CAREER] = Operation.CONSULT_CAREER
    period: DatePeriod | None = None


class ContributionsRequest(_Consultation):
    """consultContributions: quarters `YYYYQn`, the end optional (R-34 … R-36)."""

    operation: Literal[Operation.CONSULT_CONTRIBUTIONS] = Operation.CONSULT_CONTRIBUTIONS
    begin_quarter: str
    end_quarter: str | None = None


# What the pipeline needs of a schema-valid request: one of the two, told apart by type.
ConsultRequest = CareerRequest | ContributionsRequest


class ClientCertificate(Record):
    """The verified TLS client certificate of the caller (R-11)."""

    subject: str
    common_name: str | None
    serial: str
    sha256: str
    issuer: str | None = None  # RFC 4514, as the subject
    # Why this certificate may identify no client at all: a CA certificate, no
    # clientAuth extended key usage, no digitalSignature key usage. None: fit.
    unfit_because: str | None = None


# --- supplier data -----------------------------------------------------------------------


class Description(Record):
    language: Language
    text: str


class CodedValue(Record):
    """A code with one description per language (R-82)."""

    code: str
    descriptions: tuple[Description, ...] = ()


class Fund(Record):
    """A social insurance fund (CAS)."""

    code: str
    enterprise_number: str | None = None


class CareerSegment(Record):
    period: DatePeriod
    quality: CodedValue
    contribution: CodedValue
    equality: CodedValue | None = None


class Affiliation(Record):
    fund: Fund
    signature_date: date | None = None
    segments: tuple[CareerSegment, ...]


class Career(Record):
    nisse_reference: str
    enterprise_number: str | None = None
    occupation: CodedValue | None = None
    affiliations: tuple[Affiliation, ...]


class ContributionPayment(Record):
    quarter: str
    fund: Fund
    situation: CodedValue
    ziv: CodedValue | None = None


class SupplierOutcome(StrEnum):
    """What INASTI said, before the gateway interprets it (R-22, R-23)."""

    FOUND = "FOUND"
    NO_DATA_FOR_PERSON = "NO_DATA_FOR_PERSON"
    NO_DATA_FOR_PERIOD = "NO_DATA_FOR_PERIOD"
    FUND_TIMEOUT = "SES00005"
    UNDER_INVESTIGATION = "SES00006"


class CareerAnswer(Record):
    outcome: SupplierOutcome
    career: Career | None = None


class ContributionsAnswer(Record):
    outcome: SupplierOutcome
    payments: tuple[ContributionPayment, ...] = ()


# --- reply -------------------------------------------------------------------------------


class Information(Record):
    """A fieldName/fieldValue pair of a status or a fault detail (fieldValue is optional)."""

    field_name: str
    field_value: str | None


class SsinStatus(Record):
    """The `ssin` element of a response (R-52)."""

    ssin: str
    canceled: bool = False
    replaces: str | None = None


class Reply(Record):
    """A normal response: its status and what goes with it (R-25, R-50 … R-54)."""

    status: StatusCode
    information: tuple[Information, ...] = ()
    ssin: SsinStatus | None = None
    data_filters: tuple[str, ...] | None = None
    career: Career | None = None
    payments: tuple[ContributionPayment, ...] | None = None


class GatewayFault(Exception):
    """A SOAP fault answer of the specification (§8); raised by any stage."""

    def __init__(self, code: FaultCode, *information: Information) -> None:
        super().__init__(f"{code.code} {code.diagnostic}")
        self.code = code
        self.information = information


def information(field_name: str, field_value: str | None) -> Information:
    return Information(field_name=field_name, field_value=field_value)


@dataclass
class ExchangeTrace:
    """What one exchange did, filled in as it goes: for the log line, the metrics and the
    audit trail (R-73). Mutable on purpose: each stage adds what it learns."""

    ticket_cbss: str
    received: datetime
    operation: Operation | None = None
    client_ticket: str | None = None
    client_id: str | None = None
    legal_context: str | None = None
    outcome: str | None = None
    supplier_seconds: float | None = None
    supplier_outcome: str | None = None
    # The NISS the request asks about: only ever stored as a keyed hash (audit/protection.py).
    ssin: str | None = field(default=None, repr=False)
    # Why it ended so (issue #18): stored sealed with the exchange, shown by `audit explain`.
    decisions: DecisionTrail = field(default_factory=DecisionTrail, repr=False)
