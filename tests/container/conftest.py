"""The container suite: the image of docker/Dockerfile, run as ops run it (issue #15).

`make test-container` runs it (`.ci/run` after `make test`). The session builds the image
first with docker/build-image (`make image`; Docker's cache makes a rebuild of unchanged code
a few seconds), then starts the INASTI simulator and the gateway as containers on the host
network, listening on free ports of 127.0.0.1, with the development PKI of a temporary folder
mounted file by file, read-only, as docker/compose.yaml does.

Where no Docker daemon runs, every test here is skipped with the reason, and the summary
says that the container suite did not run: skipped is not passed. SEG_CONTAINER_REQUIRED=1
(set by .ci/run) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx
import pytest

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.devpki import DevPki, ensure_dev_pki
from selfemployed_gateway.devsecrets import audit_key_files
from tests.support.docker import (
    Container,
    DockerUnavailable,
    Mount,
    check_docker,
    docker,
    run,
    wait_until,
)
from tests.support.paths import PROJECT
from tests.support.ports import free_port

IMAGE = os.environ.get("SEG_TEST_IMAGE", "selfemployed-gateway:dev")
REQUIRED = os.environ.get("SEG_CONTAINER_REQUIRED") == "1"
DATASET = PROJECT / "config" / "reference-dataset.json"
# The image's own paths (docker/gateway.toml): the suite mounts at them, as compose does.
PKI = PurePosixPath("/app/pki")
SECRETS = PurePosixPath("/run/secrets")
VAR = PurePosixPath("/app/var")
# The gateway's and the simulator's clocks, frozen as in tests/e2e (date rules reproducible).
FROZEN_NOW = "2026-11-26T10:00:00+01:00"
UID = 10001  # USER of docker/Dockerfile

_unavailable: list[str] = []
_image_size: list[int] = []


# The image is built in the setup of the first test that needs it: from an empty Docker (a
# clean CI machine: Debian base by mmdebstrap, then pip) that took over the per-test 120 s.
# That one test gets the build's own bound on top; every other keeps pytest's.
IMAGE_BUILD_SECONDS = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip (or, if required, fail) the whole suite when no Docker daemon answers; give the
    test that builds the image the time of the build."""
    ours = [item for item in items if "tests/container" in str(item.path)]
    builds = next((i for i in ours if "image" in getattr(i, "fixturenames", ())), None)
    if builds is not None:
        builds.add_marker(pytest.mark.timeout(IMAGE_BUILD_SECONDS + 120))
    try:
        check_docker()
    except DockerUnavailable as why:
        if REQUIRED:
            raise pytest.UsageError(f"container suite required, but {why}") from None
        _unavailable.append(str(why))
        marker = pytest.mark.skip(reason=f"container suite not run: {why}")
        for item in items:
            if "tests/container" in str(item.path):
                item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _unavailable:
        terminalreporter.write_line(
            f"CONTAINER SUITE NOT RUN (not passed): {_unavailable[0]}", red=True, bold=True
        )
    if _image_size:
        terminalreporter.write_line(f"image {IMAGE}: {_image_size[0] / 1e6:.0f} MB")


@pytest.fixture(scope="session")
def image() -> str:
    """The image, built from this checkout (docker/build-image) once per session."""
    subprocess.run(
        [str(PROJECT / "docker" / "build-image")],
        check=True,
        timeout=IMAGE_BUILD_SECONDS,
        env={
            **os.environ,
            "IMAGE": IMAGE,
        },
    )
    _image_size.append(int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE)))
    return IMAGE


