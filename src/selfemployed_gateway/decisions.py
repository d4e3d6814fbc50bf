"""The decision trail of one exchange (issue #18): the stages that ran, and why it ended so.

Each stage that runs adds a step: `passed` with the rules it applied, or `answered` with the
rule that decided, the facts it decided on and, where it can say, what would have changed the
outcome (`because`). The trail is stored with the exchange, sealed like its messages (its facts
hold a NISS and dates of a person's life), and shown by `selfemployed-gateway audit explain`
(R-73): the service desk's answer to "why?".

It is plain data, built by the stages and the edge and known to neither SOAP nor storage;
bounded in size (`MAX_BYTES`) whatever the exchange.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import orjson

from selfemployed_gateway.errors import AuditError

#: A fact's value: a scalar, or a short list of them (periods as "begin … end" texts).
Fact = str | int | float | bool | None | list[str]

#: At most this many bytes of JSON per exchange: facts are cut to fit (`bounded`).
MAX_BYTES = 8 * 1024
#: A text fact or list item longer than this is cut (a hostile value never fills the trail).
MAX_TEXT = 200
#: A list fact keeps at most this many items, then says how many more there were.
MAX_ITEMS = 20
#: The version of the JSON written: `explain` reads what it knows.
FORMAT = 1
# orjson writes what the standard library's compact, non-ASCII encoder wrote, byte for byte
# (a test keeps them equal), at a fifteenth of its CPU: 14 -> 0.9 µs for an exchange's trail
# (issue #17). It takes integers of 64 bits at most: `_bounded` writes larger ones as text.
_INTEGER_RANGE = range(-(2**63), 2**64)


class UnreadableTrail(AuditError):
    """A stored trail that this version cannot read: damaged, or of another format."""


class Verdict(StrEnum):
    PASSED = "passed"
    ANSWERED = "answered"


# The rules a step can name, with the words of docs/specification.md's headings (a test
# keeps them equal): `explain` prints them beside the id.
RULES: dict[str, str] = {
    "R-10": "Primary validation",
    "R-11": "Authentication",
    "R-12": "Authorisation for the service",
    "R-13": "Authorisation of operation, legal context and informationCustomer",
    "R-14": "Inconsistent authorisation configuration",
    "R-15": "Business validation of the dates",
    "R-16": "NISS structure and checksum",
    "R-17": "NISS exists",
    "R-18": "NISS not replaced",
    "R-19": "Canceled NISS allowed",
    "R-20": "Integration for the client",
    "R-21": "Integration at the supplier",
    "R-22": "Supplier call",
    "R-23": "Interpretation of the supplier answer",
    "R-24": "Filtering per client",
    "R-25": "Reply",
    "R-26": "Unexpected internal error",
    "R-27": "SOAP 1.1 envelope rules",
    "R-28": "Admission limits",
    "R-30": "Career: beginDate not before 1956-07-01",
    "R-31": "Career: endDate not before beginDate",
    "R-32": "Career: no date in the future",
    "R-33": "Career: missing period or missing end",
    "R-34": "Contributions: beginQuarter at most 10 years back",
    "R-35": "Contributions: endQuarter not before beginQuarter",
    "R-36": "Contributions: no quarter in the future",
    "R-40": "Integration required or not",
    "R-41": "Integration under the client's quality code",
    "R-42": "Period check mode Ignore",
    "R-43": "Period check mode CurrentDate",
    "R-44": "Period check mode FullyIncluded",
    "R-45": "Integration extension",
    "R-46": "CPAS clients",
    "R-50": "Data filters",
    "R-51": "dataFilters lists every forbidden element",
    "R-55": "Only overlapping segments",
    "R-60": "Transitional phase",
    "R-65": "Supplier time budget",
    "R-73": "Support and traceability",
    "R-80": "Operation chosen by the Body",
}


# Not frozen: a frozen dataclass is built through object.__setattr__, field by field, and ten
# steps are built in every exchange (0.65 -> 0.19 µs each, issue #17). Nothing changes a step
# once built.
@dataclass(slots=True)
class Step:
    """One stage of one exchange."""

    stage: str
    verdict: Verdict
    rules: tuple[str, ...]
    facts: dict[str, Fact] = field(default_factory=dict)
    because: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The step as `to_json` writes it (orjson writes the verdict's value, the rules'
        tuple as a list)."""
        value: dict[str, Any] = {"stage": self.stage, "verdict": self.verdict, "rules": self.rules}
        facts = self.facts
        if facts:
            # Facts that fit are written as they are, without a copy: the bounded copy only
            # when one does not (12.6 -> 6.5 µs for an exchange's trail, issue #17).
            if not all(map(_fits, facts.values())):
                facts = {
                    name: fact if not isinstance(fact, _BOUNDED_TYPES) else _bounded(fact)
                    for name, fact in facts.items()
                }
            value["facts"] = facts
        if self.because is not None:
            value["because"] = _cut(self.because)
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Step:
        facts = value.get("facts", {})
        because = value.get("because")
        if not isinstance(facts, dict) or not (because is None or isinstance(because, str)):
            raise TypeError("a step's facts or because has the wrong type")
        return cls(
            stage=str(value["stage"]),
            verdict=Verdict(value["verdict"]),
            rules=tuple(str(rule) for rule in value.get("rules", ())),
            facts={str(name): _readable(fact) for name, fact in facts.items()},
            because=because,
        )


