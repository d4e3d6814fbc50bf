"""deploy/grafana/selfemployed-gateway.json: a dashboard that shows what the gateway exports.

A panel querying a name the gateway does not export shows "No data" forever, and nobody
notices; a metric added to the gateway without a panel is a number nobody looks at. Both
fail here, against the series computed from `GatewayMetrics` (tests/deploy/promql.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.promql import (
    SCRAPE_SERIES,
    PromQLSyntaxError,
    exported_series,
    metric_names,
)
from tests.support.paths import PROJECT

DASHBOARD = PROJECT / "deploy" / "grafana" / "selfemployed-gateway.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
LABEL_VALUES = re.compile(r"label_values\((?P<selector>.+),\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\)")


def dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def panels(within: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels (a collapsed row holds its own) included."""
    for panel in dashboard()["panels"] if within is None else within:
        yield panel
        yield from panels(panel.get("panels", []))


def queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every target of every panel and every query variable."""
    for panel in panels():
        for target in panel.get("targets", []):
            yield f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable_selector(variable["query"]["query"])


def variable_selector(query: str) -> str:
    """The PromQL of a variable's query: Grafana's `label_values(selector, label)` ends with
    a label name, not an expression."""
    found = LABEL_VALUES.fullmatch(query.strip())
    assert found, f"not a label_values(selector, label) query: {query!r}"
    return found.group("selector")


def test_dashboard_schema_and_identity() -> None:
    document = dashboard()
    assert document["schemaVersion"] == 38
    assert (document["uid"], document["title"]) == ("selfemployed-gateway", "selfemployed-gateway")
    assert [entry["name"] for entry in document["__inputs"]] == ["DS_PROMETHEUS"]
    assert document["__inputs"][0]["pluginId"] == "prometheus"


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids)), sorted(ids)


def test_every_query_uses_the_one_prometheus_input() -> None:
    """Import asks for one data source (DS_PROMETHEUS); a panel bound to another uid would
    query a data source that does not exist on the importing Grafana."""
    used = [panel["datasource"] for panel in panels() if panel["type"] != "row"]
    used += [target["datasource"] for panel in panels() for target in panel.get("targets", [])]
    used += [variable["datasource"] for variable in dashboard()["templating"]["list"]]
    assert used
    assert [source for source in used if source != DATASOURCE] == []


def test_every_panel_but_rows_has_a_query() -> None:
    empty = [
        panel["title"] for panel in panels() if panel["type"] != "row" and not panel["targets"]
    ]
    assert empty == []


@pytest.mark.parametrize(("where", "expression"), list(queries()))
def test_query_reads_only_exported_series(where: str, expression: str) -> None:
    names = metric_names(expression)
    assert names, f"{where}: no series"
    assert names - exported_series().names - SCRAPE_SERIES == set(), where


def test_every_exported_family_has_a_panel() -> None:
    """A new metric of the gateway fails here until the dashboard shows it."""
    exported = exported_series()
    shown = {
        exported.family_of(name) for _, expression in queries() for name in metric_names(expression)
    }
    assert set(exported.families) - shown == set()


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("up", {"up"}),
        ('up{job="selfemployed-gateway"} == 0', {"up"}),
        ("rate(seg_requests_total[5m])", {"seg_requests_total"}),
        (
            'sum by (job, le) (rate(a_bucket{le=~"1|2", x="}"}[5m:1m] offset 1h30m))',
            {"a_bucket"},
        ),
        ("sum(rate(a[5m])) by (le) / on (job) group_left (instance) b", {"a", "b"}),
        (
            'histogram_quantile(0.95, sum by (le) (rate(d_bucket{job="$job"}[$__rate_interval])))',
            {"d_bucket"},
        ),
        (
            "topk by (client) (5, x) or count without (a) (y) unless max(z) > bool 1e-3",
            {"x", "y", "z"},
        ),
        ('label_replace(w, "dst", "$1", "src", "(.*)") and ignoring (le) v', {"w", "v"}),
        ('count_values("value", k) * .5 + Inf - NaN', {"k"}),
        ("recorded:seg_requests:rate5m{a='b\\'}'} @ start()", {"recorded:seg_requests:rate5m"}),
        ("${DS_PROMETHEUS} + m  # a comment naming not_a_metric", {"m"}),
    ],
)
def test_metric_names_reads_promql(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names


@pytest.mark.parametrize("expression", ['up{job="x}', "rate(x[5m]", "sum(rate(x[5m])"])
def test_metric_names_refuses_unclosed_expressions(expression: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        metric_names(expression)