@dataclass(frozen=True)
class Deployment:
    """What the host gives the containers: a PKI, one file per mount, and a state folder."""

    pki: DevPki
    mounts: Path  # readable by the image's uid: copies of what the containers need

    def file(self, path: Path, target: PurePosixPath) -> Mount:
        copy = self.mounts / target.name
        shutil.copyfile(path, copy)
        copy.chmod(0o644)  # the test PKI's keys, for uid 10001: never a real key
        return Mount(copy, target)

    def state_folder(self) -> Path:
        """A host folder for /app/var, writable by the image's uid."""
        folder = Path(tempfile.mkdtemp(prefix="var-", dir=self.mounts))
        if os.geteuid() == 0:
            os.chown(folder, UID, UID)
        else:
            folder.chmod(0o777)
        return folder

    def gateway_mounts(self, var: Path) -> list[Mount]:
        encryption, ssin_hash = audit_key_files(self.pki.root)
        return [
            self.file(self.pki.server.cert, PKI / "server.crt"),
            self.file(self.pki.server.key, PKI / "server.key"),
            self.file(self.pki.ca.cert, PKI / "ca.crt"),
            self.file(self.pki.bindings, PKI / "client-bindings.toml"),
            self.file(self.pki.gateway_client.cert, PKI / "gateway-client.crt"),
            self.file(self.pki.gateway_client.key, PKI / "gateway-client.key"),
            self.file(encryption, SECRETS / "audit-encryption-key"),
            self.file(ssin_hash, SECRETS / "audit-ssin-hash-key"),
            Mount(var, VAR, read_only=False),
        ]

    def simulator_mounts(self) -> list[Mount]:
        return [
            self.file(self.pki.inasti.cert, PKI / "inasti.crt"),
            self.file(self.pki.inasti.key, PKI / "inasti.key"),
            self.file(self.pki.ca.cert, PKI / "ca.crt"),
        ]


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="seg-container-"))
    try:
        clients = [client.id for client in load_dataset(DATASET).clients]
        pki = ensure_dev_pki(root / "pki", clients)
        mounts = root / "mounts"
        mounts.mkdir()
        for folder in (root, mounts):
            folder.chmod(0o755)  # the container's uid traverses them to its mounts
        yield Deployment(pki, mounts)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Running:
    """A started container and the loopback URLs it listens on."""

    container: Container
    soap: str = ""
    admin: str = ""
    supplier: str = ""
    var: Path | None = None


def start_simulator(image: str, deployment: Deployment, latency_ms: int = 0) -> Running:
    """The INASTI simulator (simulate-inasti), HTTPS with the gateway's certificate required."""
    port = free_port()
    container = run(
        image,
        ["simulate-inasti"],
        environment={
            "SEG_SIMULATOR_HOST": "127.0.0.1",
            "SEG_SIMULATOR_PORT": str(port),
            "SEG_SIMULATOR_CLOCK": FROZEN_NOW,
            "SEG_SIMULATOR_LATENCY_MS": str(latency_ms),
        },
        mounts=deployment.simulator_mounts(),
        healthcheck=False,  # the image's check asks the gateway's admin port
        prefix="seg-test-simulator",
    )

    def accepts() -> bool:
        assert container.running(), container.logs()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    started(container, accepts, "the simulator container accepts connections")
    return Running(container, supplier=f"https://127.0.0.1:{port}")


def start_gateway(image: str, deployment: Deployment, simulator: Running) -> Running:
    """The gateway (serve) with the image's own configuration and only SEG_ overrides."""
    soap, admin = free_port(), free_port()
    var = deployment.state_folder()
    container = run(
        image,
        ["serve"],
        environment={
            "SEG_LISTEN_HOST": "127.0.0.1",
            "SEG_LISTEN_PORT": str(soap),
            "SEG_ADMIN_HOST": "127.0.0.1",
            "SEG_ADMIN_PORT": str(admin),
            "SEG_CLOCK": FROZEN_NOW,
            "SEG_SUPPLIER_URL": simulator.supplier + "/inasti/SelfEmployedService",
            "SEG_SUPPLIER_L302_URL": simulator.supplier + "/inasti/L302",
            # Tests open a connection per call, faster than any institution reconnects.
            "SEG_NEW_CONNECTIONS_PER_PEER": "1000",
        },
        mounts=deployment.gateway_mounts(var),
        prefix="seg-test-gateway",
    )
    admin_url = f"http://127.0.0.1:{admin}"

    def healthy() -> bool:
        assert container.running(), container.logs()
        try:
            return httpx.get(admin_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    started(container, healthy, "the gateway container answers /healthz")
    return Running(
        container,
        soap=f"https://127.0.0.1:{soap}/SelfEmployedService/v2/consult",
        admin=admin_url,
        var=var,
    )


def started(container: Container, ready: Callable[[], bool], what: str) -> None:
    """Wait for `ready`; a container that never gets there is removed, its log shown."""
    try:
        wait_until(ready, 60, what)
    except BaseException:
        logs = container.logs()
        container.remove()
        raise AssertionError(f"{what}: no. Its log:\n{logs[-4000:]}") from None


@pytest.fixture(scope="session")
def simulator(image: str, deployment: Deployment) -> Iterator[Running]:
    running = start_simulator(image, deployment)
    yield running
    running.container.remove()


@pytest.fixture(scope="session")
def gateway(image: str, deployment: Deployment, simulator: Running) -> Iterator[Running]:
    running = start_gateway(image, deployment, simulator)
    yield running
    running.container.remove()
