"""environment = production refuses unsafe settings, naming each (R-74); the admin token.

Issue #13: `environment = "production"` enforced nothing (an http:// supplier, a frozen
SEG_CLOCK, the development PKI, a random NISS hash key were all accepted), and /metrics had
no authentication while the image bound the admin listener to 0.0.0.0.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import gateway_config, tls_context
from tests.support.paths import PROJECT
from tests.support.processes import Server, start, write_config


def test_the_development_configuration_cannot_run_as_production(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    """The tests' own configuration (dev PKI, http simulator, frozen clock, no public URL,
    no log key) with SEG_ENVIRONMENT=production: start-up fails, naming every one."""
    config = gateway_config(pki, simulator.urls["simulator"], audit=tmp_path / "a.sqlite3")
    config["admin"]["listen"]["host"] = "0.0.0.0"
    path = write_config(tmp_path / "gateway.toml", config)
    result = subprocess.run(
        [sys.executable, "-m", "selfemployed_gateway.cli", "--config", str(path), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
        env={"PATH": "/usr/bin:/bin", "SEG_ENVIRONMENT": "production"},
    )
    assert result.returncode == 2
    named = [line.strip().split(":")[0] for line in result.stderr.splitlines()[1:]]
    assert named == [
        "supplier.url",
        "gateway.clock (SEG_CLOCK)",
        "gateway.public_url (SEG_PUBLIC_URL)",
        "tls.client_ca",
        "tls.certificate",
        "tls.client_bindings",
        "tls.private_key",
        "audit.encryption_keys",
        "audit.ssin_hash_key_file",
        "supplier.tls.certificate (SEG_SUPPLIER_TLS_CERTIFICATE)",
        "logging.ssin_hash_key (SEG_LOG_SSIN_HASH_KEY)",
        "admin.listen.host",
    ], result.stderr
    assert "refuses 12 setting(s)" in result.stderr.splitlines()[0]
    assert "ready" not in result.stdout


def test_metrics_need_the_admin_token_and_probes_do_not(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    token = tmp_path / "admin.token"
    token.write_text("s3cret-admin-token-0123456789\n", encoding="ascii")
    token.chmod(0o600)
    config = gateway_config(pki, simulator.urls["simulator"], audit=tmp_path / "a.sqlite3")
    config["admin"]["token_file"] = str(token)
    server = start(write_config(tmp_path / "gateway.toml", config), "serve")
    try:
        admin = server.urls["admin"]
        refused = httpx.get(admin + "/metrics")
        wrong = httpx.get(admin + "/metrics", headers={"Authorization": "Bearer nope"})
        basic = httpx.get(admin + "/metrics", auth=("admin", "s3cret-admin-token-0123456789"))
        good = httpx.get(
            admin + "/metrics", headers={"Authorization": "Bearer s3cret-admin-token-0123456789"}
        )
        probes = [httpx.get(admin + path).status_code for path in ("/healthz", "/readyz")]
    finally:
        server.stop()
    assert [r.status_code for r in (refused, wrong, basic)] == [401, 401, 401]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "seg_requests" not in refused.text
    assert good.status_code == 200 and "seg_requests_in_flight" in good.text
    assert probes == [200, 200]


def test_the_admin_listener_keeps_no_body_and_shows_no_stack(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    """A 200 MB POST /healthz was read whole; unknown paths and methods got Twisted's pages."""
    config = gateway_config(pki, simulator.urls["simulator"], audit=tmp_path / "a.sqlite3")
    server = start(write_config(tmp_path / "gateway.toml", config), "serve")
    try:
        admin = server.urls["admin"]
        host, port = admin.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 200000000\r\n\r\n")
            try:
                sock.sendall(b"x" * 65536)
                closed = sock.recv(100) == b""
            except ConnectionResetError:
                closed = True  # aborted while we were still sending: what we want
            assert closed  # nothing read past the headers, no answer
        answers = [
            httpx.get(admin + "/nope"),
            httpx.get(admin + "/healthz/deeper"),
            httpx.post(admin + "/healthz", content=b"{}"),
            httpx.request("FOO", admin + "/metrics"),
            httpx.get(admin + "/healthz"),
        ]
        soap = httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=10)
        with soap:
            answers += [soap.get(server.urls["soap"].rsplit("/", 1)[0] + "/elsewhere")]
            answers += [soap.get(server.urls["soap"].split("/Self")[0] + "/")]
    finally:
        server.stop()
    assert [a.status_code for a in answers] == [404, 404, 405, 405, 200, 404, 404]
    for answer in answers:
        assert answer.headers.get("content-type", "").startswith(("text/plain", "application/json"))
        for page in (b"No Such Resource", b"browser approached", b"Huh?", b"<html"):
            assert page not in answer.content
