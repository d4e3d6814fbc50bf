"""Development keys of the audit trail, beside the development PKI (never for production).

`ensure_dev_secrets` writes what is missing: ``audit-encryption.key`` (seals the stored
messages) and ``audit-ssin-hash.key`` (the keyed hash of the consulted NISS), each 32 random
bytes in base64, mode 0600. `config/gateway.toml` names them, so that `make run` and the tests
exercise the protection production has (audit/protection.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from selfemployed_gateway.audit.protection import new_key_text

AUDIT_ENCRYPTION_KEY = "audit-encryption.key"
AUDIT_SSIN_HASH_KEY = "audit-ssin-hash.key"


def audit_key_files(folder: Path) -> tuple[Path, Path]:
    """The encryption key and the NISS hash key files in `folder`."""
    return folder / AUDIT_ENCRYPTION_KEY, folder / AUDIT_SSIN_HASH_KEY


def ensure_dev_secrets(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in (AUDIT_ENCRYPTION_KEY, AUDIT_SSIN_HASH_KEY):
        path = folder / name
        if path.is_file():
            continue
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(new_key_text() + "\n")
