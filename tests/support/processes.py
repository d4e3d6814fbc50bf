"""Start the project's own servers as subprocesses for end-to-end tests.

Each server is the real console script (`python -m selfemployed_gateway.cli …`) with a
configuration written for the test, listening on port 0 of 127.0.0.1; it prints one JSON
line `{"event": "ready", …}` with its URLs, which is what we wait for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.paths import PROJECT


@dataclass
class Server:
    process: subprocess.Popen[str]
    urls: dict[str, str]
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s: a test's server never outlives it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start(
    config: Path, command: str, env: Mapping[str, str] | None = None, timeout: float = 30
) -> Server:
    """Run `selfemployed-gateway --config CONFIG COMMAND` and wait until it is ready."""
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "selfemployed_gateway.cli",
            "--config",
            str(config),
            command,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=PROJECT,
    )
    assert process.stdout is not None
    output: list[str] = []
    ready: dict[str, Any] = {}
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if not ready and line.startswith('{"event": "ready"'):
                ready.update(json.loads(line))
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not done.wait(0.1):
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{command} did not start in {timeout}s:\n{''.join(output)}")
    if not ready:
        process.wait(timeout=5)
        raise RuntimeError(f"{command} exited ({process.returncode}):\n{''.join(output)}")
    ready.pop("event")
    return Server(process, ready, output)


def write_config(path: Path, values: Mapping[str, Mapping[str, Any]]) -> Path:
    """A TOML configuration from nested sections (tables of scalars, lists, sub-tables)."""
    lines: list[str] = []

    def section(name: str, table: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in scalars.items())
        for key, value in table.items():
            if isinstance(value, Mapping):
                section(f"{name}.{key}", value)

    for name, table in values.items():
        section(name, table)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
