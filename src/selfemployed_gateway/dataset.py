"""The reference dataset: the annex per client, code tables, registers and INASTI's data.

One pydantic model of `config/reference-dataset.json` (see the fixtures README). The gateway
reads its clients, code tables, register and integrations from it; the INASTI simulator serves
its careers and contributions.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.records import Operation, Organisation

_FUND_CODE = r"^[0-9]{3}$"
_SSIN = r"^[0-9]{11}$"
_CBE = r"^[0-9]{10}$"


class DatasetModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FundEntry(DatasetModel):
    code: str = Field(pattern=_FUND_CODE)
    enterpriseNumber: str | None = Field(default=None, pattern=_CBE)
    name: str


class LocalizedTexts(DatasetModel):
    FR: str
    NL: str
    DE: str


class CodeTables(DatasetModel):
    """Descriptions per code and language (R-82, R-83)."""

    selfEmployedQuality: dict[str, LocalizedTexts]
    contribution: dict[str, LocalizedTexts]
    equality: dict[str, LocalizedTexts]
    occupation: dict[str, LocalizedTexts]
    contributionSituation: dict[str, LocalizedTexts]
    ziv: dict[str, LocalizedTexts]


class Identification(DatasetModel):
    """How a client names itself in `informationCustomer/customerIdentification` (R-13)."""

    cbeNumber: str | None = Field(default=None, pattern=_CBE)
    sector: int | None = Field(default=None, ge=0, le=999)
    institution: int | None = Field(default=None, ge=0, le=999)

    @model_validator(mode="after")
    def _cbe_or_sector(self) -> Identification:
        by_cbe = self.cbeNumber is not None
        by_sector = self.sector is not None and self.institution is not None
        if by_cbe == by_sector or (not by_sector and (self.sector or self.institution)):
            raise ValueError("give either cbeNumber, or sector and institution")
        return self


class PeriodCheck(StrEnum):
    """How the consulted period is checked against integration periods (R-42 … R-44)."""

    IGNORE = "Ignore"
    CURRENT_DATE = "CurrentDate"
    FULLY_INCLUDED = "FullyIncluded"


class IntegrationRule(DatasetModel):
    """Integration required or not for a client (R-40 … R-45)."""

    required: bool
    quality_code: int | None = None
    period_check: PeriodCheck | None = None
    extension_days_before: int = Field(default=0, ge=0)
    extension_days_after: int = Field(default=0, ge=0)


class ClientEntry(DatasetModel):
    """One client of the annex (R-11 … R-14, R-40 … R-46, R-50)."""

    id: str = Field(min_length=1)
    kind: str
    identification: Identification
    # The certificate subject (RFC 4514) this client presents; None: common name = id.
    certificate_subject: str | None = None
    service_allowed: bool
    operations: list[str]
    legal_contexts: list[str]
    integration: IntegrationRule
    filters: list[str]

    def allows(self, operation: Operation) -> bool:
        return operation.value in self.operations

    @property
    def organisation(self) -> Organisation:
        """The institution this client is, as a request names it (R-13)."""
        return Organisation(
            cbe_number=self.identification.cbeNumber,
            sector=self.identification.sector,
            institution=self.identification.institution,
        )


class ExtraCertificate(DatasetModel):
    id: str
    note: str


class RegisterEntry(DatasetModel):
    """The BCSS person register (R-17 … R-19)."""

    ssin: str = Field(pattern=_SSIN)
    status: Literal["active", "canceled", "replaced"]
    replaced_by: str | None = Field(default=None, pattern=_SSIN)


class IntegrationEntry(DatasetModel):
    ssin: str = Field(pattern=_SSIN)
    client: str
    quality_code: int
    begin: date
    end: date | None


class SupplierIntegrationEntry(DatasetModel):
    ssin: str = Field(pattern=_SSIN)
    quality_code: int
    begin: date
    end: date | None


class SegmentEntry(DatasetModel):
    begin: date
    end: date | None
    quality: str
    contribution: str
    equality: str | None = None


class AffiliationEntry(DatasetModel):
    fund: str = Field(pattern=_FUND_CODE)
    signatureDate: date | None
    segments: list[SegmentEntry]


class CareerEntry(DatasetModel):
    ssin: str = Field(pattern=_SSIN)
    nisseReference: str = Field(max_length=15)
    selfEmployedEnterpriseNumber: str | None
    occupation: str | None
    affiliations: list[AffiliationEntry]


class ContributionEntry(DatasetModel):
    ssin: str = Field(pattern=_SSIN)
    quarter: str = Field(pattern=r"^[12][0-9]{3}Q[1-4]$")
    fund: str = Field(pattern=_FUND_CODE)
    situation: str
    ziv: str | None


class SimulatorBehaviour(DatasetModel):
    ssin: str = Field(pattern=_SSIN)
    operation: str
    behaviour: Literal["fund_timeout", "under_investigation", "soap_fault", "garbage", "slow"]
    delay_seconds: float | None = None
    note: str | None = None

    def applies_to(self, operation: Operation) -> bool:
        return self.operation in ("*", operation.value)


class FundAvailability(DatasetModel):
    fund: str = Field(pattern=_FUND_CODE)
    operation: str
    unavailable_from: str = Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    unavailable_until: str = Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    timezone: str
    behaviour: Literal["fund_timeout"]
    note: str | None = None


class Dataset(DatasetModel):
    """The whole reference dataset."""

    about: str
    version: int
    funds: list[FundEntry]
    codes: CodeTables
    clients: list[ClientEntry]
    extra_certificates: list[ExtraCertificate]
    # `register` would shadow BaseModel.register (abc), hence the alias.
    person_register: list[RegisterEntry] = Field(alias="register")
    integrations: list[IntegrationEntry]
    supplier_integrations: list[SupplierIntegrationEntry]
    careers: list[CareerEntry]
    contributions: list[ContributionEntry]
    simulator_behaviours: list[SimulatorBehaviour]
    fund_availability: list[FundAvailability]
    not_in_register: list[str]

    def client(self, client_id: str) -> ClientEntry | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def fund(self, code: str) -> FundEntry | None:
        return next((f for f in self.funds if f.code == code), None)


class DatasetError(ConfigurationError):
    """The dataset file cannot be used; the message names the file and the field."""


def load_dataset(path: Path) -> Dataset:
    """Read and validate a dataset file, with errors a human can act on."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the dataset file ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        return Dataset.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise DatasetError(f"{path}: invalid dataset: {problems}") from exc
