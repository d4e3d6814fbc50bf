"""The L302 → SelfEmployedService v2 conversion table (R-63), read from a TOML file.

An L302 career line carries a contribution category letter and possibly an assimilation
code; v2 wants a self-employed quality code, a contribution code and an equality code. The
table that links them is configuration data (`config/l302-mapping.toml`, R-83): operators
replace it with INASTI's official table without a code change. Its shape::

    [categories.A]            # contribution category letter A-Z
    quality = "100"           # only 100, 300 or 400 can be derived from L302 (R-63)
    contribution = "101"      # v2 contribution code, 100-999

    [assimilations]           # L302 assimilation code -> v2 equality code (100-999)
    "30" = "130"

The file is validated when it is loaded: a quality other than 100, 300 or 400 (200 "aidant"
cannot be derived from L302), a malformed letter or code, or an unknown key stops start-up
with `L302MappingError`, whose message names the file and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from selfemployed_gateway.errors import ConfigurationError

# the qualities that can be derived from an L302 career line.
DERIVABLE_QUALITIES = ("100", "300", "400")
_V2_CODE = r"^[1-9][0-9]{2}$"  # v2 codes are 100-999

CategoryLetter = Annotated[str, StringConstraints(pattern=r"^[A-Z]$")]
AssimilationCode = Annotated[str, StringConstraints(pattern=r"^[0-9][0-9A-Z]$")]
V2Code = Annotated[str, StringConstraints(pattern=_V2_CODE)]


class _MappingModel(BaseModel):
    # `quality = 100` (a TOML integer) is read as "100": operators need not quote codes.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class CategoryMapping(_MappingModel):
    """What one contribution category letter becomes in v2 (R-63)."""

    quality: str
    contribution: V2Code

    @field_validator("quality")
    @classmethod
    def _derivable(cls, value: str) -> str:
        if value not in DERIVABLE_QUALITIES:
            raise ValueError(
                f"quality must be 100, 300 or 400, not {value!r} "
                "(R-63: other qualities, such as 200 'aidant', cannot be derived from L302)"
            )
        return value


class L302Mapping(_MappingModel):
    """The whole conversion table: letters → (quality, contribution), assimilation → equality."""

    categories: dict[CategoryLetter, CategoryMapping] = Field(min_length=1)
    assimilations: dict[AssimilationCode, V2Code] = Field(default_factory=dict)

    def letter_for(self, contribution: str) -> str | None:
        """The category letter whose contribution code is `contribution` (the first in
        alphabetical order when several share it), or None. The simulator's reverse look-up."""
        return _first_key(
            {letter: entry.contribution for letter, entry in self.categories.items()},
            contribution,
        )

    def assimilation_for(self, equality: str) -> str | None:
        """The assimilation code whose equality code is `equality` (the first in sorted order
        when several share it), or None. The simulator's reverse look-up."""
        return _first_key(self.assimilations, equality)


def _first_key(table: Mapping[str, str], value: str) -> str | None:
    return next((key for key in sorted(table) if table[key] == value), None)


class L302MappingError(ConfigurationError):
    """The L302 mapping file cannot be used; the message names the file and the field."""


def load_l302_mapping(path: Path) -> L302Mapping:
    """Read and validate an L302 mapping file, with errors a human can act on."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise L302MappingError(
            f"{path}: cannot read the L302 mapping file ({exc.strerror or exc})"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise L302MappingError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return L302Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_field(error['loc'])}: {error['msg']}" for error in exc.errors())
        raise L302MappingError(f"{path}: invalid L302 mapping: {problems}") from exc


def _field(location: Sequence[int | str]) -> str:
    """`categories.B.quality`; a key that is itself wrong reads `categories.b (key)`."""
    parts = [str(part) for part in location]
    if parts and parts[-1] == "[key]":
        return ".".join(parts[:-1]) + " (key)"
    return ".".join(parts) or "(file)"
