"""End to end with a real Prometheus: the example configuration scrapes the real gateway.

deploy/prometheus/prometheus.yaml (scrape every second here, the target and the token file
of this test) scrapes a gateway of its own — fresh, so that the counts are exactly the
exchanges sent here, whatever other tests sent to the session's gateway — whose /metrics
requires the admin bearer token. Prometheus must see exactly the outcomes sent (and the
same numbers as the gateway's /metrics), the target up, and the rules of
deploy/prometheus/alerts.yaml loaded, evaluated without error, and quiet on a healthy
gateway. Prometheus listens on 127.0.0.1 only and is always stopped.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from selfemployed_gateway.devpki import DevPki
from tests.deploy.promql import prometheus_binary
from tests.e2e.conftest import CallerFactory, gateway_config
from tests.support.paths import PROJECT
from tests.support.ports import free_port
from tests.support.processes import Server, start, stop, write_config
from tests.support.soap import career_request, customer, fault, payload, status

DEPLOY = PROJECT / "deploy" / "prometheus"
JOB = "selfemployed-gateway"
TOKEN = "prometheus-e2e-admin-token-0123456789"
ONSS = customer(sector=21, institution=0, ticket="prometheus-e2e")
CPAS = customer(cbe="0212345668", ticket="prometheus-e2e-fault")
FOUND_CALLS = 3
# What the exchanges below are answered: (operation, outcome) → count.
SENT = {("consultCareer", "MSG00000"): FOUND_CALLS, ("consultCareer", "MSG00004"): 1}
WAIT_SECONDS = 30.0

T = TypeVar("T")


def loopback_client() -> httpx.Client:
    """HTTP to 127.0.0.1 only: no proxy from the environment."""
    return httpx.Client(trust_env=False, timeout=5)


def wait_for(what: str, probe: Callable[[], T | None], log: Callable[[], str]) -> T:
    """`probe()` until it gives a value, at most WAIT_SECONDS, every 0.25 s."""
    deadline = time.monotonic() + WAIT_SECONDS
    for _ in range(int(WAIT_SECONDS / 0.25) + 1):
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    pytest.fail(f"{what}: not within {WAIT_SECONDS:.0f} s\n{log()}", pytrace=False)


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """admin.token_file of the gateway, and Prometheus' credentials_file."""
    path = tmp_path_factory.mktemp("admin-token") / "admin.token"
    path.write_text(TOKEN + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def monitored(
    pki: DevPki, simulator: Server, token_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A fresh gateway whose /metrics needs the token: its counts are this module's only."""
    folder = tmp_path_factory.mktemp("monitored-gateway")
    config = gateway_config(pki, simulator.urls["simulator"], audit=folder / "audit.sqlite3")
    config["admin"]["token_file"] = str(token_file)
    server = start(write_config(folder / "gateway.toml", config), "serve")
    yield server
    server.stop()


@dataclass(frozen=True)
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]

    def get(self, path: str, **params: str) -> Any:
        with loopback_client() as client:
            answer = client.get(self.url + path, params=params)
        answer.raise_for_status()
        return answer.json()

    def query(self, expression: str) -> list[dict[str, Any]]:
        """An instant query's result vector (/api/v1/query)."""
        answer = self.get("/api/v1/query", query=expression)
        assert answer["status"] == "success", answer
        assert answer["data"]["resultType"] == "vector", answer
        return list(answer["data"]["result"])

    def stop(self) -> None:
        stop(self.process)


def scrape_config(target: str, token_file: Path) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yaml for this test: every second, this gateway, this
    token, the rules by absolute path; the rest as shipped."""
    config = yaml.safe_load((DEPLOY / "prometheus.yaml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == JOB
    job["authorization"]["credentials_file"] = str(token_file)
    job["static_configs"] = [{"targets": [target]}]
    return dict(config)


def launch_prometheus(config: Path, folder: Path) -> Prometheus:
    """Prometheus on a free port of 127.0.0.1 only, its storage and log in `folder`."""
    folder.mkdir()
    port = free_port()
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(prometheus_binary("prometheus")),
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                "--storage.tsdb.retention.time=1h",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    return Prometheus(process, f"http://127.0.0.1:{port}", log_path)


def ready_or_exited(server: Prometheus) -> bool | None:
    """True once /-/ready answers 200, False if the process exited, None meanwhile."""
    if server.process.poll() is not None:
        return False
    try:
        with loopback_client() as client:
            return client.get(server.url + "/-/ready").status_code == 200 or None
    except httpx.TransportError:
        return None


def start_prometheus(config: Path, folder: Path) -> Prometheus:
    """A ready Prometheus. A few attempts: another process may take the free port between
    our probe and Prometheus' bind."""
    for attempt in range(3):
        server = launch_prometheus(config, folder / f"attempt-{attempt}")
        try:
            ready = wait_for("prometheus ready", partial(ready_or_exited, server), server.log)
        except BaseException:
            server.stop()
            raise
        if ready:
            return server
        if "address already in use" not in server.log():
            break
    pytest.fail(f"prometheus exited ({server.process.returncode}):\n{server.log()}", pytrace=False)


@pytest.fixture(scope="module")
def prometheus(
    monitored: Server, token_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    folder = tmp_path_factory.mktemp("prometheus")
    target = urlsplit(monitored.urls["admin"]).netloc
    config = folder / "prometheus.yaml"
    config.write_text(yaml.safe_dump(scrape_config(target, token_file)), encoding="utf-8")
    server = start_prometheus(config, folder)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def traffic(monitored: Server, pki: DevPki) -> dict[tuple[str, str], float]:
    """The exchanges of SENT, each checked to be answered as counted."""
    callers = CallerFactory(pki, monitored.urls["soap"])
    for _ in range(FOUND_CALLS):
        answer = callers("onss-inspection").post(
            career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159")
        )
        assert status(payload(answer.content))["code"] == "MSG00000"
    refused = callers("cpas-namur").post(career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65131510159"))
    assert fault(refused.content)["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]
    return {key: float(count) for key, count in SENT.items()}


def gateway_counts(admin: str, token: str) -> dict[tuple[str, str], float]:
    """seg_requests_total of the gateway's own /metrics, by (operation, outcome)."""
    with loopback_client() as client:
        answer = client.get(admin + "/metrics", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return {
        (sample.labels["operation"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "seg_requests_total"
    }


def scraped_counts(prometheus: Prometheus) -> dict[tuple[str, str], float]:
    return {
        (series["metric"]["operation"], series["metric"]["outcome"]): float(series["value"][1])
        for series in prometheus.query(f'seg_requests_total{{job="{JOB}"}}')
    }


@dataclass(frozen=True)
class Scraped:
    """What Prometheus holds of seg_requests_total, and when it was first seen whole."""

    counts: dict[tuple[str, str], float]
    at: datetime


@pytest.fixture(scope="module")
def scraped(prometheus: Prometheus, traffic: dict[tuple[str, str], float]) -> Scraped:
    """Wait (bounded) until Prometheus holds every exchange sent, no more, no less."""

    def as_sent() -> dict[tuple[str, str], float] | None:
        seen = scraped_counts(prometheus)
        return seen if seen == traffic else None

    counts = wait_for(
        "seg_requests_total as sent",
        as_sent,
        lambda: f"last seen: {scraped_counts(prometheus)}\n{prometheus.log()}",
    )
    return Scraped(counts, datetime.now(UTC))


def test_prometheus_sees_exactly_the_exchanges_sent(
    scraped: Scraped, monitored: Server, traffic: dict[tuple[str, str], float]
) -> None:
    assert gateway_counts(monitored.urls["admin"], TOKEN) == traffic
    assert scraped.counts == {
        ("consultCareer", "MSG00000"): 3.0,
        ("consultCareer", "MSG00004"): 1.0,
    }


def test_the_target_is_up_with_the_admin_token(prometheus: Prometheus, monitored: Server) -> None:
    """`up` 1 means the bearer token of credentials_file was accepted: without it, 401."""
    target = urlsplit(monitored.urls["admin"]).netloc
    with loopback_client() as client:
        assert client.get(monitored.urls["admin"] + "/metrics").status_code == 401

    def up() -> list[dict[str, Any]] | None:
        result = prometheus.query(f'up{{job="{JOB}"}}')
        return result if [series["value"][1] for series in result] == ["1"] else None

    (series,) = wait_for("up == 1", up, prometheus.log)
    assert series["metric"] == {"__name__": "up", "job": JOB, "instance": target}


def alert_names() -> list[str]:
    (group,) = yaml.safe_load((DEPLOY / "alerts.yaml").read_text(encoding="utf-8"))["groups"]
    return [rule["alert"] for rule in group["rules"]]


def evaluated_at(rule: dict[str, Any]) -> datetime:
    """A rule's `lastEvaluation` (RFC 3339, nanoseconds: Python reads microseconds)."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", rule["lastEvaluation"]))


def test_alert_rules_load_evaluate_and_stay_quiet(prometheus: Prometheus, scraped: Scraped) -> None:
    """Every rule of alerts.yaml evaluated (health "ok", no error) on the live series — after
    they were scraped, not on an empty database where every rule is trivially quiet; a
    healthy gateway with a caller's own fault (MSG00004) has nothing pending or firing."""

    def evaluated() -> list[dict[str, Any]] | None:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        after = rules and all(evaluated_at(rule) > scraped.at for rule in rules)
        return groups if after else None

    (group,) = wait_for("rules evaluated on the scraped series", evaluated, prometheus.log)
    assert (group["name"], group["file"]) == (JOB, str(DEPLOY / "alerts.yaml"))
    assert [rule["name"] for rule in group["rules"]] == alert_names()
    assert {
        (rule["type"], rule["health"], rule.get("lastError", "")) for rule in group["rules"]
    } == {("alerting", "ok", "")}
    assert prometheus.get("/api/v1/alerts")["data"]["alerts"] == []


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets process `pid` listens on (Linux /proc)."""
    inodes: set[str] = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(descriptor)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    addresses: set[str] = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                addresses.add(_address(local))
    return addresses


def _address(local: str) -> str:
    """/proc/net/tcp's `0100007F:1F90` as `127.0.0.1:8080` (IPv4 only: a v6 one stays hex)."""
    host, port = local.split(":")
    if len(host) == 8:
        host = ".".join(str(int(host[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return f"{host}:{int(port, 16)}"


def test_prometheus_listens_on_loopback_only(prometheus: Prometheus) -> None:
    assert listening_addresses(prometheus.process.pid) == {urlsplit(prometheus.url).netloc}
