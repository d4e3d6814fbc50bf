"""Suppliers: where the gateway gets career and contribution data (R-22, R-60 … R-66).

A supplier is awaited: the pipeline runs on the gateway's event loop, and a call that waits
for INASTI holds no thread, for at most the configured time budget (R-65). Adapters never
trust what they receive (R-66): anything they cannot read completely raises `SupplierError`,
never a partial answer.

Layout, per protocol: `<protocol>/protocol.py` is the wire format both sides speak (build and
read each message; the built-in simulator imports it), `<protocol>/adapter.py` the `Supplier`
the pipeline calls. Shared: `soap11.py` (the envelope), `elements.py` (message elements),
`http.py` (the transport with its time budget).
"""

from __future__ import annotations

from typing import Protocol

from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    DatePeriod,
    Operation,
)

__all__ = ["Supplier", "SupplierError"]


class Supplier(Protocol):
    """INASTI, as seen by the pipeline."""

    #: The operations this supplier can answer. The pipeline checks it before anything is
    #: asked (R-60: no consultContributions through L302, MSG00025): the one R-60 mechanism.
    operations: frozenset[Operation]

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        """Career segments overlapping `period` (open end: up to the future, R-33)."""
        ...

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        """Contribution payments of the quarters from `begin_quarter` to `end_quarter`.
        Called only when `operations` holds consultContributions."""
        ...

    def is_reachable(self) -> bool:
        """For readiness: can a connection to the supplier be opened now?"""
        ...

    async def aclose(self) -> None:
        """Close pooled connections (on the loop that opened them)."""
        ...
