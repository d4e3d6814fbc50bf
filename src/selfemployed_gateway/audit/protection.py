"""Personal data in the audit trail, protected at rest (R-73, issue #13).

- **Sealed messages.** The stored request and response are encrypted with AES-256-GCM
  (`cryptography`), a fresh 96-bit nonce each, bound to their row and role (the ticketCBSS
  and "request"/"response" are the associated data: a blob moved to another row does not
  open). Each row stores the id of its key; the first configured key seals new rows, every
  configured key opens old ones, so keys rotate by adding the new one first and dropping the
  old one once its rows are past retention.
- **Who was consulted.** Each row stores HMAC-SHA256 of the consulted NISS under a key of its
  own (not the log key): `audit find --ssin` finds a person's exchanges without opening any.

A key is 32 random bytes, written base64 (or hex) in a file (`audit.encryption_keys`,
`audit.ssin_hash_key_file`) or given in a `SEG_` variable. Its id is the start of its own
SHA-256: nothing to name, nothing to get wrong, and it says nothing of the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.errors import AuditError, ConfigurationError
from selfemployed_gateway.settings import AuditSettings

KEY_BYTES = 32
NONCE_BYTES = 12


class MissingAuditKey(AuditError):
    """A row was sealed with a key that is not configured here."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"the messages are sealed with audit key {key_id}, which is not configured "
            "(audit.encryption_keys or SEG_AUDIT_ENCRYPTION_KEY)"
        )
        self.key_id = key_id


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"selfemployed-gateway audit key\x00" + key).hexdigest()[:16]


def parse_key(text: str, where: str) -> bytes:
    """32 bytes from base64 or hex text; `ConfigurationError` naming `where` (never the key)."""
    text = text.strip()
    for decode in (_hex, _base64):
        key = decode(text)
        if key is not None and len(key) == KEY_BYTES:
            return key
    raise ConfigurationError(
        f"{where}: not a key of {KEY_BYTES} bytes written in base64 or hex "
        "(make one with: selfemployed-gateway audit new-key > FILE)"
    )


def read_key(path: Path, where: str) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{where}: {path}: cannot be read: {error}") from error
    return parse_key(text, f"{where}: {path}")


def new_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class SealedFields(TypedDict):
    """The fields of `ExchangeRecord` that `AuditProtection.sealed` writes."""

    key_id: str | None
    request_xml: bytes
    response_xml: bytes
    decisions: bytes | None


