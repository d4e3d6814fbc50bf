"""The L302 conversion table and its loader (suppliers/l302/mapping.py, R-63)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.suppliers.l302.mapping import (
    L302Mapping,
    L302MappingError,
    load_l302_mapping,
)
from tests.support.l302 import (
    MAPPING,
    write,
)

# --- the mapping loader -------------------------------------------------------------------


GOOD_MAPPING = """
[categories.A]
quality = "100"
contribution = "101"
[assimilations]
"30" = "130"
"""


def test_shipped_mapping_loads() -> None:
    assert set(MAPPING.categories) >= {"A", "D", "L", "Q"}
    assert {entry.quality for entry in MAPPING.categories.values()} <= {"100", "300", "400"}


def test_reverse_lookups() -> None:
    assert MAPPING.letter_for("101") == "A"
    assert MAPPING.letter_for("112") == "L"
    assert MAPPING.letter_for("999") is None
    assert MAPPING.assimilation_for("130") == "30"
    assert MAPPING.assimilation_for("999") is None
    shared = L302Mapping.model_validate(
        {
            "categories": {
                "Q": {"quality": "300", "contribution": "117"},
                "J": {"quality": "100", "contribution": "117"},
            }
        }
    )
    assert shared.letter_for("117") == "J"  # the first in alphabetical order


def test_integers_are_read_as_codes(tmp_path: Path) -> None:
    mapping = load_l302_mapping(
        write(tmp_path, "[categories.A]\nquality = 100\ncontribution = 101\n")
    )
    assert mapping.categories["A"].quality == "100" and mapping.assimilations == {}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            GOOD_MAPPING.replace('quality = "100"', 'quality = "200"'),
            ["categories.A.quality", "100, 300 or 400", "'200'"],
        ),
        (
            GOOD_MAPPING.replace("[categories.A]", "[categories.a]"),
            ["categories.a (key)"],
        ),
        (
            GOOD_MAPPING.replace("[categories.A]", "[categories.AB]"),
            ["categories.AB (key)"],
        ),
        (
            GOOD_MAPPING.replace('contribution = "101"', 'contribution = "99"'),
            ["categories.A.contribution"],
        ),
        (GOOD_MAPPING.replace('"30" = "130"', '"3" = "130"'), ["assimilations.3 (key)"]),
        (GOOD_MAPPING.replace('"30" = "130"', '"30" = "1300"'), ["assimilations.30"]),
        (GOOD_MAPPING + "\n[extra]\nx = 1\n", ["extra", "Extra inputs"]),
        (
            GOOD_MAPPING.replace('contribution = "101"', 'contribution = "101"\nnote = "x"'),
            ["categories.A.note"],
        ),
        ("[assimilations]\n", ["categories", "Field required"]),
        ("[categories]\n", ["categories", "at least 1"]),
        ("[categories.A\n", ["not valid TOML"]),
    ],
    ids=[
        "quality-200",
        "lowercase-letter",
        "two-letters",
        "contribution-pattern",
        "assimilation-key",
        "equality-pattern",
        "unknown-section",
        "unknown-field",
        "no-categories",
        "empty-categories",
        "not-toml",
    ],
)
def test_mapping_errors_name_the_file_and_the_field(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(L302MappingError) as caught:
        load_l302_mapping(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message
    assert isinstance(caught.value, ConfigurationError)


def test_missing_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(L302MappingError, match="cannot read"):
        load_l302_mapping(path)