@dataclass(slots=True)
class DecisionTrail:
    """The steps of one exchange, in order, and the configuration in force."""

    steps: list[Step] = field(default_factory=list)
    #: A digest of the annex and dataset the exchange was decided on (`configuration_digest`).
    configuration: str | None = None
    #: False (audit.decision_trail = false): steps are not kept, nothing is stored.
    recorded: bool = True

    def passed(self, stage: str, *rules: str, **facts: Fact) -> None:
        if self.recorded:
            self.steps.append(Step(stage, Verdict.PASSED, rules, facts))

    def answered(self, stage: str, *rules: str, because: str | None = None, **facts: Fact) -> None:
        if self.recorded:
            self.steps.append(Step(stage, Verdict.ANSWERED, rules, facts, because))

    @property
    def deciding(self) -> Step | None:
        """The step that answered, if any (the last one: a stage answers at most once)."""
        answered = [step for step in self.steps if step.verdict is Verdict.ANSWERED]
        return answered[-1] if answered else None

    def to_json(self) -> bytes:
        """The trail as stored: compact JSON of at most `MAX_BYTES` (earliest passed steps
        dropped first, then the deciding step's facts, never the verdict)."""
        steps = [step.as_json() for step in self.steps]
        text = self._document(steps)
        while len(text) > MAX_BYTES and any(s["verdict"] == "passed" for s in steps):
            first = next(i for i, s in enumerate(steps) if s["verdict"] == "passed")
            steps = steps[:first] + steps[first + 1 :]
            text = self._document(steps)
        if len(text) > MAX_BYTES:
            # Only answering steps are left (one, in practice): their facts go, not them.
            steps = [{**s, "facts": {"cut": "facts over the size limit"}} for s in steps[-1:]]
            text = self._document(steps)
        return text

    def _document(self, steps: list[dict[str, Any]]) -> bytes:
        document: dict[str, Any] = {"format": FORMAT, "steps": steps}
        if self.configuration is not None:
            document["configuration"] = self.configuration
        return orjson.dumps(document)

    @classmethod
    def from_json(cls, text: bytes) -> DecisionTrail:
        """The trail `to_json` wrote; `UnreadableTrail` for anything else (a damaged row,
        another format), never a bare JSON or type error."""
        try:
            # The standard library's reader: it also reads rows written before orjson (a
            # float NaN was written as NaN, which orjson refuses to read).
            document = json.loads(text)
            if not isinstance(document, dict):
                raise TypeError("not a JSON object")
            if document.get("format") != FORMAT:
                raise UnreadableTrail(
                    f"format {document.get('format')!r}: this version reads format {FORMAT}"
                )
            configuration = document.get("configuration")
            if configuration is not None and not isinstance(configuration, str):
                raise TypeError("configuration is not a text")
            steps = document.get("steps", [])
            if not isinstance(steps, list):
                raise TypeError("steps is not a list")
            return cls(steps=[Step.from_json(step) for step in steps], configuration=configuration)
        except UnreadableTrail:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise UnreadableTrail(f"{type(error).__name__}: {error}") from None


def period_text(begin: date | None, end: date | None) -> str:
    """`2010-01-01 … 2016-12-30`; an open end is `…` alone."""
    first = begin.isoformat() if begin is not None else "…"
    return f"{first} … {end.isoformat()}" if end is not None else f"{first} …"


def _readable(fact: Any) -> Fact:
    """A stored fact as a `Fact` (what `to_json` writes), or TypeError."""
    if fact is None or isinstance(fact, str | int | float | bool):
        return fact
    if isinstance(fact, list) and all(isinstance(item, str) for item in fact):
        return list(fact)
    raise TypeError(f"a fact of type {type(fact).__name__}")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


# Floats, booleans and None are stored as they are; texts, lists and integers bounded.
_BOUNDED_TYPES = (str, list, int)


def _fits(fact: Fact) -> bool:
    """True if `_bounded` would leave `fact` as it is (the common case, checked cheaply:
    `type(…) is`: a subclass goes the long way)."""
    if type(fact) is str:
        return len(fact) <= MAX_TEXT
    if type(fact) is int:
        return fact in _INTEGER_RANGE
    if type(fact) is list:
        return len(fact) <= MAX_ITEMS and all(
            type(item) is str and len(item) <= MAX_TEXT for item in fact
        )
    return type(fact) is float or type(fact) is bool or fact is None


def _bounded(fact: Fact) -> Fact:
    if isinstance(fact, str):
        return _cut(fact)
    if isinstance(fact, int):  # bool too, which is in range
        return fact if fact in _INTEGER_RANGE else _cut(str(fact))
    if isinstance(fact, list):
        kept = [_cut(str(item)) for item in fact[:MAX_ITEMS]]
        if len(fact) > MAX_ITEMS:
            kept.append(f"and {len(fact) - MAX_ITEMS} more")
        return kept
    return fact
