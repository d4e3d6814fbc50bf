"""The project's copy of the reference dataset, and its data model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from selfemployed_gateway.dataset import DatasetError, PeriodCheck, load_dataset
from tests.support.paths import PROJECT

COPY = PROJECT / "config" / "reference-dataset.json"


#: SHA-256 of the reference dataset (persons, careers, contributions, integrations, clients)
#: that the built-in simulator and the default configuration serve: the copy is unmodified.
REFERENCE_DATASET_SHA256 = "dbff5d3c70df9cecfb6d69b32c28a03a4e158e59004ad08b3d222259de9b42b1"


def test_copy_is_identical_to_the_reference_dataset() -> None:
    """The development configuration serves exactly the reference dataset."""
    assert hashlib.sha256(COPY.read_bytes()).hexdigest() == REFERENCE_DATASET_SHA256


def test_the_dataset_loads_into_its_model() -> None:
    dataset = load_dataset(COPY)
    assert [c.id for c in dataset.clients] == [
        "cpas-namur",
        "famifund-east",
        "riziv-medical",
        "onss-inspection",
        "pension-office",
        "suspended-institution",
    ]
    namur = dataset.client("cpas-namur")
    assert namur is not None
    assert namur.integration.period_check is PeriodCheck.FULLY_INCLUDED
    assert namur.identification.cbeNumber == "0212345668"
    assert dataset.fund("014") is not None and dataset.fund("014").enterpriseNumber is None  # type: ignore[union-attr]
    assert len(dataset.person_register) == 20


def test_an_invalid_dataset_names_the_file_and_the_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        COPY.read_text(encoding="utf-8").replace('"code": "010"', '"code": "10"', 1),
        encoding="utf-8",
    )
    with pytest.raises(DatasetError) as raised:
        load_dataset(broken)
    message = str(raised.value)
    assert str(broken) in message
    assert "funds.3.code" in message


def test_a_dataset_that_is_not_json_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_dataset(broken)
