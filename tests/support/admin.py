"""A running gateway as end-to-end tests read it: its admin listener, its audit file."""

from __future__ import annotations

import signal
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

from selfemployed_gateway.audit.protection import AuditProtection
from selfemployed_gateway.settings import AuditSettings
from tests.support.processes import Server


def metric(admin: str, name: str, **labels: str) -> float:
    """The value of one series of `/metrics` (0 when absent)."""
    text = httpx.get(admin + "/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric_name, _, label_text = series.partition("{")
        found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if metric_name == name and found == wanted:
            return float(value)
    return 0.0


def sighup_and_wait(server: Server, result: str) -> None:
    """SIGHUP, then wait until the reload is counted with `result` (applied or refused)."""
    admin = server.urls["admin"]
    before = metric(admin, "seg_configuration_reloads_total", result=result)
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while metric(admin, "seg_configuration_reloads_total", result=result) == before:
        assert time.monotonic() < deadline, "".join(server.output)
        time.sleep(0.05)


def audit_path(server: Server) -> Path:
    """The SQLite audit file of a gateway started by tests.support.processes."""
    return Path(_config(server)["audit"]["sqlite_path"])


def audit_protection(server: Server) -> AuditProtection:
    """The keys of that gateway's trail, to open the messages it sealed."""
    return AuditProtection.from_settings(AuditSettings.model_validate(_config(server)["audit"]))


def _config(server: Server) -> dict[str, Any]:
    arguments = server.process.args
    assert isinstance(arguments, list)
    return tomllib.loads(Path(arguments[arguments.index("--config") + 1]).read_text())
