"""`audit explain`: an exchange's decision trail as the service desk reads it (issue #18, R-73).

One block per stage, in the order they ran: its verdict, the rules it applied (the deciding
ones with the words of the specification's headings), its facts, and for the stage that
answered, what would have changed the outcome. Every stored value is printed escaped: a
hostile value cannot forge a line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from selfemployed_gateway.decisions import RULES, DecisionTrail, Fact, Step, Verdict


def explanation(trail: DecisionTrail, escaped: Callable[[str], str]) -> Iterator[str]:
    """The lines of `audit explain` for one trail (without the exchange's header)."""
    yield f"configuration: {escaped(trail.configuration or '-')}"
    for number, step in enumerate(trail.steps, start=1):
        yield from _step(number, step, escaped)


def _step(number: int, step: Step, escaped: Callable[[str], str]) -> Iterator[str]:
    rules = ", ".join(escaped(rule) for rule in step.rules)
    if step.verdict is Verdict.PASSED:
        yield f"{number}. {escaped(step.stage)}: passed" + (f" ({rules})" if rules else "")
    else:
        yield f"{number}. {escaped(step.stage)}: ANSWERED"
        for rule in step.rules:
            words = RULES.get(rule)
            yield f"   rule {escaped(rule)}" + (f" — {words}" if words else "")
    for name, fact in step.facts.items():
        yield f"   {escaped(name)}: {_fact(fact, escaped)}"
    if step.because is not None:
        yield f"   because: {escaped(step.because)}"


def _fact(fact: Fact, escaped: Callable[[str], str]) -> str:
    if isinstance(fact, list):
        return "; ".join(escaped(str(item)) for item in fact) if fact else "none"
    if isinstance(fact, bool):
        return "yes" if fact else "no"
    return "-" if fact is None else escaped(str(fact))
