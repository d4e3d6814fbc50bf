"""environment = production refuses unsafe settings, naming each (R-74); the admin token.

Issue #13: `environment = "production"` enforced nothing (an http:// supplier, a frozen
SEG_CLOCK, the development PKI, a random NISS hash key were all accepted), and /metrics had
no authentication while the image bound the admin listener to 0.0.0.0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import gateway_config
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
        "logging.ssin_hash_key (SEG_LOG_SSIN_HASH_KEY)",
        "admin.listen.host",
    ], result.stderr
    assert "refuses 11 setting(s)" in result.stderr.splitlines()[0]
    assert "ready" not in result.stdout


def test_metrics_need_the_admin_token_and_probes_do_not(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    token = tmp_path / "admin.token"
    token.write_text("s3cret-admin-token-0123456789\n", encoding="ascii")
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
