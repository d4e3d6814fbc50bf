"""Mutual TLS to INASTI (R-22, R-61; issue #14) against the simulator serving HTTPS.

The simulator, like INASTI, requires the gateway's client certificate. Every certificate
problem — an untrusted CA, an expired supplier certificate, the supplier refusing the
gateway's certificate, a pinned fingerprint that does not match — is MSG00002 within the
time budget, with the TLS reason in the gateway's log and never in the answer, and /readyz
says not ready (a real handshake, not a TCP connect).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from selfemployed_gateway.devpki import CertKey, DevPki
from tests.e2e.conftest import gateway_config, simulator_config, tls_context
from tests.support.minting import mint, name
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, fault, payload, status

ONSS = customer(sector=21, institution=0, ticket="supplier-tls")
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
BUDGET = 2.0  # supplier.timeout_seconds of the tests' gateways


def tls_simulator(folder: Path, certificate: CertKey, client_ca: Path) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    config = simulator_config()
    config["simulator"]["tls"] = {
        "certificate": str(certificate.cert),
        "private_key": str(certificate.key),
        "client_ca": [str(client_ca)],
    }
    return start(write_config(folder / "simulator.toml", config), "simulate-inasti")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("supplier-tls")


@pytest.fixture(scope="module")
def inasti(pki: DevPki, folder: Path) -> Iterator[Server]:
    """INASTI as it should be: its certificate from the dev CA, the gateway's required."""
    server = tls_simulator(folder / "good", pki.inasti, pki.ca.cert)
    yield server
    server.stop()


def gateway(pki: DevPki, folder: Path, url: str, **tls: Any) -> Server:
    folder.mkdir(parents=True, exist_ok=True)
    config = gateway_config(pki, url, audit=folder / "audit.sqlite3")
    config["supplier"]["tls"] = {
        "ca": [str(pki.ca.cert)],
        "certificate": str(pki.gateway_client.cert),
        "private_key": str(pki.gateway_client.key),
        **tls,
    }
    return start(write_config(folder / "gateway.toml", config), "serve")


def consult(pki: DevPki, server: Server) -> tuple[str, float, str]:
    """(status or reason code, seconds, the answer's text) of one consultCareer."""
    started = time.monotonic()
    with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=10) as client:
        response = client.post(
            server.urls["soap"], content=career_request(ONSS, CONTEXT, "65031510159")
        )
    seconds = time.monotonic() - started
    if response.status_code == 200:
        return str(status(payload(response.content))["code"]), seconds, response.text
    (detail,) = fault(response.content)["details"]  # type: ignore[misc]
    return str(detail["reasonCode"]), seconds, response.text


def readiness(server: Server) -> tuple[int, str]:
    answer = httpx.get(server.urls["admin"] + "/readyz")
    return answer.status_code, str(answer.json().get("supplier"))


def test_the_gateway_calls_inasti_over_mutual_tls(
    pki: DevPki, folder: Path, inasti: Server
) -> None:
    assert inasti.urls["simulator"].startswith("https://")
    server = gateway(pki, folder / "good", inasti.urls["simulator"])
    try:
        assert consult(pki, server)[0] == "MSG00000"
        assert readiness(server) == (200, "reachable")
    finally:
        server.stop()


def test_without_the_gateway_certificate_inasti_refuses(
    pki: DevPki, folder: Path, inasti: Server
) -> None:
    """A plain client (no certificate) is refused by the simulator's handshake."""
    context = tls_context(pki, None)
    with pytest.raises(httpx.HTTPError), httpx.Client(verify=context, timeout=5) as client:
        client.post(inasti.urls["simulator"], content=b"<x/>")


def expired_inasti(pki: DevPki, folder: Path) -> CertKey:
    return mint(
        folder,
        "expired-inasti",
        name(O="INASTI", CN="127.0.0.1"),
        pki.ca,
        server_for="127.0.0.1",
        days=(-30, -1),
    )


@pytest.mark.parametrize(
    "problem",
    [
        "untrusted-ca",
        "expired-supplier-certificate",
        "supplier-refuses-the-gateway",
        "pinned-fingerprint-mismatch",
    ],
)
def test_a_certificate_problem_is_msg00002_within_budget_and_not_ready(
    pki: DevPki, folder: Path, inasti: Server, problem: str
) -> None:
    place = folder / problem
    place.mkdir()
    simulator: Server | None = None
    tls: dict[str, Any] = {}
    url = inasti.urls["simulator"]
    reason = "CERTIFICATE_VERIFY_FAILED"
    if problem == "untrusted-ca":
        tls = {"ca": [str(pki.rogue_ca.cert)]}
    elif problem == "expired-supplier-certificate":
        simulator = tls_simulator(place, expired_inasti(pki, place), pki.ca.cert)
        url = simulator.urls["simulator"]
    elif problem == "supplier-refuses-the-gateway":
        simulator = tls_simulator(place, pki.inasti, pki.rogue_ca.cert)  # trusts others only
        url = simulator.urls["simulator"]
        reason = "ALERT"
    else:
        tls = {"pinned_sha256": ["00" * 32]}
        reason = "is not pinned"
    server = gateway(pki, place, url, **tls)
    try:
        code, seconds, text = consult(pki, server)
        assert code == "MSG00002", "".join(server.output)[-3000:]
        assert seconds < BUDGET
        assert readiness(server) == (503, "unreachable")
        assert reason in "".join(server.output)
        for secret in ("SSL", "certificate", "pinned", "ALERT"):
            assert secret not in text, text  # the reason is in the log only
    finally:
        server.stop()
        if simulator is not None:
            simulator.stop()


def test_a_matching_pin_is_served(pki: DevPki, folder: Path, inasti: Server) -> None:
    certificate = x509.load_pem_x509_certificate(pki.inasti.cert.read_bytes())
    pin = certificate.fingerprint(hashes.SHA256()).hex()
    server = gateway(pki, folder / "pinned", inasti.urls["simulator"], pinned_sha256=[pin])
    try:
        assert consult(pki, server)[0] == "MSG00000"
        assert readiness(server) == (200, "reachable")
    finally:
        server.stop()
