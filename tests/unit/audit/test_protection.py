"""audit/protection.py: messages sealed at rest, rotation, and the keyed hash of the NISS."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from selfemployed_gateway.audit.protection import (
    AuditProtection,
    MissingAuditKey,
    key_id_of,
    new_key_text,
    parse_key,
)
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.errors import AuditError, ConfigurationError
from selfemployed_gateway.settings import AuditSettings

SSIN = "65031510159"
REQUEST = f"<consultCareerRequest><ssin>{SSIN}</ssin></consultCareerRequest>".encode()
MOMENT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def record(ticket: str = "CBSS-1") -> ExchangeRecord:
    return ExchangeRecord(
        ticket_cbss=ticket,
        received=MOMENT,
        replied=MOMENT,
        outcome="MSG00000",
        duration_ms=1.0,
        request_xml=REQUEST,
        response_xml=b"<answer/>",
    )


def key_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text(new_key_text() + "\n", encoding="ascii")
    return path


def protection(*keys: Path, ssin_key: Path | None = None) -> AuditProtection:
    return AuditProtection.from_settings(
        AuditSettings(encryption_keys=list(keys), ssin_hash_key_file=ssin_key)
    )


def test_sealed_messages_hold_no_personal_data_and_open_again(tmp_path: Path) -> None:
    keys = protection(key_file(tmp_path, "a.key"))
    sealed = keys.seal(record())
    assert sealed.key_id == keys.sealing_key_id
    assert SSIN.encode() not in sealed.request_xml + sealed.response_xml
    assert sealed.request_xml != keys.seal(record()).request_xml  # a fresh nonce each time
    opened = keys.open(sealed)
    assert (opened.request_xml, opened.response_xml, opened.key_id) == (
        REQUEST,
        b"<answer/>",
        None,
    )


def test_the_decision_trail_is_sealed_like_the_messages(tmp_path: Path) -> None:
    """Issue #18: it holds the NISS and dates of a person's life; its own role as AAD."""
    keys = protection(key_file(tmp_path, "a.key"))
    trail = b'{"steps":[{"facts":{"ssin":"%s"}}]}' % SSIN.encode()
    sealed = keys.seal(record().model_copy(update={"decisions": trail}))
    assert sealed.decisions is not None and SSIN.encode() not in sealed.decisions
    assert keys.open(sealed).decisions == trail
    swapped = sealed.model_copy(update={"decisions": sealed.request_xml})
    with pytest.raises(AuditError, match="decisions does not open"):
        keys.open(swapped)
    assert keys.seal(record()).decisions is None  # none stored: none sealed


def test_rotation_keeps_old_rows_readable(tmp_path: Path) -> None:
    old, new = key_file(tmp_path, "old.key"), key_file(tmp_path, "new.key")
    before = protection(old).seal(record())
    after = protection(new, old)  # the new key first: it seals, both open
    assert after.seal(record()).key_id == key_id_of(parse_key(new.read_text(), "new"))
    assert after.open(before).request_xml == REQUEST


def test_without_its_key_a_row_names_the_missing_key_id(tmp_path: Path) -> None:
    sealed = protection(key_file(tmp_path, "gone.key")).seal(record())
    with pytest.raises(MissingAuditKey) as raised:
        protection(key_file(tmp_path, "other.key")).open(sealed)
    assert raised.value.key_id == sealed.key_id
    assert str(sealed.key_id) in str(raised.value)


def test_a_message_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    """The ticket and the role are the associated data of each message."""
    keys = protection(key_file(tmp_path, "a.key"))
    one, other = keys.seal(record("CBSS-1")), keys.seal(record("CBSS-2"))
    moved = other.model_copy(update={"request_xml": one.request_xml})
    with pytest.raises(AuditError, match="moved from another row"):
        keys.open(moved)
    swapped = one.model_copy(
        update={"request_xml": one.response_xml, "response_xml": one.request_xml}
    )
    with pytest.raises(AuditError):
        keys.open(swapped)


def test_without_keys_nothing_is_sealed_or_hashed() -> None:
    keys = AuditProtection()
    assert keys.seal(record()) == record()
    assert keys.ssin_hash(SSIN) is None


def test_the_ssin_hash_is_keyed(tmp_path: Path) -> None:
    one = protection(ssin_key=key_file(tmp_path, "s1.key"))
    other = protection(ssin_key=key_file(tmp_path, "s2.key"))
    assert one.ssin_hash(SSIN) == one.ssin_hash(SSIN)
    assert one.ssin_hash(SSIN) != other.ssin_hash(SSIN)
    assert SSIN not in str(one.ssin_hash(SSIN))
    assert one.ssin_hash(None) is None


def test_keys_are_base64_or_hex_of_32_bytes_and_never_echoed(tmp_path: Path) -> None:
    raw = bytes(range(32))
    assert parse_key(base64.b64encode(raw).decode(), "x") == raw
    assert parse_key(raw.hex(), "x") == raw
    with pytest.raises(ConfigurationError, match="audit new-key") as raised:
        parse_key("c2VjcmV0", "audit.encryption_key")
    assert "c2VjcmV0" not in str(raised.value)
    keys = protection(key_file(tmp_path, "a.key"), ssin_key=key_file(tmp_path, "s.key"))
    assert str(keys.sealing_key_id) in repr(keys)
    assert new_key_text() not in repr(keys) and "b'" not in repr(keys)


def test_the_hash_key_must_differ_from_the_encryption_keys(tmp_path: Path) -> None:
    same = key_file(tmp_path, "same.key")
    with pytest.raises(ConfigurationError, match="must differ"):
        protection(same, ssin_key=same)


def test_a_key_from_the_environment_seals_before_the_files(tmp_path: Path) -> None:
    text = new_key_text()
    keys = AuditProtection.from_settings(
        AuditSettings.model_validate(
            {"encryption_key": text, "encryption_keys": [key_file(tmp_path, "f.key")]}
        )
    )
    assert keys.sealing_key_id == key_id_of(parse_key(text, "env"))
    assert len(keys.sealing) == 2
