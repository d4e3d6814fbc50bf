"""Files written whole or not at all: the development PKI, its CRLs, the client bindings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (temp file + rename), so a file is either complete or absent: a
    running gateway may read it at any moment (SIGHUP)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0o600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
