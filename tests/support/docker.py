"""The Docker CLI, for the container suite (tests/container): run, inspect, stop containers.

Only the CLI (`docker …` as a subprocess): the suite tests what ops type, and the project
needs no Docker SDK. Every container runs on the host network (`--network host`, with the
`SEG_*` port settings): this machine allows no bridge or private-range network, and the
suite listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

# A call to the CLI that takes longer than this is a broken daemon, not a slow test.
CLI_TIMEOUT = 120.0


class DockerUnavailable(Exception):
    """No Docker CLI, or no daemon answering it: why, in words a person can act on."""


def docker(*arguments: str, timeout: float = CLI_TIMEOUT, check: bool = True) -> str:
    """Run `docker ARGUMENTS` and return its standard output."""
    done = subprocess.run(
        ["docker", *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"docker {' '.join(arguments)} exited {done.returncode}:\n{done.stderr.strip()}"
        )
    return done.stdout


def check_docker() -> str:
    """The daemon's version; DockerUnavailable if the CLI or the daemon is missing."""
    if shutil.which("docker") is None:
        raise DockerUnavailable("no docker command (Debian: apt-get install docker.io)")
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise DockerUnavailable(f"no Docker daemon answers: {done.stderr.strip()}")
    return done.stdout.strip()


def image_exists(image: str) -> bool:
    return bool(docker("images", "--quiet", image).strip())


@dataclass(frozen=True)
class Mount:
    """A bind mount: a host file or folder at a path of the container."""

    source: Path
    target: PurePosixPath
    read_only: bool = True

    def argument(self) -> str:
        value = f"type=bind,source={self.source},target={self.target}"
        return value + (",readonly" if self.read_only else "")


@dataclass
class Container:
    """One container started by `run`; `remove` when done (the fixtures do)."""

    name: str

    def inspect(self) -> dict[str, Any]:
        found = json.loads(docker("inspect", self.name))
        assert isinstance(found, list) and len(found) == 1
        value = found[0]
        assert isinstance(value, dict)
        return value

    def running(self) -> bool:
        return bool(self.inspect()["State"]["Running"])

    def exec(self, *command: str, check: bool = True) -> str:
        return docker("exec", self.name, *command, check=check)

    def logs(self) -> str:
        done = subprocess.run(
            ["docker", "logs", self.name],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        return done.stdout + done.stderr

    def signal(self, name: str) -> None:
        docker("kill", "--signal", name, self.name)

    def wait(self, timeout: float) -> int:
        """The exit code, once the container has stopped (at most `timeout` seconds)."""
        return int(docker("wait", self.name, timeout=timeout).strip())

    def remove(self) -> None:
        docker("rm", "--force", "--volumes", self.name, check=False)


def run(
    image: str,
    command: Sequence[str],
    *,
    environment: Mapping[str, str],
    mounts: Sequence[Mount] = (),
    read_only: bool = True,
    healthcheck: bool = True,
    prefix: str = "seg-test",
) -> Container:
    """`docker run --detach` on the host network, read-only root filesystem by default."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    arguments = ["run", "--detach", "--name", name, "--network", "host"]
    if read_only:
        arguments.append("--read-only")
    if not healthcheck:
        arguments.append("--no-healthcheck")
    for key, value in environment.items():
        arguments += ["--env", f"{key}={value}"]
    for mount in mounts:
        arguments += ["--mount", mount.argument()]
    docker(*arguments, image, *command)
    return Container(name)


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll `predicate()` until it is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s")
