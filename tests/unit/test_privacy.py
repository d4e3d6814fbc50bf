"""The keyed NISS tags and the redaction of logs (privacy.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# --- written forms (issue #13: "65.03.15-101.59" and "650315 10159" were logged in clear) --

SEPARATOR = st.sampled_from(["", ".", "-", " "])
AROUND = st.sampled_from(["", " ", "NISS ", "ssin=", "(", ")", "'", '"', ":", ", ", "x", "\n"])


@given(
    digits=st.from_regex(r"[0-9]{11}", fullmatch=True),
    separators=st.lists(SEPARATOR, min_size=4, max_size=4),
    before=AROUND,
    after=AROUND,
)
def test_a_niss_however_written_never_survives(
    digits: str, separators: list[str], before: str, after: str
) -> None:
    groups = [digits[0:2], digits[2:4], digits[4:6], digits[6:9], digits[9:11]]
    pairs = zip(separators, groups[1:], strict=True)
    written = groups[0] + "".join(separator + group for separator, group in pairs)
    redacted = privacy.redact(f"{before}{written}{after}")
    assert redacted == f"{before}{privacy.ssin_tag(digits)}{after}"


@pytest.mark.parametrize(
    "written",
    [
        "65.03.15-101.59",
        "650315 10159",
        "650315-101-59",
        "65 03 15 101 59",
        "650315.101.59",
        # what a review found still in clear (issue #13)
        "65.03.15/101.59",
        "650315_10159",
        "6503  1510159",
        "650315\t10159",
        "650315\u00a010159",
        "65.03.15\u2013101.59",
        "650-315-101-59",
        "650315\u200b10159",
        "\uff16\uff15\uff10\uff13\uff11\uff15\uff11\uff10\uff11\uff15\uff19",  # fullwidth
        "\u0666\u0665\u0660\u0663\u0661\u0665\u0661\u0660\u0661\u0665\u0669",  # Arabic-Indic
    ],
)
def test_the_usual_written_forms_get_the_tag_of_the_number(written: str) -> None:
    assert privacy.redact(f"ticket {written} refused") == (
        f"ticket {privacy.ssin_tag('65031510159')} refused"
    )


@pytest.mark.parametrize(
    "kept",
    [
        "2026-12-02 03:24:35.123456",
        "2026-12-02T03:24:35+01:00",
        "07deba05-4d79-497a-9a97-4390641d9ae4",
        "duration 1234.5 ms, 42 calls",
        "bc15f177-9988-4870-8f82-e65031510159",  # a UUID is left whole (ticketCBSS)
        "123 456 789 012",
        "1234567890",
    ],
)
def test_what_is_not_a_niss_is_kept(kept: str) -> None:
    assert privacy.redact(kept) == kept


@pytest.mark.parametrize(
    ("text", "kept"),
    [("2026-65031510159", "2026-"), ("case 7 65.03.15-101.59", "case 7 "), ("65031510159 1", " 1")],
)
def test_a_niss_beside_other_numbers_is_redacted(text: str, kept: str) -> None:
    redacted = privacy.redact(text)
    assert privacy.ssin_tag("65031510159") in redacted and kept in redacted
