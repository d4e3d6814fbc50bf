"""Unit-test helpers: the dataset, clients and a scripted supplier, no server."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from selfemployed_gateway.dataset import Dataset, load_dataset
from selfemployed_gateway.records import (
    CareerAnswer,
    ClientCertificate,
    ContributionsAnswer,
    DatePeriod,
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.registry.sqlite import SqliteRegisters
from selfemployed_gateway.suppliers.l302.adapter import L302Supplier
from tests.support.aio import run
from tests.support.l302 import MAPPING, SupplierFactory, settings
from tests.support.mock_supplier import Handler
from tests.support.paths import PROJECT
from tests.support.simulator import simulator_on_free_port


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return load_dataset(PROJECT / "config" / "reference-dataset.json")


@functools.cache
def _registers(path: Path) -> SqliteRegisters:
    return SqliteRegisters.from_dataset(load_dataset(path))


def registers(dataset: Dataset) -> SqliteRegisters:
    """The embedded registers of the reference dataset (built once)."""
    del dataset
    return _registers(PROJECT / "config" / "reference-dataset.json")


def certificate(common_name: str | None) -> ClientCertificate:
    return ClientCertificate(
        subject=f"CN={common_name}" if common_name else "O=nobody",
        common_name=common_name,
        serial="01",
        sha256="00" * 32,
    )


def _no_career(ssin: str, period: DatePeriod) -> CareerAnswer:
    return CareerAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERSON)


def _no_contributions(ssin: str, begin: str, end: str | None) -> ContributionsAnswer:
    return ContributionsAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERSON)


@dataclass
class ScriptedSupplier:
    """A supplier whose answers the test decides; records the calls it gets."""

    career: Callable[[str, DatePeriod], CareerAnswer] = _no_career
    contributions: Callable[[str, str, str | None], ContributionsAnswer] = _no_contributions
    calls: list[tuple[str, ...]] = field(default_factory=list)
    operations: frozenset[Operation] = frozenset(Operation)

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        self.calls.append(("consultCareer", ssin, str(period.begin), str(period.end)))
        return self.career(ssin, period)

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        self.calls.append(("consultContributions", ssin, begin_quarter, str(end_quarter)))
        return self.contributions(ssin, begin_quarter, end_quarter)

    def is_reachable(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


# --- L302 (transitional phase) ------------------------------------------------------------


@pytest.fixture(scope="module")
def calm(dataset: Dataset) -> Dataset:
    """The dataset without misbehaviours."""
    return dataset.model_copy(update={"simulator_behaviours": []})


@pytest.fixture()
def supplier_with(dataset: Dataset) -> Iterator[SupplierFactory]:
    """Builds adapters on a MockTransport; closes them after the test."""
    made: list[L302Supplier] = []

    def make(handler: Handler, timeout: float = 2.0) -> L302Supplier:
        supplier = L302Supplier(
            settings(timeout=timeout),
            MAPPING,
            dataset.codes,
            dataset.funds,
            transport=httpx.MockTransport(handler),
        )
        made.append(supplier)
        return supplier

    yield make
    for supplier in made:
        run(supplier.aclose())


# --- the real simulator -------------------------------------------------------------------

# The simulator's clock for the adapters' tests against it.
SIMULATOR_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))


@pytest.fixture()
def simulator_port(tmp_path: Path) -> Iterator[int]:
    """The Twisted simulator in a subprocess, on a free port of 127.0.0.1."""
    with simulator_on_free_port(tmp_path, SIMULATOR_NOON) as port:
        yield port
