"""decisions.py: the decision trail's record and its bounded JSON (issue #18)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from selfemployed_gateway import decisions
from selfemployed_gateway.decisions import (
    MAX_BYTES,
    DecisionTrail,
    Step,
    UnreadableTrail,
    Verdict,
    period_text,
)
from tests.support.paths import PROJECT


def test_steps_are_kept_in_order_and_the_last_answer_decides() -> None:
    trail = DecisionTrail(configuration="sha256:0123456789abcdef")
    trail.passed("authorisation", "R-11", "R-12", client="cpas-namur")
    trail.answered("integration", "R-20", "R-44", because="ends a day early", mode="FullyIncluded")
    assert [step.stage for step in trail.steps] == ["authorisation", "integration"]
    assert trail.deciding == Step(
        "integration",
        Verdict.ANSWERED,
        ("R-20", "R-44"),
        {"mode": "FullyIncluded"},
        "ends a day early",
    )


def test_the_json_round_trips() -> None:
    trail = DecisionTrail(configuration="sha256:0123456789abcdef")
    trail.passed("dates", "R-15", period="2000-01-01 … 2010-12-31", checked=["R-30", "R-31"])
    trail.answered("reply", "R-25", segments=5, found=True, missing=None)
    again = DecisionTrail.from_json(trail.to_json())
    assert again == trail


def test_an_unrecorded_trail_keeps_nothing() -> None:
    trail = DecisionTrail(recorded=False)
    trail.passed("dates", "R-15")
    trail.answered("reply", "R-25")
    assert trail.steps == [] and trail.deciding is None


def test_texts_and_lists_are_cut() -> None:
    trail = DecisionTrail()
    trail.answered(
        "x", "R-10", because="b" * 1000, text="t" * 1000, items=[str(i) for i in range(50)]
    )
    (step,) = json.loads(trail.to_json())["steps"]
    assert len(step["because"]) == decisions.MAX_TEXT
    assert len(step["facts"]["text"]) == decisions.MAX_TEXT
    assert step["facts"]["items"][-1] == "and 30 more"
    assert len(step["facts"]["items"]) == decisions.MAX_ITEMS + 1


@pytest.mark.parametrize(
    ("fact", "stored"),
    [
        (["short", "l" * 1000], ["short", "l" * (decisions.MAX_TEXT - 1) + "…"]),
        ([str(i) for i in range(21)], [*(str(i) for i in range(20)), "and 1 more"]),
        (2**64, str(2**64)),
        ("t" * 201, "t" * (decisions.MAX_TEXT - 1) + "…"),
    ],
)
def test_one_fact_over_its_bound_is_cut_beside_facts_that_fit(fact: Any, stored: Any) -> None:
    """Facts that fit are written without a copy (issue #17): one that does not, beside
    them, is still cut, and they are written as they were."""
    trail = DecisionTrail()
    trail.passed("x", "R-10", first="fits", over=fact, last=["fits"], number=3, flag=True)
    (step,) = json.loads(trail.to_json())["steps"]
    assert step["facts"] == {
        "first": "fits",
        "over": stored,
        "last": ["fits"],
        "number": 3,
        "flag": True,
    }


def test_the_json_is_bounded_and_keeps_the_deciding_step() -> None:
    """Passed steps go first, then the deciding step's facts; its verdict and rules stay."""
    trail = DecisionTrail()
    for number in range(200):
        trail.passed(f"stage {number}", "R-15", note="n" * 150)
    trail.answered("integration", "R-20", because="why", **{f"f{i}": "v" * 150 for i in range(80)})
    text = trail.to_json()
    assert len(text) <= MAX_BYTES
    kept = DecisionTrail.from_json(text)
    assert kept.deciding is not None
    assert (kept.deciding.stage, kept.deciding.rules) == ("integration", ("R-20",))
    assert kept.deciding.facts == {"cut": "facts over the size limit"}


def test_the_json_is_what_the_standard_library_wrote() -> None:
    """orjson (issue #17) writes the bytes of `json.dumps(…, separators=(",", ":"),
    ensure_ascii=False)`, the encoder of the rows stored before it: same keys in the same
    order, UTF-8 as it is, the same numbers."""
    trail = DecisionTrail(configuration="sha256:0123456789abcdef")
    trail.passed("dates", "R-15", period="1956-07-01 …", checked=["R-30", "é", "\u2028"])
    trail.passed("supplier call", "R-22", duration_ms=4, seconds=0.1 + 0.2, big=2**63 - 1)
    trail.answered("reply", "R-25", because="« fin »", found=True, missing=None, small=-(2**63))
    document = {
        "format": decisions.FORMAT,
        "steps": [step.as_json() for step in trail.steps],
        "configuration": trail.configuration,
    }
    expected = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    assert trail.to_json() == expected


def test_an_integer_beyond_64_bits_is_stored_as_its_text() -> None:
    """orjson writes no integer beyond 64 bits: such a fact is kept as text, the exchange
    is stored all the same."""
    trail = DecisionTrail()
    trail.answered("reply", "R-25", count=2**64, negative=-(2**63) - 1, top=2**64 - 1)
    (step,) = json.loads(trail.to_json())["steps"]
    assert step["facts"] == {
        "count": str(2**64),
        "negative": str(-(2**63) - 1),
        "top": 2**64 - 1,
    }


def test_period_text() -> None:
    assert period_text(date(2010, 1, 1), date(2016, 12, 30)) == "2010-01-01 … 2016-12-30"
    assert period_text(date(2010, 1, 1), None) == "2010-01-01 …"


def test_rule_words_are_the_headings_of_docs_specification() -> None:
    """`audit explain` prints a rule's words: those of the project's specification."""
    text = (PROJECT / "docs" / "specification.md").read_text(encoding="utf-8")
    headings = dict(re.findall(r"(?m)^### (R-\d\d) — (.+?)(?: \*\*\[decision\]\*\*)?$", text))
    for rule, words in decisions.RULES.items():
        assert headings.get(rule) == words, rule


@pytest.mark.parametrize(
    "stored",
    [b"{", b"[]", b'{"format":2}', b'{"format":1,"steps":{}}', b'{"format":1,"steps":[1]}'],
)
def test_a_stored_trail_of_another_shape_is_unreadable_not_a_crash(stored: bytes) -> None:
    with pytest.raises(UnreadableTrail):
        DecisionTrail.from_json(stored)
