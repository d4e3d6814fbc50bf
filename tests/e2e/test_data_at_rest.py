"""Personal data at rest in the running gateway's audit trail (issue #13, R-73).

Before: var/audit.sqlite3 (and -wal, -shm) were 0644 in a 0755 folder and every row held the
NISS in the stored XML; retention happened only when somebody ran `audit purge`.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import FROZEN_NOW, gateway_config, tls_context
from tests.support.admin import audit_path, metric
from tests.support.paths import PROJECT
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, payload, status

ONSS = customer(sector=21, institution=0, ticket="at-rest")
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
PERSON = "65031510159"
OTHER = "72060120261"


def audit_command(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "selfemployed_gateway.cli",
            "--config",
            str(config),
            "audit",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
    )


def old_exchange(days: int) -> ExchangeRecord:
    received = datetime.fromisoformat(FROZEN_NOW) - timedelta(days=days)
    return ExchangeRecord(
        ticket_cbss=f"OLD-{days}",
        received=received,
        replied=received,
        outcome="MSG00000",
        duration_ms=1.0,
        request_xml=b"<old/>",
        response_xml=b"<old/>",
    )


def test_the_trail_is_sealed_private_searchable_by_person_and_kept_only_so_long(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    audit = tmp_path / "var" / "audit.sqlite3"
    before = SqliteAuditStore(audit)  # rows of an earlier run: one past retention, one not
    before.record(old_exchange(days=40))
    before.record(old_exchange(days=10))
    before.close()
    audit.chmod(0o644)
    config = gateway_config(pki, simulator.urls["simulator"], audit=audit)
    config["audit"]["retention_days"] = 30
    path = write_config(tmp_path / "gateway.toml", config)
    server = start(path, "serve")
    try:
        url, admin = server.urls["soap"], server.urls["admin"]
        tickets: dict[str, list[str]] = {PERSON: [], OTHER: []}
        with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=10) as client:
            for ssin in (PERSON, OTHER, PERSON):
                response = client.post(url, content=career_request(ONSS, CONTEXT, ssin))
                element = payload(response.content)
                assert status(element)["code"] == "MSG00000"
                tickets[ssin].append(str(element.findtext("informationCBSS/ticketCBSS")))
            # A NISS with a wrong checksum is in the trail too, sealed like the rest.
            client.post(url, content=career_request(ONSS, CONTEXT, "65031510158"))
            # The caller's free texts are stored in clear: a NISS in them only as its tag.
            noted = customer(sector=21, institution=0, ticket="dossier 65.03.15-101.59")
            client.post(url, content=career_request(noted, CONTEXT, OTHER))
        # Retention ran at start-up, by the gateway's clock: the 40-day-old row is gone.
        assert metric(admin, "seg_audit_purged_total") == 1
        assert "audit retention applied" in "".join(server.output)
    finally:
        server.stop()
    assert audit_path(server) == audit

    # Sealed: no NISS, no message text in any file of the trail.
    files = [audit, audit.with_name("audit.sqlite3-wal"), audit.with_name("audit.sqlite3-shm")]
    for member in files:
        if member.exists():
            data = member.read_bytes()
            for secret in (PERSON, OTHER, "65031510158", "65.03.15-101.59"):
                assert secret.encode() not in data, member
            assert b"consultCareerRequest" not in data, member
            assert stat.S_IMODE(member.stat().st_mode) == 0o600, member
    assert stat.S_IMODE(audit.parent.stat().st_mode) == 0o700

    # Who consulted this person: found without opening anything; show opens.
    found = audit_command(path, "find", "--ssin", PERSON)
    assert found.returncode == 0, found.stderr
    rows = [line.split("\t") for line in found.stdout.splitlines()]
    assert sorted(row[1] for row in rows) == sorted(tickets[PERSON])
    assert {(row[3], row[4], row[5], row[6]) for row in rows} == {
        ("onss-inspection", "consultCareer", CONTEXT, "MSG00000")
    }
    assert [row[2] for row in rows] == ["at-rest", "at-rest"]
    shown = audit_command(path, "show", tickets[OTHER][0])
    assert shown.returncode == 0, shown.stderr
    assert f"<ssin>{OTHER}</ssin>" in shown.stdout
    remaining = audit_command(path, "find", "--limit", "100").stdout
    assert "OLD-10" in remaining and "OLD-40" not in remaining
