"""spyne_compat.py: spyne 2.14's vendored six found on Python 3.12+, nothing else touched."""

from __future__ import annotations

import sys

from selfemployed_gateway import spyne_compat


def test_spyne_and_its_six_moves_import() -> None:
    """What failed on 3.12 and 3.13 (arskom/spyne#700; cgi on 3.13): passes on every version."""
    import spyne.protocol.soap.soap11  # noqa: F401  (imports cgi)
    from spyne.util.six.moves import urllib  # noqa: F401

    assert "spyne.util.six.moves" in sys.modules


def test_the_finder_answers_only_for_what_six_knows() -> None:
    finder = spyne_compat.SixMovesFinder()
    import spyne.util.six  # noqa: F401  (registers six's own importer)

    assert finder.find_spec("spyne.util.six.moves", None) is not None
    assert finder.find_spec("spyne.util.six.nonexistent", None) is None
    assert finder.find_spec("json", None) is None


def test_installed_only_from_python_3_12() -> None:
    installed = any(isinstance(f, spyne_compat.SixMovesFinder) for f in sys.meta_path)
    assert installed == (sys.version_info >= (3, 12))
    spyne_compat.install()  # twice: still one
    assert sum(isinstance(f, spyne_compat.SixMovesFinder) for f in sys.meta_path) == installed
