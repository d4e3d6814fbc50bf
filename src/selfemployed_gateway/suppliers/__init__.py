"""Suppliers: where the gateway gets career and contribution data (R-22, R-60 … R-66).

A supplier is awaited: the pipeline runs on the gateway's event loop, and a call that waits
for INASTI holds no thread, for at most the configured time budget (R-65). Adapters never
trust what they receive (R-66): anything they cannot read completely raises `SupplierError`,
never a partial answer.
"""

from __future__ import annotations

from typing import Protocol

from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    DatePeriod,
    Operation,
)


class SupplierError(Exception):
    """No usable answer from the supplier: fault MSG00002 with this `details` (R-22)."""

    def __init__(self, details: str, cause: str = "") -> None:
        super().__init__(f"{details}: {cause}" if cause else details)
        self.details = details
        self.cause = cause


class OperationNotAvailable(Exception):
    """The supplier of this phase does not offer the operation: fault MSG00025 (R-60).

    In the transitional phase L302 carries no contributions, so consultContributions is
    "This functionality is not available", information `operation not supported` = the
    operation name (`self.operation`).
    """

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} is not available from this supplier")
        self.operation = operation


class Supplier(Protocol):
    """INASTI, as seen by the pipeline."""

    #: The operations this supplier can answer (R-60: no contributions through L302).
    operations: frozenset[Operation]

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        """Career segments overlapping `period` (open end: up to the future, R-33)."""
        ...

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        """Contribution payments of the quarters from `begin_quarter` to `end_quarter`."""
        ...

    def is_reachable(self) -> bool:
        """For readiness: can a connection to the supplier be opened now?"""
        ...

    async def aclose(self) -> None:
        """Close pooled connections (on the loop that opened them)."""
        ...
