"""The running gateway on PostgreSQL registers (issue #14, R-16 … R-21).

`registry init` and `registry load` fill the database from the reference dataset; the gateway
reads it for every exchange, so a repertory change another system commits is in force for the
next call, without a restart or a SIGHUP.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import psycopg

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import gateway_config, tls_context
from tests.support.paths import PROJECT
from tests.support.postgres import postgresql_dsn_fixture  # noqa: F401  (session fixture)
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, payload, status

FAMIFUND = customer(sector=7, institution=2, ticket="registry")
CONTEXT = "FAMILY_ALLOWANCES:ENTITLEMENT"
PERSON = "77070745630"  # known to INASTI, not to famifund-east


def registry_command(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "selfemployed_gateway.cli", "--config", str(config)]
    return subprocess.run(
        [*command, "registry", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
    )


def test_a_repertory_change_is_in_force_without_a_restart(
    pki: DevPki, simulator: Server, tmp_path: Path, postgresql_dsn: str
) -> None:
    with psycopg.connect(postgresql_dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS registry_person, registry_integration")
    config = gateway_config(pki, simulator.urls["simulator"], audit=tmp_path / "a.sqlite3")
    config["registry"] = {"backend": "postgresql", "postgresql_dsn": postgresql_dsn}
    path = write_config(tmp_path / "gateway.toml", config)
    initialised = registry_command(path, "init")
    assert initialised.returncode == 0, initialised.stderr
    loaded = registry_command(path, "load")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("registry loaded: ")
    server = start(path, "serve")
    try:
        with httpx.Client(verify=tls_context(pki, "famifund-east"), timeout=10) as client:

            def consult() -> str:
                request = career_request(FAMIFUND, CONTEXT, PERSON)
                answer = client.post(server.urls["soap"], content=request)
                return str(status(payload(answer.content))["code"])

            before = consult()
            with psycopg.connect(postgresql_dsn, autocommit=True) as other:
                other.execute(
                    "INSERT INTO registry_integration VALUES (%s, 'famifund-east', 8, "
                    "'2000-01-01', NULL)",
                    (PERSON,),
                )
            after = consult()
            with psycopg.connect(postgresql_dsn, autocommit=True) as other:
                other.execute(
                    "DELETE FROM registry_integration WHERE ssin = %s AND holder = 'famifund-east'",
                    (PERSON,),
                )
            removed = consult()
        ready = httpx.get(server.urls["admin"] + "/readyz").json()
    finally:
        server.stop()
    assert (before, after, removed) == ("MSG00012", "MSG00000", "MSG00012")
    assert ready["status"] == "ready" and ready["registry"] == "reachable"  # checked, not assumed
