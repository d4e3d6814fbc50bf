"""The image itself: what it holds, who it runs as, where it may write (issue #15).

Read from the image's exported filesystem (`docker create` + `docker export`), the way an
auditor of a registry would, not from the Dockerfile.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from selfemployed_gateway.devpki import ensure_dev_pki
from tests.container.conftest import UID
from tests.support.docker import docker

# A PEM private-key block, also inside source code ("\\n" escapes): a key only if it loads
# (the markers alone are string constants of libgnutls or of cryptography's code).
PEM_BLOCK = re.compile(
    rb"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----.{0,20000}?-----END \1-----", re.S
)
# What must never be in the released image: the project's tests and tools, local state,
# the development PKI and any key file, the build's CA bundle. Anywhere in the image:
ANYWHERE = re.compile(r"(^|/)(\.git|\.venv|build-trust|\.ci)(/|$)|(^|/)var/pki(/|$)|\.key$")
# At the root, in /app or beside the installed package (not in Debian's doc examples):
PROJECT_ONLY = re.compile(
    r"^(app/|opt/venv/lib/python3\.\d+/site-packages/)?"
    r"(tests|bench|examples|docs|deploy|docker)(/|$)"
)
# Compiled libraries are not scanned: libgnutls (of apt, in every Debian) embeds the GOST test
# vector of its self-tests, a published key that protects nothing.
ELF = b"\x7fELF"
APP_CONTENT = {"config", "wsdl", "xsd", "pki", "var"}


def exported(image: str) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    """Every member of the image's filesystem, with a reader for regular files."""
    name = docker("create", image).strip()
    try:
        with subprocess.Popen(["docker", "export", name], stdout=subprocess.PIPE) as export:
            assert export.stdout is not None
            with tarfile.open(fileobj=export.stdout, mode="r|") as archive:
                for member in archive:
                    reader = archive.extractfile(member) if member.isfile() else None
                    yield member, reader
    finally:
        docker("rm", "--force", name, check=False)


@pytest.fixture(scope="module")
def filesystem(image: str) -> dict[str, bytes | None]:
    """Path -> content of files that could hold a secret (text, up to 4 MB), None for others."""
    found: dict[str, bytes | None] = {}
    for member, reader in exported(image):
        path = member.name.lstrip("./")
        content = None
        if reader is not None and member.size <= 4_000_000:
            content = reader.read()
        found[path] = content
    return found


def private_keys(content: bytes) -> int:
    """How many PEM private keys `content` holds: blocks that load as keys."""
    found = 0
    for block in PEM_BLOCK.finditer(content):
        text = block.group(0).replace(b"\\n", b"\n")
        try:
            serialization.load_pem_private_key(text, password=None)
        except (TypeError, UnsupportedAlgorithm):
            found += 1  # encrypted, or of an algorithm we do not load: a key all the same
        except ValueError:
            continue  # not a key: a template or a marker
        else:
            found += 1
    return found


def test_the_key_finder_finds_keys_also_in_source_code(tmp_path: Path) -> None:
    """The check below can fail: a development key, as a file and as a Python string."""
    pki = ensure_dev_pki(tmp_path / "pki", ["cpas-namur"])
    key = pki.server.key.read_bytes()
    assert private_keys(key) == 1
    assert private_keys(b'KEY = b"""' + key.replace(b"\n", b"\\n") + b'"""') == 1
    assert private_keys(b"-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----") == 0


def test_the_image_holds_no_private_key(filesystem: dict[str, bytes | None]) -> None:
    """Neither ours (development PKI, audit keys) nor a dependency's test key."""
    keys = [
        path
        for path, content in filesystem.items()
        if content and not content.startswith(ELF) and private_keys(content)
    ]
    assert keys == []
    assert len(filesystem) > 1000  # the export was read: a broken stream finds nothing


def test_the_image_holds_no_test_or_development_file(
    filesystem: dict[str, bytes | None],
) -> None:
    forbidden = sorted(
        path for path in filesystem if ANYWHERE.search(path) or PROJECT_ONLY.match(path)
    )
    assert forbidden == []
    assert not any(path == "src" or path.startswith("src/") for path in filesystem)
    app = {PurePosixPath(path).parts[1] for path in filesystem if path.startswith("app/")}
    assert app == APP_CONTENT
    assert not any(path.startswith(("app/pki/", "app/var/")) for path in filesystem)
    packaged = [path for path in filesystem if "/site-packages/selfemployed_gateway/" in path]
    assert any(path.endswith("server/gateway.py") for path in packaged)
    assert not any("/test" in path.split("selfemployed_gateway/")[1] for path in packaged)


def test_the_build_ca_bundle_stays_out_of_the_image(
    filesystem: dict[str, bytes | None],
) -> None:
    """The build stage's pip trust (docker/build-trust) is never in the released image."""
    assert not any(path.startswith("tmp/build-trust") for path in filesystem)
    assert "opt/venv/bin/pip" not in filesystem  # removed: a gateway never installs


def test_the_image_runs_as_uid_10001_and_declares_its_writable_paths(image: str) -> None:
    user = docker("image", "inspect", "--format", "{{.Config.User}}", image).strip()
    assert user == f"{UID}:{UID}"
    volumes = docker("image", "inspect", "--format", "{{json .Config.Volumes}}", image)
    assert set(re.findall(r'"(/[^"]+)"', volumes)) == {"/app/config", "/app/pki", "/app/var"}
    entrypoint = docker("image", "inspect", "--format", "{{json .Config.Entrypoint}}", image)
    assert entrypoint.strip() == '["selfemployed-gateway"]'


def test_the_image_size_is_reported_and_bounded(image: str) -> None:
    """Reported in the summary by conftest; 260 MB measured on 2026-12-02 (issue #15)."""
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image))
    assert size < 400_000_000, f"{size / 1e6:.0f} MB"
