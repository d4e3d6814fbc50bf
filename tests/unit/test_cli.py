"""The console script refuses an invalid configuration with an actionable message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.conftest import PROJECT


def python(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def run(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return python("-m", "selfemployed_gateway.cli", *arguments, env=env)


def test_invalid_configuration_stops_start_up(tmp_path: Path) -> None:
    result = run(
        "--config",
        str(PROJECT / "config" / "gateway.toml"),
        "serve",
        env={"SEG_SUPPLIER_TIMEOUT": "soon"},
    )
    assert result.returncode == 2
    assert "[supplier.timeout_seconds] (from SEG_SUPPLIER_TIMEOUT)" in result.stderr
    assert "gateway.toml" in result.stderr


def test_missing_certificates_stop_start_up_naming_the_file(tmp_path: Path) -> None:
    result = run(
        "--config",
        str(PROJECT / "config" / "gateway.toml"),
        "serve",
        env={"SEG_TLS_CERTIFICATE": str(tmp_path / "nowhere.crt")},
    )
    assert result.returncode == 2
    assert "nowhere.crt" in result.stderr


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "simulate-inasti", "dev", "dev-pki"):
        assert command in result.stdout


def test_check_config_names_limit_problems(tmp_path: Path) -> None:
    """R-28: a share larger than the gateway's is refused; an override for a client the annex
    does not have is reported by check-config."""
    config = (PROJECT / "config" / "gateway.toml").read_text()
    config = config.replace(
        "[limits]\n", "[limits.clients.nobody-we-know]\nin_flight = 4\n\n[limits]\n"
    )
    assert "[limits.clients.nobody-we-know]" in config
    path = tmp_path / "gateway.toml"
    # Paths in the file are relative to its folder: point them back at the project's.
    path.write_text(
        config.replace('"../', f'"{PROJECT}/')
        .replace('= "reference', f'= "{PROJECT}/config/reference')
        .replace('= "l302', f'= "{PROJECT}/config/l302')
    )
    checked = run("--config", str(path), "check-config")
    assert (
        "limits.clients.nobody-we-know: no client 'nobody-we-know' in the annex" in checked.stdout
    )
    assert checked.returncode == 1
    too_big = run(
        "--config",
        str(PROJECT / "config" / "gateway.toml"),
        "check-config",
        env={"SEG_LIMIT_CLIENT_IN_FLIGHT": "500"},
    )
    assert too_big.returncode == 1
    assert "exceeds gateway_in_flight" in too_big.stdout + too_big.stderr


def test_start_up_objects_leave_the_cyclic_collector() -> None:
    """Issue #17: what start-up built is frozen, so full collections skip it."""
    code = (
        "import gc; from selfemployed_gateway import cli; before = gc.get_freeze_count(); "
        "cli._freeze_start_up_objects(); print(before, gc.get_freeze_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = map(int, result.stdout.split())
    assert before == 0
    assert after > 10_000  # the modules of the gateway alone hold tens of thousands


def test_the_simulator_alone_runs_on_twisted_default_reactor_the_gateway_on_asyncio() -> None:
    """issue #17: `simulate-inasti` awaits nothing of asyncio, and Twisted's own reactor costs
    it less CPU per call; `serve` and `dev` await httpx on asyncio's loop."""
    script = (
        "import sys; from selfemployed_gateway import cli; "
        "reactor = (cli._simulator_reactor if sys.argv[1] == 'simulator' else cli._reactor)(); "
        "print(type(reactor).__name__)"
    )
    names = {
        which: python("-c", script, which).stdout.strip() for which in ("simulator", "gateway")
    }
    assert names == {"simulator": "EPollReactor", "gateway": "AsyncioSelectorReactor"}
