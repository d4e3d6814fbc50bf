"""audit/explain.py: a decision trail as `audit explain` prints it (issue #18)."""

from __future__ import annotations

from selfemployed_gateway.audit.commands import escaped
from selfemployed_gateway.audit.explain import explanation
from selfemployed_gateway.decisions import DecisionTrail


def test_passed_steps_name_their_rules_and_the_deciding_one_its_words() -> None:
    trail = DecisionTrail(configuration="sha256:0123456789abcdef")
    trail.passed("dates", "R-15", "R-33", period="1956-07-01 …")
    trail.answered(
        "integration",
        "R-20",
        "R-44",
        because="ends a day early",
        periods=["2010-01-01 … 2016-12-30"],
        required=True,
        missing=None,
        others=[],
    )
    assert list(explanation(trail, escaped)) == [
        "configuration: sha256:0123456789abcdef",
        "1. dates: passed (R-15, R-33)",
        "   period: 1956-07-01 …",
        "2. integration: ANSWERED",
        "   rule R-20 — Integration for the client",
        "   rule R-44 — Period check mode FullyIncluded",
        "   periods: 2010-01-01 … 2016-12-30",
        "   required: yes",
        "   missing: -",
        "   others: none",
        "   because: ends a day early",
    ]


def test_a_hostile_stored_value_cannot_forge_a_line() -> None:
    """Facts hold what callers sent (an error message quotes their XML): escaped."""
    trail = DecisionTrail()
    trail.answered(
        "primary validation",
        "R-10",
        because="x\n2. reply: ANSWERED",
        **{"error message": "bad\r\n   because: forged \u202e"},
    )
    lines = list(explanation(trail, escaped))
    assert len(lines) == 5
    assert not any(line.startswith("2. ") for line in lines)
    assert "\u202e" not in "".join(lines)
