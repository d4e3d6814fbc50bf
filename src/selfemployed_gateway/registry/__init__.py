"""BCSS's registers as seen by the pipeline: the person register and the person repertory.

Interfaces only (Protocols); `registry.sqlite` is the embedded default, loaded from the
dataset at start-up; `registry.postgresql` reads databases that other systems update all day.
The reads are coroutines, awaited on the gateway's event loop: a register on the network
must never block the loop while it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from selfemployed_gateway.errors import GatewayError
from selfemployed_gateway.records import DatePeriod


class PersonState(StrEnum):
    """What the register says of a NISS (R-17 … R-19)."""

    ACTIVE = "active"
    CANCELED = "canceled"
    REPLACED = "replaced"


@dataclass(frozen=True)
class RegisteredPerson:
    ssin: str
    state: PersonState
    replaced_by: str | None = None


class RegistryError(GatewayError):
    """A register could not be read (database down, query cut at its time limit)."""


class PersonRegister(Protocol):
    async def find(self, ssin: str) -> RegisteredPerson | None:
        """The register's entry for `ssin`, or None when the register does not know it."""
        ...


@dataclass(frozen=True)
class IntegrationPeriod:
    """One period during which a holder knew a person under a quality code."""

    quality_code: int
    period: DatePeriod

    def widened(self, days_before: int, days_after: int) -> DatePeriod:
        """R-45: the period extended by the client's configured days (open end stays open)."""
        begin = date.fromordinal(max(1, self.period.begin.toordinal() - days_before))
        end = self.period.end
        if end is not None:
            end = date.fromordinal(min(date.max.toordinal(), end.toordinal() + days_after))
        return DatePeriod(begin=begin, end=end)


class PersonRepertory(Protocol):
    """Who knows whom (R-20, R-21, R-40 … R-46)."""

    async def client_integrations(self, ssin: str, client_id: str) -> list[IntegrationPeriod]:
        """Integration periods of `ssin` for one client (any quality code)."""
        ...

    async def supplier_integrations(self, ssin: str) -> list[IntegrationPeriod]:
        """Integration periods of `ssin` at INASTI (sector 15, institution 0)."""
        ...
