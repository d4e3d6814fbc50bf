"""The metric names a PromQL expression reads, the series the gateway really exports, and
where Debian's Prometheus binaries are.

The alert rules (deploy/prometheus) and the dashboard (deploy/grafana) must name only series
that exist: a typo or a renamed metric gives an alert that can never fire and a panel that
shows "No data", both silently. Both tests compare `metric_names(expr)` with
`exported_series()`, which is computed from `GatewayMetrics` itself, never listed by hand.

The extractor reads PromQL as Prometheus does, as far as names go: it skips strings, label
matchers `{…}`, ranges and subqueries `[…]`, numbers and durations, Grafana's variables
(`$job`, `${DS}`, `$__rate_interval`), and the label lists of `by`, `without`, `on`,
`ignoring`, `group_left` and `group_right`; an identifier followed by `(` is a function or an
aggregation; any other identifier that is not a keyword is a metric name.

`prometheus_binary` finds `promtool` and `prometheus` (PATH, else /usr/bin); missing is a
failure, not a skip, like PostgreSQL (tests/support/postgres.py): `.ci/run` installs them.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from selfemployed_gateway.metrics import GatewayMetrics

# Keywords followed by a parenthesised list of label names, not of expressions.
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# Binary operators and modifiers spelled as words, and the number literals Inf and NaN.
KEYWORDS = frozenset({"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan"})
# Aggregations may put their `by`/`without` clause before the parenthesis: `sum by (le) (…)`.
AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    }
)
# Series Prometheus itself adds to every scrape target (what a "target down" alert reads).
SCRAPE_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)

_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
# A number or a duration (1, 0.05, .5, 1e3, 0x1F, 5m, 1h30m); "-" and "+" are tokens of their own.
_NUMBER = re.compile(r"[0-9]+[0-9A-Za-z_.]*|\.[0-9][0-9A-Za-z_.]*")
_GRAFANA_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z0-9_]+)")
_CLOSING = {"{": "}", "[": "]", "(": ")"}


class PromQLSyntaxError(ValueError):
    """An expression the extractor cannot read (an unclosed string or bracket)."""


def metric_names(expression: str) -> set[str]:
    """Every metric name `expression` selects (`name{…}`, `name[5m]` or a bare `name`)."""
    names: set[str] = set()
    position, depth = 0, 0
    while position < len(expression):
        character = expression[position]
        if character in "()":
            depth += 1 if character == "(" else -1
            if depth < 0:
                raise PromQLSyntaxError(f"unopened ')' at {position}: {expression!r}")
            position += 1
        elif character in "\"'`":
            position = _after_string(expression, position)
        elif character in "{[":
            position = _after_closing(expression, position)
        elif character == "#":
            end = expression.find("\n", position)
            position = len(expression) if end < 0 else end
        elif character == "$" and (variable := _GRAFANA_VARIABLE.match(expression, position)):
            position = variable.end()
        elif number := _NUMBER.match(expression, position):
            position = number.end()
        elif identifier := _IDENTIFIER.match(expression, position):
            position = _identifier(expression, identifier, names)
        else:
            position += 1
    if depth:
        raise PromQLSyntaxError(f"unclosed '(': {expression!r}")
    return names


def _identifier(expression: str, identifier: re.Match[str], names: set[str]) -> int:
    """Classify one identifier; add it to `names` if it is a metric. Returns where to go on."""
    word, position = identifier.group(), identifier.end()
    following = _skip_spaces(expression, position)
    opens = following < len(expression) and expression[following] == "("
    if word.lower() in GROUPING:
        return _after_closing(expression, following) if opens else position
    clause = _IDENTIFIER.match(expression, following)
    grouped = clause is not None and clause.group().lower() in {"by", "without"}
    if word.lower() in AGGREGATIONS and grouped:
        return position
    if not opens and word.lower() not in KEYWORDS:
        names.add(word)
    return position


def _skip_spaces(expression: str, position: int) -> int:
    while position < len(expression) and expression[position].isspace():
        position += 1
    return position


def _after_string(expression: str, start: int) -> int:
    """The position after the string literal opening at `start` (backslash escapes, except
    in raw backtick strings)."""
    quote, position = expression[start], start + 1
    while position < len(expression):
        if expression[position] == "\\" and quote != "`":
            position += 2
        elif expression[position] == quote:
            return position + 1
        else:
            position += 1
    raise PromQLSyntaxError(f"unclosed string at {start}: {expression!r}")


def _after_closing(expression: str, start: int) -> int:
    """The position after the bracket matching the one at `start` (strings inside skipped)."""
    expected = [_CLOSING[expression[start]]]
    position = start + 1
    while position < len(expression):
        character = expression[position]
        if character in "\"'`":
            position = _after_string(expression, position)
            continue
        if character in _CLOSING:
            expected.append(_CLOSING[character])
        elif character == expected[-1]:
            expected.pop()
            if not expected:
                return position + 1
        position += 1
    raise PromQLSyntaxError(f"unclosed {expression[start]!r} at {start}: {expression!r}")


@dataclass(frozen=True)
class ExportedSeries:
    """What `/metrics` of a gateway holds: each family and the sample names it exposes."""

    families: dict[str, frozenset[str]]

    @property
    def names(self) -> frozenset[str]:
        return frozenset().union(*self.families.values())

    def family_of(self, name: str) -> str | None:
        return next((family for family, names in self.families.items() if name in names), None)


def exported_series() -> ExportedSeries:
    """The sample names of every family of a real `GatewayMetrics`, each labelled and observed
    once (a labelled family without a child exports no sample); `_created` samples left out:
    they are the time a series was created, not something to graph or alert on."""
    metrics = GatewayMetrics("final")
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            _touch(metric)
    return ExportedSeries(_sample_names(metrics.registry))


def _touch(metric: MetricWrapperBase) -> None:
    # `_labelnames`: prometheus_client has no public accessor for a metric's label names.
    labelnames: tuple[str, ...] = metric._labelnames
    child = metric.labels(*("x" for _ in labelnames)) if labelnames else metric
    if hasattr(child, "observe"):
        child.observe(0.1)


def _sample_names(registry: CollectorRegistry) -> dict[str, frozenset[str]]:
    families: dict[str, frozenset[str]] = {}
    for family in registry.collect():
        names = {sample.name for sample in family.samples}
        families[family.name] = frozenset(n for n in names if not n.endswith("_created"))
    return families


DEBIAN_BINARIES = Path("/usr/bin")


def prometheus_binary(name: str) -> Path:
    """`promtool` or `prometheus` from PATH, else from /usr/bin; `pytest.fail` if neither."""
    found = shutil.which(name) or shutil.which(name, path=str(DEBIAN_BINARIES))
    if found is None:
        pytest.fail(
            f"{name} is not installed: neither on PATH nor in {DEBIAN_BINARIES}. Install "
            "Debian's prometheus package (apt-get install prometheus); .ci/run does.",
            pytrace=False,
        )
    return Path(found)
