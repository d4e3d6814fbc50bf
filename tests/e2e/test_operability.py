"""End-to-end operability: audit by ticket, /metrics, JSON logs, SIGHUP reload.

R-73: any exchange can be found by the BCSS ticket or the client's own ticket.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import DATASET, CallerFactory, gateway_config
from tests.support.admin import metric, sighup_and_wait
from tests.support.processes import PROJECT, Server, start, write_config
from tests.support.soap import career_request, customer, payload, status

ONSS = customer(sector=21, institution=0, ticket="ops-ticket-7")
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
RIZIV = customer(cbe="0234567873")


def gateway_config_path(server: Server) -> str:
    """The --config a test server was started with."""
    arguments = server.process.args
    assert isinstance(arguments, list)
    return str(arguments[arguments.index("--config") + 1])


def cli(config: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfemployed_gateway.cli", "--config", config, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
    )


def test_audit_show_by_either_ticket(as_client: CallerFactory, gateway: Server) -> None:
    """R-73: `audit show` finds the exchange by ticketCBSS and by the client's ticket."""
    element = payload(
        as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159")).content
    )
    ticket_cbss = element.findtext("informationCBSS/ticketCBSS")
    assert ticket_cbss
    config = gateway_config_path(gateway)
    by_bcss = cli(config, "audit", "show", ticket_cbss)
    by_client = cli(config, "audit", "show", "ops-ticket-7")
    assert by_bcss.returncode == 0, by_bcss.stderr
    assert ticket_cbss in by_bcss.stdout
    assert "ops-ticket-7" in by_bcss.stdout
    assert "onss-inspection" in by_bcss.stdout
    assert "MSG00000" in by_bcss.stdout
    assert "consultCareerResponse" in by_bcss.stdout  # the response XML is there
    assert ticket_cbss in by_client.stdout
    found = cli(config, "audit", "find", "--client", "onss-inspection", "--code", "MSG00000")
    assert ticket_cbss in found.stdout
    assert cli(config, "audit", "show", "no-such-ticket").returncode == 1


def test_metrics_after_a_few_requests(
    as_client: CallerFactory, gateway: Server, pki: DevPki
) -> None:
    admin = gateway.urls["admin"]
    before = metric(admin, "seg_requests_total", operation="consultCareer", outcome="MSG00000")
    failures_before = metric(admin, "seg_tls_handshake_failures_total")
    stored_before = metric(admin, "seg_audit_commit_exchanges_sum")
    for _ in range(3):
        as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159"))
    rogue = ssl.create_default_context(cafile=str(pki.ca.cert))
    rogue.load_cert_chain(str(pki.rogue.cert), str(pki.rogue.key))
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=rogue) as client:
        client.post(gateway.urls["soap"], content=b"x")
    time.sleep(0.2)
    after = metric(admin, "seg_requests_total", operation="consultCareer", outcome="MSG00000")
    assert after - before == 3
    assert metric(admin, "seg_tls_handshake_failures_total") - failures_before >= 1
    assert (
        metric(
            admin,
            "seg_supplier_call_duration_seconds_count",
            phase="final",
            operation="consultCareer",
            outcome="FOUND",
        )
        >= 3
    )
    assert metric(admin, "seg_requests_in_flight") == 0
    assert metric(admin, "seg_audit_write_failures_total") == 0
    # Group commit: the three exchanges (and the refused handshake's none) were stored.
    assert metric(admin, "seg_audit_commit_exchanges_sum") - stored_before == 3
    text = httpx.get(admin + "/metrics").text
    assert "seg_request_duration_seconds_bucket" in text


def test_logs_are_json_and_never_show_a_niss(as_client: CallerFactory, gateway: Server) -> None:
    """One JSON line per exchange; no NISS in clear anywhere in the gateway's output."""
    as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "72060120261"))
    as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "93030322213"))  # fault
    time.sleep(0.3)
    output = "".join(gateway.output)
    assert re.search(r"(?<![0-9])(72060120261|93030322213|65031510159)(?![0-9])", output) is None
    exchanges = [
        json.loads(line)
        for line in gateway.output
        if line.startswith("{") and '"message": "exchange"' in line
    ]
    assert exchanges
    assert {
        "ticketCBSS",
        "clientTicket",
        "client",
        "operation",
        "outcome",
        "duration_ms",
        "supplier_ms",
    } <= set(exchanges[-1])


@pytest.fixture
def reloadable(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> Iterator[tuple[Server, Path, Path, dict[str, dict[str, object]]]]:
    dataset = tmp_path / "dataset.json"
    dataset.write_bytes(DATASET.read_bytes())
    config = gateway_config(pki, simulator.urls["simulator"], dataset, tmp_path / "audit.db")
    path = write_config(tmp_path / "gateway.toml", config)
    server = start(path, "serve", env={"SEG_LOG_LEVEL": "info"})
    yield server, dataset, path, config
    server.stop()


def test_sighup_reloads_annex_and_refuses_a_bad_one(
    reloadable: tuple[Server, Path, Path, dict[str, dict[str, object]]], pki: DevPki
) -> None:
    server, dataset, _, _ = reloadable
    callers = CallerFactory(pki, server.urls["soap"])

    def riziv_filters() -> list[str] | None:
        element = payload(
            callers("riziv-medical")
            .post(career_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159"))
            .content
        )
        assert status(element)["code"] == "MSG00000"
        found = element.find("dataFilters")
        return None if found is None else [e.text or "" for e in found]

    assert riziv_filters() is None
    raw = json.loads(dataset.read_text(encoding="utf-8"))
    for client in raw["clients"]:
        if client["id"] == "riziv-medical":
            client["filters"] = ["occupation"]
    dataset.write_text(json.dumps(raw), encoding="utf-8")
    sighup_and_wait(server, "applied")
    assert riziv_filters() == ["occupation"]

    dataset.write_text("{ not json", encoding="utf-8")
    sighup_and_wait(server, "refused")
    assert riziv_filters() == ["occupation"]  # the old configuration stays in force
    assert "configuration reload refused" in "".join(server.output)


def test_sighup_reloads_the_trust_store(
    reloadable: tuple[Server, Path, Path, dict[str, dict[str, object]]], pki: DevPki
) -> None:
    """A CA added to tls.client_ca is trusted after SIGHUP (the rogue client then reaches
    the gateway, which does not know it: MSG00015)."""
    server, _, path, config = reloadable
    rogue = ssl.create_default_context(cafile=str(pki.ca.cert))
    rogue.load_cert_chain(str(pki.rogue.cert), str(pki.rogue.key))
    body = career_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159")
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=rogue) as client:
        client.post(server.urls["soap"], content=body)
    config["tls"]["client_ca"] = [str(pki.ca.cert), str(pki.rogue_ca.cert)]
    write_config(path, config)
    sighup_and_wait(server, "applied")
    with httpx.Client(verify=rogue) as client:
        response = client.post(server.urls["soap"], content=body)
    assert response.status_code == 500
    assert b"MSG00015" in response.content
