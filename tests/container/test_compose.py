"""docker/compose.yaml as the Compose programs read it (issue #15).

Debian ships Compose 1.29 (`docker-compose`), which rejects a top-level `name`; Compose v2
(`docker compose`) reads the same file. `config` resolves and validates the file against the
Compose schema without starting anything (no network is created).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from selfemployed_gateway.configuration import load_settings
from selfemployed_gateway.server.gateway import drain_seconds
from tests.support.paths import PROJECT

COMPOSE = PROJECT / "docker" / "compose.yaml"
SERVICES = {"simulator", "gateway"}
POSTGRESQL_PROFILE = {"postgres", "gateway-pg"}


def compose_programs() -> list[list[str]]:
    """The Compose programs of this machine: 1.29 and v2, each if it runs."""
    found: list[list[str]] = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if shutil.which("docker"):
        done = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if done.returncode == 0:
            found.append(["docker", "compose"])
    return found


def compose(program: list[str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*program, "--file", str(COMPOSE), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=PROJECT,
    )


def test_debian_compose_1_29_is_among_the_programs_checked() -> None:
    """`.ci/run` installs Debian's docker-compose: the check below must not be vacuous."""
    assert ["docker-compose"] in compose_programs(), "apt-get install docker-compose"
    version = subprocess.run(
        ["docker-compose", "version", "--short"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("1.29"), version.stdout


@pytest.mark.parametrize("program", compose_programs(), ids=" ".join)
@pytest.mark.parametrize("profile", [None, "postgresql"])
def test_compose_accepts_the_file(program: list[str], profile: str | None) -> None:
    profiles = ["--profile", profile] if profile else []
    checked = compose(program, *profiles, "config", "--quiet")
    assert checked.returncode == 0, checked.stderr
    services = compose(program, *profiles, "config", "--services")
    assert services.returncode == 0, services.stderr
    listed = set(services.stdout.split())
    if profile:
        assert listed == SERVICES | POSTGRESQL_PROFILE
    else:  # Compose 1.29 lists every service here, v2 the active ones only
        assert SERVICES <= listed <= SERVICES | POSTGRESQL_PROFILE


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as Compose 1.29 resolves it (anchors merged, paths absolute)."""
    done = compose(["docker-compose"], "--profile", "postgresql", "config")
    assert done.returncode == 0, done.stderr
    value = yaml.safe_load(done.stdout)
    assert isinstance(value, dict)
    return value


def test_no_top_level_name_the_project_name_comes_from_docker_env() -> None:
    assert "name" not in yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    environment = (PROJECT / "docker" / ".env").read_text(encoding="utf-8")
    assert "COMPOSE_PROJECT_NAME=selfemployed-gateway\n" in environment


def published(port: str | dict[str, Any]) -> tuple[str | None, int]:
    """(host address or None for all, container port) of Compose 1.29's short syntax or
    v2's long one."""
    if isinstance(port, dict):
        return port.get("host_ip"), int(port["target"])
    parts = port.split(":")
    return (parts[0] if len(parts) == 3 else None), int(parts[-1].split("/")[0])


def test_the_admin_port_is_published_on_127_0_0_1_only(resolved: dict[str, Any]) -> None:
    for name in ("gateway", "gateway-pg"):
        ports = [published(port) for port in resolved["services"][name]["ports"]]
        assert [host for host, target in ports if target == 9520] == ["127.0.0.1"], name
        assert [host for host, target in ports if target == 4520] == [None], name
    assert "ports" not in resolved["services"]["simulator"]


def test_the_audit_keys_are_secrets_never_volumes(resolved: dict[str, Any]) -> None:
    declared = resolved["secrets"]
    assert set(declared) == {"audit-encryption-key", "audit-ssin-hash-key"}
    for name in ("gateway", "gateway-pg"):
        service = resolved["services"][name]
        assert {secret["source"] for secret in service["secrets"]} == set(declared)
        mounted = " ".join(str(volume) for volume in service["volumes"])
        assert "audit-" not in mounted and "ca.key" not in mounted


def test_gateways_run_read_only_and_stop_after_their_drain(resolved: dict[str, Any]) -> None:
    """docker stop waits stop_grace_period before SIGKILL: longer than the SIGTERM drain."""
    drain = drain_seconds(load_settings(PROJECT / "docker" / "gateway.toml", environ={}))
    for name in ("gateway", "gateway-pg", "simulator"):
        service = resolved["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
    for name in ("gateway", "gateway-pg"):
        grace = resolved["services"][name]["stop_grace_period"]
        assert grace.endswith("s") and float(grace[:-1]) >= drain + 5, (name, grace)
