"""deploy/prometheus: the alert rules, their unit tests and the example scrape configuration.

An alert that cannot fire is worse than none: ops believe they are covered. So the rules must
load (`promtool check rules`), each must be shown firing and staying quiet on realistic series
(`promtool test rules`), they must read only series the gateway exports and select the job
the scrape configuration defines, and the outcome codes they single out must be the codes
the gateway answers with.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from selfemployed_gateway import codes
from selfemployed_gateway.records import SupplierOutcome
from tests.deploy.promql import SCRAPE_SERIES, exported_series, metric_names, prometheus_binary
from tests.support.paths import PROJECT

DEPLOY = PROJECT / "deploy" / "prometheus"
ALERTS = DEPLOY / "alerts.yaml"
ALERT_TESTS = DEPLOY / "alerts.test.yaml"
SCRAPE_CONFIG = DEPLOY / "prometheus.yaml"
GROUP = "selfemployed-gateway"
SEVERITIES = {"critical", "warning"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    """The alerting rules of the one group of alerts.yaml."""
    (group,) = load_yaml(ALERTS)["groups"]
    assert group["name"] == GROUP
    return [rule for rule in group["rules"] if "alert" in rule]


def alert(name: str) -> dict[str, Any]:
    (rule,) = (rule for rule in alert_rules() if rule["alert"] == name)
    return rule


def promtool(*arguments: str, cwd: Path = DEPLOY) -> str:
    """Run promtool; its output, or a failure that shows it."""
    command = [str(prometheus_binary("promtool")), *arguments]
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


def test_promtool_check_rules() -> None:
    output = promtool("check", "rules", str(ALERTS))
    assert f"SUCCESS: {len(alert_rules())} rules found" in output


def test_promtool_test_rules() -> None:
    """alerts.test.yaml: each alert fires, with its labels and annotations, where it must."""
    assert "SUCCESS" in promtool("test", "rules", str(ALERT_TESTS))


def alert_test_cases() -> Iterator[tuple[str, bool]]:
    """(alertname, fires) for every `alert_rule_test` entry of alerts.test.yaml."""
    for test in load_yaml(ALERT_TESTS)["tests"]:
        for case in test.get("alert_rule_test", []):
            yield case["alertname"], bool(case["exp_alerts"])


def test_every_alert_is_shown_firing_and_quiet() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    cases = list(alert_test_cases())
    assert {name for name, fires in cases if fires} == names
    assert {name for name, fires in cases if not fires} == names


def test_alerts_test_file_loads_alerts_yaml() -> None:
    assert load_yaml(ALERT_TESTS)["rule_files"] == [ALERTS.name]


@pytest.mark.parametrize("name", [rule["alert"] for rule in alert_rules()])
def test_alert_says_how_severe_and_what_to_do(name: str) -> None:
    rule = alert(name)
    assert re.fullmatch(r"\d+[smh]", rule["for"]), rule.get("for")
    assert rule["labels"]["severity"] in SEVERITIES
    assert set(rule["annotations"]) == {"summary", "description"}
    assert all(text.strip() for text in rule["annotations"].values())


@pytest.mark.parametrize("name", [rule["alert"] for rule in alert_rules()])
def test_alert_reads_only_exported_series(name: str) -> None:
    """A name the gateway does not export would make the alert silently never fire."""
    names = metric_names(alert(name)["expr"])
    assert names, "an alert that reads no series"
    assert names - exported_series().names - SCRAPE_SERIES == set()


def scrape_job() -> dict[str, Any]:
    (job,) = load_yaml(SCRAPE_CONFIG)["scrape_configs"]
    return dict(job)


@pytest.mark.parametrize("name", [rule["alert"] for rule in alert_rules()])
def test_alert_selects_the_scraped_job(name: str) -> None:
    """Renaming the scrape job must not leave alerts watching a job that no longer exists."""
    assert set(re.findall(r'\bjob="([^"]*)"', alert(name)["expr"])) == {scrape_job()["job_name"]}


def test_server_faults_are_the_server_codes_but_not_available() -> None:
    """The error ratio counts faults of the gateway or INASTI: soapenv:Server codes, except
    MSG00025, which answers consultContributions in the transitional phase by design (R-60)."""
    (matched,) = re.findall(
        r'outcome=~"([^"]*)"', alert("SelfEmployedGatewayErrorRatioHigh")["expr"]
    )
    server = {
        fault.code for fault in codes.ALL_FAULT_CODES if fault.origin is codes.FaultOrigin.SERVER
    }
    assert set(matched.split("|")) == server - {codes.NOT_AVAILABLE.code}
    assert set(matched.split("|")) == {"MSG00002", "MSG00003"}


def test_supplier_failures_are_every_outcome_but_inasti_answers_and_the_open_circuit() -> None:
    """Outcomes of a call are INASTI's answers (SupplierOutcome) or, for a failed call, a
    MSG00002 `details` text: the alert must exclude exactly the answers and the calls the open
    circuit did not make, so that any new failure text counts as a failure."""
    expression = alert("SelfEmployedGatewaySupplierFailing")["expr"]
    (excluded,) = re.findall(r'outcome!~"([^"]*)"', expression)
    (suspended,) = re.findall(r'outcome!="([^"]*)"', expression)
    answers = {outcome.value for outcome in SupplierOutcome}
    assert set(excluded.split("|")) == answers | {codes.SUPPLIER_SUSPENDED}
    assert suspended == codes.SUPPLIER_SUSPENDED


def test_scrape_config_scrapes_metrics_with_the_admin_token() -> None:
    config = load_yaml(SCRAPE_CONFIG)
    job = scrape_job()
    assert config["rule_files"] == [ALERTS.name]
    assert (job["job_name"], job["scheme"], job["metrics_path"]) == (GROUP, "http", "/metrics")
    assert job["authorization"]["type"] == "Bearer"
    assert Path(job["authorization"]["credentials_file"]).is_absolute()


def test_promtool_check_config_syntax() -> None:
    """The example as shipped: its token file does not exist here, so syntax only."""
    output = promtool("check", "config", "--syntax-only", str(SCRAPE_CONFIG))
    assert "SUCCESS" in output


def test_promtool_check_config(tmp_path: Path) -> None:
    """The whole check (files included), on a copy whose token file exists: promtool stats
    credentials_file and each rule file."""
    token = tmp_path / "admin.token"
    token.write_text("0123456789abcdef0123456789abcdef\n", encoding="utf-8")
    config = load_yaml(SCRAPE_CONFIG)
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(token)
    config["rule_files"] = [str(ALERTS)]
    copy = tmp_path / "prometheus.yaml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    output = promtool("check", "config", str(copy), cwd=tmp_path)
    assert f"SUCCESS: {len(alert_rules())} rules found" in output
