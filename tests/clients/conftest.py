"""The client suite: examples/clients/<stack> built and run against a real gateway (issue #16).

`make test-clients` runs it (`.ci/run` after `make test`). The gateway and the INASTI
simulator are those of tests/e2e (real mutual TLS on free loopback ports, a temporary
development PKI, clocks frozen at 2026-11-26). Each stack's folder is copied to a temporary
folder, built there with its own `build` script when it has one, and its `consult` program is
run with the environment of examples/clients/README.md; its output is parsed into `Printed`.

A stack whose tools are missing (and that `.ci/run` could not install) is skipped with the
reason, and the summary lists it as NOT RUN: skipped is not passed. SEG_CLIENTS_REQUIRED=1
(set by .ci/run) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from selfemployed_gateway.devpki import PKCS12_PASSWORD, DevPki
from tests.e2e.conftest import gateway as gateway
from tests.e2e.conftest import pki, simulator  # noqa: F401  (fixtures)
from tests.support.paths import PROJECT
from tests.support.processes import Server

CLIENTS = PROJECT / "examples" / "clients"
REQUIRED = os.environ.get("SEG_CLIENTS_REQUIRED") == "1"
# What each stack needs on PATH, and the Debian or npm package that brings it.
TOOLS: dict[str, dict[str, str]] = {
    "java": {
        "java": "default-jdk-headless",
        "javac": "default-jdk-headless",
        "keytool": "default-jdk-headless",
        "wsimport": "jaxws",
        "curl": "curl",  # build reads the served WSDL with the client's certificate
    },
    "node": {"node": "nodejs", "npm": "npm"},
    "php": {"php": "php-cli"},
    "python": {},
}
BUILD_TIMEOUT = 600.0
RUN_TIMEOUT = 120.0

_not_run: dict[str, str] = {}


def missing_tools(stack: str) -> list[str]:
    missing = [tool for tool in TOOLS[stack] if shutil.which(tool) is None]
    if stack == "php" and not missing:
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
        if "soap" not in modules.stdout.split():
            missing.append("php's soap module (php-soap)")
    return missing


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for stack, why in sorted(_not_run.items()):
        terminalreporter.write_line(
            f"CLIENT STACK {stack} NOT RUN (not passed): {why}", red=True, bold=True
        )


@dataclass(frozen=True)
class Caller:
    """Who calls: a client of the annex, its identification and legal context."""

    client_id: str
    legal_context: str
    cbe: str | None = None
    sector: int | None = None
    institution: int | None = None


CPAS = Caller("cpas-namur", "PCSA:SOCIAL_INQUIRY", cbe="0212345668")
ONSS = Caller("onss-inspection", "SOCIAL_INSPECTION:INVESTIGATION", sector=21, institution=0)
STRANGER = Caller("stranger", "PCSA:SOCIAL_INQUIRY", cbe="0212345668")


@dataclass
class Printed:
    """What a `consult` program printed, by line name (examples/clients/README.md)."""

    exit_code: int
    lines: list[tuple[str, str]]
    stderr: str
    values: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.lines:
            self.values.setdefault(name, []).append(value)

    def one(self, name: str) -> str:
        found = self.values.get(name, [])
        assert len(found) == 1, f"{name}: {found}\n{self.text()}"
        return found[0]

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def text(self) -> str:
        printed = "\n".join(f"{name}: {value}" for name, value in self.lines)
        return f"exit {self.exit_code}\n{printed}\nstderr:\n{self.stderr[-3000:]}"


def parse(stdout: str) -> list[tuple[str, str]]:
    lines = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        name, separator, value = line.partition(": ")
        assert separator, f"not a 'name: value' line: {line!r}"
        lines.append((name, value))
    return lines


@dataclass(frozen=True)
class Stack:
    """One example client, built in `folder` (a copy of examples/clients/<name>)."""

    name: str
    folder: Path
    pki: DevPki
    wsdl_url: str

    def environment(self, caller: Caller) -> dict[str, str]:
        pair = self.pki.clients[caller.client_id]
        environment = {
            "SEG_WSDL_URL": self.wsdl_url,
            "SEG_CA_FILE": str(self.pki.ca.cert),
            "SEG_CLIENT_CERT_FILE": str(pair.cert),
            "SEG_CLIENT_KEY_FILE": str(pair.key),
            "SEG_CLIENT_P12_FILE": str(self.pki.pkcs12(caller.client_id)),
            "SEG_CLIENT_P12_PASSWORD": PKCS12_PASSWORD,
            "SEG_LEGAL_CONTEXT": caller.legal_context,
        }
        if caller.cbe is not None:
            environment["SEG_CUSTOMER_CBE"] = caller.cbe
        else:
            environment["SEG_CUSTOMER_SECTOR"] = str(caller.sector)
            environment["SEG_CUSTOMER_INSTITUTION"] = str(caller.institution)
        return environment

    def consult(self, caller: Caller, *arguments: str) -> Printed:
        done = subprocess.run(
            ["./consult", *arguments],
            cwd=self.folder,
            env=clean_environment(self.environment(caller)),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        return Printed(done.returncode, parse(done.stdout), done.stderr)


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without the machine's CA overrides (REQUESTS_CA_BUNDLE,
    SSL_CERT_FILE, NODE_EXTRA_CA_CERTS…): each example must trust SEG_CA_FILE by itself."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith(("CA_BUNDLE", "CA_CERTS", "CERT_FILE", "CERT_DIR", "_CAINFO"))
        and not name.startswith(("PIP_", "SEG_"))
    }
    # The Python example runs on the interpreter of the tests, which has zeep.
    kept["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{kept.get('PATH', '')}"
    return {**kept, **extra}


def left_behind(folder: str, names: list[str]) -> set[str]:
    """What a developer's checkout may hold and the copy must not: installed dependencies and
    build output (node_modules, Java's target; never the script `build`)."""
    return {
        name
        for name in names
        if name in ("node_modules", "target") and (Path(folder) / name).is_dir()
    }


def build(name: str, folder: Path, environment: Mapping[str, str]) -> None:
    """Copy examples/clients/<name> to `folder` and run its `build` script, if any, with the
    environment of `consult` (Java's build reads the served WSDL with the client's
    certificate)."""
    shutil.copytree(CLIENTS / name, folder, ignore=left_behind)
    script = folder / "build"
    if script.exists():
        done = subprocess.run(
            ["./build"],
            cwd=folder,
            env=clean_environment(environment),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{name}/build failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session", params=sorted(TOOLS))
def stack(
    request: pytest.FixtureRequest,
    pki: DevPki,  # noqa: F811
    gateway: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    name: str = request.param
    missing = missing_tools(name)
    if missing:
        why = "missing " + ", ".join(
            f"{tool} ({TOOLS[name].get(tool, 'Debian')})" for tool in missing
        )
        if REQUIRED:
            pytest.fail(f"client stack {name} required, but {why}")
        _not_run[name] = why
        pytest.skip(f"client stack {name} not run: {why}")
    folder = tmp_path_factory.mktemp(f"client-{name}") / name
    stack = Stack(name, folder, pki, gateway.urls["soap"] + "?wsdl")
    build(name, folder, stack.environment(CPAS))
    yield stack
