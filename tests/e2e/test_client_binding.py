"""R-11/R-12 over mutual TLS: a client is its exact certificate, not a common name (issue #13).

Each certificate below is what a penetration tester minted with a CA the gateway trusts; the
gateway binds cpas-namur to its own certificate (tls.client_bindings, written by dev-pki:
subject, issuer and SHA-256). Each is refused: MSG00015, since the handshake itself succeeds
(the chain is valid) and only the binding can tell.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from selfemployed_gateway.devpki import ORGANIZATION, CertKey, DevPki
from tests.e2e.conftest import gateway_config
from tests.support.minting import mint, name, self_signed_ca
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, fault, payload, status

NAMUR = customer(cbe="0212345668", ticket="binding")
CONTEXT = "PCSA:SOCIAL_INQUIRY"
SSIN = "65031510159"


@pytest.fixture(scope="module")
def second_ca(tmp_path_factory: pytest.TempPathFactory) -> CertKey:
    """Another CA the gateway trusts (its clients could mint any subject)."""
    folder = tmp_path_factory.mktemp("second-ca")
    return self_signed_ca(folder, "second-ca", name(O="Other Trust Services", CN="Other CA"))


@pytest.fixture(scope="module")
def bound_gateway(
    pki: DevPki, simulator: Server, second_ca: CertKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("bound-gateway")
    config = gateway_config(pki, simulator.urls["simulator"], audit=folder / "audit.sqlite3")
    config["tls"]["client_ca"] = [str(pki.ca.cert), str(second_ca.cert)]
    server = start(write_config(folder / "gateway.toml", config), "serve")
    yield server
    server.stop()


def call(pki: DevPki, url: str, pair: CertKey) -> str:
    """The outcome of a consultCareer as the holder of `pair`: a status or fault code."""
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    context.load_cert_chain(str(pair.cert), str(pair.key))
    with httpx.Client(verify=context, timeout=10) as client:
        request = career_request(NAMUR, CONTEXT, SSIN, "2000-01-01", "2000-12-31")
        response = client.post(url, content=request)
    if response.status_code == 200:
        return str(status(payload(response.content))["code"])
    (detail,) = fault(response.content)["details"]  # type: ignore[misc]
    return str(detail["reasonCode"])


def test_the_bound_certificate_is_served(pki: DevPki, bound_gateway: Server) -> None:
    assert call(pki, bound_gateway.urls["soap"], pki.clients["cpas-namur"]) == "MSG00000"


@pytest.mark.parametrize(
    "forged",
    [
        "another-organisation",
        "common-name-only",
        "no-extended-key-usage",
        "no-key-usage",
        "a-ca-certificate",
        "same-subject-new-key",
        "same-subject-other-trusted-ca",
    ],
)
def test_a_forged_certificate_is_refused(
    pki: DevPki, bound_gateway: Server, second_ca: CertKey, tmp_path: Path, forged: str
) -> None:
    subject = name(O=ORGANIZATION, CN="cpas-namur")  # the real one's subject
    pair = {
        "another-organisation": lambda: mint(
            tmp_path, forged, name(O="Someone Else", CN="cpas-namur"), pki.ca
        ),
        "common-name-only": lambda: mint(tmp_path, forged, name(CN="cpas-namur"), pki.ca),
        "no-extended-key-usage": lambda: mint(tmp_path, forged, subject, pki.ca, client_auth=False),
        "no-key-usage": lambda: mint(tmp_path, forged, subject, pki.ca, key_usage=False),
        "a-ca-certificate": lambda: mint(tmp_path, forged, subject, pki.ca, ca=True),
        # Exactly the real subject and issuer: only the pinned fingerprint tells.
        "same-subject-new-key": lambda: mint(tmp_path, forged, subject, pki.ca),
        "same-subject-other-trusted-ca": lambda: mint(tmp_path, forged, subject, second_ca),
    }[forged]()
    assert call(pki, bound_gateway.urls["soap"], pair) == "MSG00015"