@dataclass(frozen=True)
class AuditProtection:
    """The keys of one trail: sealing keys by id (the first seals) and the NISS hash key."""

    sealing: tuple[tuple[str, bytes], ...] = ()
    ssin_key: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never a key in a log line or a traceback
        ids = ", ".join(key_id for key_id, _ in self.sealing)
        return f"AuditProtection(keys=[{ids}], ssin_hash={'on' if self.ssin_key else 'off'})"

    @classmethod
    def from_settings(cls, settings: AuditSettings) -> AuditProtection:
        keys: list[bytes] = []
        if settings.encryption_key is not None:
            keys.append(
                parse_key(settings.encryption_key.get_secret_value(), "audit.encryption_key")
            )
        keys.extend(read_key(path, "audit.encryption_keys") for path in settings.encryption_keys)
        ssin_key = None
        if settings.ssin_hash_key is not None:
            ssin_key = parse_key(settings.ssin_hash_key.get_secret_value(), "audit.ssin_hash_key")
        elif settings.ssin_hash_key_file is not None:
            ssin_key = read_key(settings.ssin_hash_key_file, "audit.ssin_hash_key_file")
        if ssin_key is not None and ssin_key in keys:
            raise ConfigurationError("audit.ssin_hash_key: must differ from the encryption keys")
        return cls(
            sealing=tuple((key_id_of(key), key) for key in dict.fromkeys(keys)), ssin_key=ssin_key
        )

    @property
    def sealing_key_id(self) -> str | None:
        return self.sealing[0][0] if self.sealing else None

    def ssin_hash(self, ssin: str | None) -> str | None:
        """The keyed hash standing for a NISS in the trail; None without a key or a NISS."""
        if ssin is None or self.ssin_key is None:
            return None
        return hmac.new(self.ssin_key, ssin.encode("ascii", "replace"), hashlib.sha256).hexdigest()

    def seal(self, exchange: ExchangeRecord) -> ExchangeRecord:
        """The record as stored: messages sealed with the first key (as is without a key)."""
        if not self.sealing:
            return exchange
        return exchange.model_copy(
            update=self.sealed(
                exchange.ticket_cbss,
                exchange.request_xml,
                exchange.response_xml,
                exchange.decisions,
            )
        )

    def sealed(
        self, ticket_cbss: str, request: bytes, response: bytes, decisions: bytes | None
    ) -> SealedFields:
        """The stored fields of an exchange's messages and trail: sealed with the first key
        and its `key_id`; as they are (and no key) without one. Lets the gateway build the
        stored record once (exchange.py), not copy it once more to seal it (issue #17)."""
        if not self.sealing:
            return {
                "key_id": None,
                "request_xml": request,
                "response_xml": response,
                "decisions": decisions,
            }
        key_id, key = self.sealing[0]
        cipher = AESGCM(key)

        def sealed(message: bytes, role: bytes) -> bytes:
            nonce = os.urandom(NONCE_BYTES)
            return nonce + cipher.encrypt(nonce, message, _context(ticket_cbss, role))

        return {
            "key_id": key_id,
            "request_xml": sealed(request, b"request"),
            "response_xml": sealed(response, b"response"),
            "decisions": sealed(decisions, b"decisions") if decisions is not None else None,
        }

    def open(self, exchange: ExchangeRecord) -> ExchangeRecord:
        """The record with its messages in clear; `MissingAuditKey` if its key is not here,
        `AuditError` if a message was altered or moved."""
        if exchange.key_id is None:
            return exchange
        cipher = self._cipher_of(exchange)
        decisions = exchange.decisions
        return exchange.model_copy(
            update={
                "key_id": None,
                "request_xml": _opened(cipher, exchange, exchange.request_xml, b"request"),
                "response_xml": _opened(cipher, exchange, exchange.response_xml, b"response"),
                "decisions": (
                    _opened(cipher, exchange, decisions, b"decisions")
                    if decisions is not None
                    else None
                ),
            }
        )

    def open_decisions(self, exchange: ExchangeRecord) -> bytes | None:
        """The decision trail in clear, and nothing else: `audit explain` needs no message,
        and a damaged message must not hide an intact trail."""
        if exchange.decisions is None or exchange.key_id is None:
            return exchange.decisions
        cipher = self._cipher_of(exchange)
        return _opened(cipher, exchange, exchange.decisions, b"decisions", "decision trail")

    def _cipher_of(self, exchange: ExchangeRecord) -> AESGCM:
        """The cipher of the key that sealed `exchange`; `MissingAuditKey` if not here."""
        assert exchange.key_id is not None
        key = dict(self.sealing).get(exchange.key_id)
        if key is None:
            raise MissingAuditKey(exchange.key_id)
        return AESGCM(key)


def _opened(
    cipher: AESGCM, exchange: ExchangeRecord, message: bytes, role: bytes, what: str = ""
) -> bytes:
    """One sealed part of `exchange` in clear; `AuditError` if altered or moved."""
    try:
        nonce, body = message[:NONCE_BYTES], message[NONCE_BYTES:]
        return cipher.decrypt(nonce, body, _context(exchange.ticket_cbss, role))
    except InvalidTag as error:
        raise AuditError(
            f"exchange {exchange.ticket_cbss}: the {what or role.decode()} does not open with "
            f"key {exchange.key_id}: altered, or moved from another row"
        ) from error


def _context(ticket_cbss: str, role: bytes) -> bytes:
    return b"selfemployed-gateway audit\x00" + ticket_cbss.encode() + b"\x00" + role


def _hex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
