"""The keyed NISS tags and the redaction of logs (privacy.py)."""

from __future__ import annotations

from selfemployed_gateway import privacy


def test_ssin_tags_are_keyed() -> None:
    """An unkeyed hash of 11 digits is reversed by brute force: the tag needs the key."""
    privacy.set_key("key-one")
    one = privacy.ssin_tag("65031510159")
    privacy.set_key("key-two")
    two = privacy.ssin_tag("65031510159")
    assert one != two
    assert one.startswith("ssin:") and len(one) == len("ssin:") + 12
    assert privacy.redact("a 65031510159 b 123456789012 c 1234567890") == (
        f"a {two} b 123456789012 c 1234567890"
    )
