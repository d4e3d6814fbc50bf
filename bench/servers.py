"""Starting the servers under test as subprocesses on 127.0.0.1, and reading their RSS/CPU.

Like `tests/support/processes.py`: the real console script with a configuration written for
the run, waiting for its `{"event": "ready", …}` line. Output goes to a log file in the run's
temporary folder (the gateway writes one JSON line per exchange: a pipe nobody reads would
block it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import write_config  # the same TOML writer as the e2e tests

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.devpki import DevPki, ensure_dev_pki
from selfemployed_gateway.devsecrets import audit_key_files

PROJECT = Path(__file__).resolve().parents[1]
DATASET = PROJECT / "config" / "reference-dataset.json"
# The clock of the end-to-end tests: date rules give the same answers on every run.
FROZEN_NOW = "2026-11-26T10:00:00+01:00"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # our own child, by its pid
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def rss_kib(self) -> int:
        """VmRSS from /proc/<pid>/status, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.name} ({self.pid})")

    def pids(self) -> list[int]:
        """The process and its children (worker processes of `serve` with SEG_WORKERS)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [self.pid, *(int(c) for c in children)]

    def cpu_seconds(self) -> float:
        """utime + stime so far of the process and its children (all their threads)."""
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except FileNotFoundError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS


def start(
    name: str,
    argv: Sequence[str],
    folder: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    ready_lines: int = 1,
    cpus: frozenset[int] | None = None,
) -> Server:
    """Start `python ARGV` and wait for `ready_lines` ready lines (one per worker process:
    the workers of `serve` write to the same output). With `cpus`, the process (and what it
    forks) runs on those cores only; else on the cores of this process."""
    log = folder / f"{name}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    environment.update(env or {})

    def place() -> None:  # in the child, before exec: its workers inherit the placement
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=PROJECT,
            preexec_fn=place,  # the bench's own process has no threads when it starts one
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as handle:
            lines = [line for line in handle if line.startswith(b'{"event": "ready"')]
        if len(lines) >= ready_lines:
            ready = json.loads(lines[0])
            ready.pop("event")
            return Server(name, process, ready, log)
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(f"{name} did not start in {timeout}s:\n{log.read_text()[-3000:]}")


def make_pki(folder: Path) -> DevPki:
    clients = [client.id for client in load_dataset(DATASET).clients]
    return ensure_dev_pki(folder / "pki", clients)


def simulator_config() -> dict[str, dict[str, Any]]:
    # The simulator reads only the [simulator] section of a configuration file.
    return {"simulator": {"dataset": str(DATASET), "listen": {"host": "127.0.0.1", "port": 0}}}


def gateway_config(
    pki: DevPki,
    supplier_url: str,
    audit: Path,
    port: int = 0,
    supplier: Mapping[str, Any] | None = None,
    *,
    default_limits: bool = False,
) -> dict[str, dict[str, Any]]:
    """Production-like: responses not re-validated, info logs, supplier budget 5 s (default),
    SQLite audit; the frozen clock of the tests. Without `default_limits`, the shares and
    connection bounds are lifted for the throughput rows (one load generator = one peer and
    one client opening up to 100 connections: they measure the gateway, not its shares)."""
    config: dict[str, dict[str, Any]] = {
        "gateway": {
            "clock": FROZEN_NOW,
            "validate_responses": False,
            "listen": {"host": "127.0.0.1", "port": port},
        },
        "admin": {"listen": {"host": "127.0.0.1", "port": 0}},
        "tls": {
            "certificate": str(pki.server.cert),
            "private_key": str(pki.server.key),
            "client_ca": [str(pki.ca.cert)],
            "client_bindings": str(pki.bindings),
        },
        "supplier": {"url": supplier_url, **(supplier or {})},
        "data": {"dataset": str(DATASET)},
        "contract": {
            "wsdl": str(PROJECT / "wsdl" / "SelfEmployedV2.wsdl"),
            "xsd_dir": str(PROJECT / "xsd"),
        },
        "audit": {
            "backend": "sqlite",
            "sqlite_path": str(audit),
            "encryption_keys": [str(audit_key_files(pki.root)[0])],
            "ssin_hash_key_file": str(audit_key_files(pki.root)[1]),
        },
        "logging": {"level": "info"},
    }
    if not default_limits:
        config["gateway"]["max_connections_per_peer"] = 1024
        config["gateway"]["new_connections_per_peer_per_second"] = 100_000
        config["limits"] = {"client_in_flight": 256, "gateway_in_flight": 1024}
    return config


# The simulator stands for INASTI, whose servers are not on the gateway's cores: here it logs
# warnings only, since its line per call was a third of its CPU (py-spy, issue #17), taken from
# the cores the server under test shares with it (row 5).
SIMULATOR_LOG_LEVEL = "warning"


def start_simulator(folder: Path, name: str, latency_ms: int = 0) -> Server:
    config = write_config(folder / f"{name}.toml", simulator_config())
    env = {"SEG_SIMULATOR_CLOCK": FROZEN_NOW, "SEG_SIMULATOR_LATENCY_MS": str(latency_ms)}
    argv = ["-m", "selfemployed_gateway.cli", "--config", str(config)]
    return start(name, [*argv, "--log-level", SIMULATOR_LOG_LEVEL, "simulate-inasti"], folder, env)


def start_gateway(
    folder: Path,
    name: str,
    pki: DevPki,
    simulator: Server,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    supplier: Mapping[str, Any] | None = None,
    workers: int = 1,
    *,
    default_limits: bool = False,
    cpus: frozenset[int] | None = None,
) -> Server:
    config = write_config(
        folder / f"{name}.toml",
        gateway_config(
            pki,
            simulator.ready["simulator"],
            folder / f"{name}-audit.sqlite3",
            port,
            supplier,
            default_limits=default_limits,
        ),
    )
    environment = {**(env or {}), "SEG_WORKERS": str(workers)}
    argv = ["-m", "selfemployed_gateway.cli", "--config", str(config), "serve"]
    return start(name, argv, folder, environment, ready_lines=workers, cpus=cpus)


def start_bare(
    folder: Path,
    pki: DevPki,
    response: Path,
    *,
    cpus: frozenset[int] | None = None,
    supplier: tuple[str, Path, str] | None = None,
) -> Server:
    """The bare responder; with `supplier` (URL, request file, SOAP action) the bare proxy."""
    argv = ["-m", "bench.bare_server", "--cert", str(pki.server.cert)]
    argv += ["--key", str(pki.server.key), "--ca", str(pki.ca.cert), "--response", str(response)]
    if supplier is not None:
        url, request, action = supplier
        argv += ["--supplier", url, "--supplier-request", str(request), "--soap-action", action]
    return start("bare-proxy" if supplier else "bare", argv, folder, cpus=cpus)
