"""spyne 2.14 on Python 3.12 and 3.13, without patching spyne.

spyne 2.14.0 (its latest release) vendors six 1.14 as `spyne.util.six`, whose meta-path
importer for `spyne.util.six.moves…` has only the `find_module` protocol; Python 3.12 stopped
calling it (PEP 451's `find_spec` only), so `from spyne.util.six.moves import …` fails. The
fix is upstream, unreleased: arskom/spyne#701 (merged December 2023) updates the vendored six,
whose importer gained `find_spec`. Until a release carries it, `SixMovesFinder` answers
`find_spec` for exactly the names that six's own importer already knows, and lets that
importer load them; anything else is not ours (None). On 3.11 nothing is installed.

On 3.13 spyne also imports `cgi`, removed from the standard library (PEP 594): the
`legacy-cgi` distribution (a dependency for Python >= 3.13, pyproject.toml) restores it.

Remove this module when spyne > 2.14.0 is released with the upstream six, and pin it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

SIX = "spyne.util.six"


class SixMovesFinder(importlib.abc.MetaPathFinder):
    """Finds `spyne.util.six.moves…` for Python 3.12+, by asking six's own importer."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(SIX + "."):
            return None
        importer = _six_importer()
        if importer is None or fullname not in importer.known_modules:
            return None
        return importlib.util.spec_from_loader(fullname, _SixLoader(importer))


class _SixLoader(importlib.abc.Loader):
    """Loads with six's importer (`load_module`), as Python < 3.12 did."""

    def __init__(self, importer: Any) -> None:
        self.importer = importer

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module: ModuleType = self.importer.load_module(spec.name)
        return module

    def exec_module(self, module: ModuleType) -> None:
        pass  # six's modules are complete once created


def _six_importer() -> Any:
    for finder in sys.meta_path:
        if getattr(finder, "name", None) == SIX and hasattr(finder, "known_modules"):
            return finder
    return None


def install() -> None:
    """Put the finder on `sys.meta_path` on Python 3.12+ (once); nothing on 3.11."""
    if sys.version_info < (3, 12):
        return
    if not any(isinstance(finder, SixMovesFinder) for finder in sys.meta_path):
        sys.meta_path.append(SixMovesFinder())
