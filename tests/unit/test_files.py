"""Files written whole or not at all (files.write_file)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from selfemployed_gateway.files import write_file


def test_a_file_is_written_with_its_mode_and_replaces_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "ca.crl.pem"
    path.write_bytes(b"old")
    write_file(path, b"new", 0o640)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crl.pem"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "bindings.toml"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_file(path, "not bytes", 0o644)  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bindings.toml"]
