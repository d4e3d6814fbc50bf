"""End-to-end: the TLS policy of the real gateway (R-06, R-11), and revocation by CRL.

Policy: TLS 1.2 and 1.3 only; TLS 1.2 limited to Mozilla's "intermediate" suites; a client
certificate is required, issued by a CA of ``tls.client_ca``, inside its validity period and,
when ``tls.crl`` is set, not revoked. Every refusal happens at TLS: the client gets an alert,
never an HTTP answer. See docs/tls.md.

The development server key is EC P-256, so only the ECDSA suites of the intermediate list
can be negotiated with it; the RSA ones need an RSA server certificate.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import ssl
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.devcrl import write_crl
from selfemployed_gateway.devpki import CertKey, DevPki, ensure_dev_pki
from selfemployed_gateway.tls import (
    INTERMEDIATE_CIPHERS,
    TlsConfigurationError,
    server_tls_options,
)
from tests.e2e.conftest import DATASET, GatewayFactory, gateway_config
from tests.support.admin import metric, sighup_and_wait
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, payload, status

ONSS = customer(sector=21, institution=0, ticket="tls-policy")
ONSS_CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
ONSS_SSIN = "65031510159"

#: Mozilla's TLS 1.3 suites, which are OpenSSL's defaults.
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
#: The intermediate suites a server with an ECDSA certificate can negotiate.
ECDSA_SUITES = [s for s in INTERMEDIATE_CIPHERS.split(":") if s.startswith("ECDHE-ECDSA-")]


# -- the client side -----------------------------------------------------------


def client_context(
    pki: DevPki,
    client: CertKey | None,
    *,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    """A client trusting the dev CA, presenting *client*, optionally pinned to one version."""
    context = ssl.create_default_context(cafile=pki.ca.cert)
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    if version is not None:
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0/1.1; these tests offer them on purpose.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = version
            context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


@dataclass(frozen=True)
class Session:
    status_code: int
    tls_version: str | None
    cipher: str | None


def connect(url: str, context: ssl.SSLContext) -> Session:
    """One HTTP exchange over a new TLS session; the session's parameters.

    Any HTTP answer means TLS accepted the client (what is above TLS is not the point).
    """
    with httpx.Client(verify=context, timeout=10) as client:
        response = client.get(url)
        # Read the TLS parameters while the connection is still open.
        ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
        assert ssl_object is not None
        cipher = ssl_object.cipher()
        return Session(response.status_code, ssl_object.version(), cipher[0] if cipher else None)


def refusal(url: str, context: ssl.SSLContext) -> str:
    """Make an exchange that TLS must refuse; return the OpenSSL reason (an alert name).

    In TLS 1.3 the client's handshake is over before the server has checked its
    certificate, so the server's alert arrives on the first read, not on connect.
    """
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)) as info:
        connect(url, context)
    error: BaseException | None = info.value
    while error is not None and not isinstance(error, ssl.SSLError):
        error = error.__cause__ or error.__context__
    assert isinstance(error, ssl.SSLError), f"not a TLS refusal: {info.value!r}"
    # The client refusing the server would mean the test set-up is wrong.
    assert not isinstance(error, ssl.SSLCertVerificationError), error
    return str(error.reason)


def consult_as_onss(pki: DevPki, url: str) -> str:
    """A full consultCareer as onss-inspection: the status code of the answer."""
    context = client_context(pki, pki.clients["onss-inspection"])
    with httpx.Client(verify=context, timeout=15) as client:
        response = client.post(
            url,
            content=career_request(ONSS, ONSS_CONTEXT, ONSS_SSIN),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    return str(status(payload(response.content))["code"])


# -- versions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_tls_1_2_and_1_3_are_accepted(
    pki: DevPki, gateway: Server, version: ssl.TLSVersion, name: str
) -> None:
    session = connect(
        gateway.urls["soap"], client_context(pki, pki.clients["cpas-namur"], version=version)
    )
    assert session.tls_version == name
    if version is ssl.TLSVersion.TLSv1_3:
        assert session.cipher in TLS13_SUITES
    else:
        assert session.cipher in ECDSA_SUITES


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_are_refused(pki: DevPki, gateway: Server, version: ssl.TLSVersion) -> None:
    # OpenSSL's default security level would not even offer them: lower it, so that the
    # refusal is the server's (a protocol_version alert).
    context = client_context(
        pki, pki.clients["cpas-namur"], version=version, ciphers="DEFAULT:@SECLEVEL=0"
    )
    assert refusal(gateway.urls["soap"], context) == "TLSV1_ALERT_PROTOCOL_VERSION"


# -- TLS 1.2 cipher suites -----------------------------------------------------------


@pytest.mark.parametrize("suite", ECDSA_SUITES)
def test_each_intermediate_ecdsa_suite_is_accepted(
    pki: DevPki, gateway: Server, suite: str
) -> None:
    context = client_context(
        pki, pki.clients["cpas-namur"], version=ssl.TLSVersion.TLSv1_2, ciphers=suite
    )
    session = connect(gateway.urls["soap"], context)
    assert (session.tls_version, session.cipher) == ("TLSv1.2", suite)


@pytest.mark.parametrize(
    "suite",
    [
        "ECDHE-ECDSA-AES128-SHA256",  # CBC, although the server key could sign it
        "ECDHE-ECDSA-AES256-SHA384",  # CBC
        "ECDHE-ECDSA-AES128-SHA",  # CBC with SHA-1
        "ECDHE-RSA-AES128-SHA256",  # CBC (and RSA)
        "AES128-GCM-SHA256",  # RSA key exchange: no forward secrecy
        "AES256-GCM-SHA384",  # idem
    ],
)
def test_suites_outside_the_intermediate_list_are_refused(
    pki: DevPki, gateway: Server, suite: str
) -> None:
    context = client_context(
        pki,
        pki.clients["cpas-namur"],
        version=ssl.TLSVersion.TLSv1_2,
        ciphers=suite + ":@SECLEVEL=0",
    )
    assert refusal(gateway.urls["soap"], context) == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_rsa_suites_need_an_rsa_server_certificate(pki: DevPki, gateway: Server) -> None:
    """The RSA suites of the list are allowed, but the dev server's EC key cannot use them."""
    rsa_only = ":".join(s for s in INTERMEDIATE_CIPHERS.split(":") if s.startswith("ECDHE-RSA-"))
    context = client_context(
        pki, pki.clients["cpas-namur"], version=ssl.TLSVersion.TLSv1_2, ciphers=rsa_only
    )
    assert refusal(gateway.urls["soap"], context) == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_the_server_offers_exactly_the_policy(pki: DevPki) -> None:
    """All the server will negotiate: Mozilla's TLS 1.3 suites and the intermediate list."""
    options = server_tls_options(pki.server.cert, pki.server.key, [pki.ca.cert])
    offered = SSL.Connection(options.getContext(), None).get_cipher_list()
    assert set(offered[:3]) == TLS13_SUITES
    assert offered[3:] == INTERMEDIATE_CIPHERS.split(":")  # and in Mozilla's order


# -- client certificates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (ssl.TLSVersion.TLSv1_2, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
        (ssl.TLSVersion.TLSv1_3, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
    ],
)
def test_no_client_certificate_is_refused(
    pki: DevPki, gateway: Server, version: ssl.TLSVersion, reason: str
) -> None:
    assert refusal(gateway.urls["soap"], client_context(pki, None, version=version)) == reason


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_certificate_of_a_foreign_ca_is_refused(
    pki: DevPki, gateway: Server, version: ssl.TLSVersion
) -> None:
    context = client_context(pki, pki.rogue, version=version)
    assert refusal(gateway.urls["soap"], context) == "TLSV1_ALERT_UNKNOWN_CA"


def test_refusals_are_counted_and_logged_with_their_reason(pki: DevPki, gateway: Server) -> None:
    admin = gateway.urls["admin"]
    before = metric(admin, "seg_tls_handshake_failures_total")
    logged = len(gateway.output)
    refusal(gateway.urls["soap"], client_context(pki, pki.rogue))
    refusal(gateway.urls["soap"], client_context(pki, None))
    assert metric(admin, "seg_tls_handshake_failures_total") - before == 2
    time.sleep(0.2)
    lines = [json.loads(line) for line in gateway.output[logged:] if line.startswith("{")]
    failed = [line for line in lines if line.get("message") == "TLS connection failed"]
    assert [line["tls_error"] for line in failed] == [
        "certificate verify failed",
        "peer did not return a certificate",
    ]
    assert all(
        line["peer"].startswith("IPv4Address(type='TCP', host='127.0.0.1'") for line in failed
    )


@pytest.fixture(scope="module")
def fresh_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A PKI made now: its expired and not-yet-valid certificates are so for this test."""
    clients = [client.id for client in load_dataset(DATASET).clients]
    return ensure_dev_pki(tmp_path_factory.mktemp("fresh-pki"), clients)


def start_gateway(
    folder: Path,
    pki: DevPki,
    simulator: Server,
    env: dict[str, str] | None = None,
    **tls: object,
) -> tuple[Server, Path, dict[str, dict[str, object]]]:
    """A gateway trusting *pki*'s CA (``tls`` entries override): server, config path, config."""
    folder.mkdir(parents=True, exist_ok=True)
    config = gateway_config(pki, simulator.urls["simulator"], audit=folder / "audit.sqlite3")
    config["tls"].update(tls)
    path = write_config(folder / "gateway.toml", config)
    return start(path, "serve", env=env), path, config


@pytest.fixture(scope="module")
def fresh_gateway(
    fresh_pki: DevPki, simulator: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server, _, _ = start_gateway(tmp_path_factory.mktemp("fresh-gateway"), fresh_pki, simulator)
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("which", "reason"),
    [
        ("expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
        ("not_yet_valid", "SSLV3_ALERT_BAD_CERTIFICATE"),
    ],
)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_certificate_outside_its_validity_is_refused(
    fresh_pki: DevPki, fresh_gateway: Server, which: str, reason: str, version: ssl.TLSVersion
) -> None:
    pair: CertKey = getattr(fresh_pki, which)
    now = datetime.datetime.now(datetime.UTC)
    certificate = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    assert not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
    context = client_context(fresh_pki, pair, version=version)
    assert refusal(fresh_gateway.urls["soap"], context) == reason
    # The same PKI's valid clients pass.
    valid = client_context(fresh_pki, fresh_pki.clients["cpas-namur"], version=version)
    assert connect(fresh_gateway.urls["soap"], valid).tls_version is not None


# -- revocation --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def namur_revoked(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    crl = tmp_path_factory.mktemp("crl") / "dev-ca.crl.pem"
    write_crl(pki, [pki.clients["cpas-namur"].cert], crl)
    return crl


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_revoked_client_is_refused_and_others_accepted(
    pki: DevPki, gateway_with: GatewayFactory, namur_revoked: Path, version: ssl.TLSVersion
) -> None:
    server = gateway_with.server(env={"SEG_TLS_CRL": str(namur_revoked)})
    url = server.urls["soap"]
    namur = client_context(pki, pki.clients["cpas-namur"], version=version)
    assert refusal(url, namur) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
    onss = client_context(pki, pki.clients["onss-inspection"], version=version)
    assert connect(url, onss).tls_version is not None
    assert consult_as_onss(pki, url) == "MSG00000"


def test_revocation_with_a_running_gateway(pki: DevPki, simulator: Server, tmp_path: Path) -> None:
    """The documented way: add the CRL to tls.crl, then SIGHUP (docs/tls.md)."""
    server, path, config = start_gateway(tmp_path / "gateway", pki, simulator)
    try:
        url = server.urls["soap"]
        namur = client_context(pki, pki.clients["cpas-namur"])
        assert connect(url, namur).tls_version is not None

        crl = tmp_path / "dev-ca.crl.pem"
        write_crl(pki, [pki.clients["cpas-namur"].cert], crl)
        config["tls"]["crl"] = [str(crl)]
        write_config(path, config)
        sighup_and_wait(server, "applied")
        assert refusal(url, namur) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
        assert consult_as_onss(pki, url) == "MSG00000"

        # A broken CRL is refused at reload; the CRL in force stays.
        crl.write_text("not a CRL\n")
        sighup_and_wait(server, "refused")
        assert "dev-ca.crl.pem" in "".join(server.output)
        assert refusal(url, namur) == "SSLV3_ALERT_CERTIFICATE_REVOKED"

        # Lifting the revocation: a new CRL without the certificate, then SIGHUP.
        write_crl(pki, [], crl)
        sighup_and_wait(server, "applied")
        assert connect(url, namur).tls_version is not None
    finally:
        server.stop()


def test_revocation_fails_closed(pki: DevPki, simulator: Server, tmp_path: Path) -> None:
    """Once CRLs are configured, a client CA without a CRL, or with a CRL past its
    nextUpdate, has all its clients refused: revocation status unknown is not "valid"."""
    crl = tmp_path / "stale.crl.pem"
    write_crl(pki, [], crl, next_update_days=-1)
    server, _, _ = start_gateway(
        tmp_path / "gateway",
        pki,
        simulator,
        client_ca=[str(pki.ca.cert), str(pki.rogue_ca.cert)],
        crl=[str(crl)],
    )
    try:
        url = server.urls["soap"]
        reason = refusal(url, client_context(pki, pki.clients["onss-inspection"]))
        assert reason == "SSLV3_ALERT_CERTIFICATE_EXPIRED"  # OpenSSL's alert for a stale CRL
        assert "CRL" in "".join(server.output) and "expired" in "".join(server.output)
        # The rogue CA is trusted (without CRLs its client passes TLS, see
        # test_operations.py), but it has no CRL.
        assert refusal(url, client_context(pki, pki.rogue)) == "TLSV1_ALERT_UNKNOWN_CA"
    finally:
        server.stop()


# -- units: CRL loading (writing them: tests/unit/test_devcrl.py) ------------------------


def options_with(pki: DevPki, *crls: Path) -> object:
    return server_tls_options(pki.server.cert, pki.server.key, [pki.ca.cert], crls)


def test_crl_files_are_loaded(pki: DevPki, tmp_path: Path) -> None:
    pem = tmp_path / "one.crl.pem"
    write_crl(pki, [pki.clients["cpas-namur"].cert], pem)
    # Several CRLs in one PEM file, and a DER file as CAs publish them.
    several = tmp_path / "several.crl.pem"
    several.write_bytes(pem.read_bytes() + pem.read_bytes())
    der = tmp_path / "one.crl"
    der.write_bytes(
        x509.load_pem_x509_crl(pem.read_bytes()).public_bytes(serialization.Encoding.DER)
    )
    options_with(pki, pem, several, der)


def test_bad_crl_files_are_named(pki: DevPki, tmp_path: Path) -> None:
    with pytest.raises(TlsConfigurationError, match=r"nope\.crl"):
        options_with(pki, tmp_path / "nope.crl")
    garbage = tmp_path / "garbage.crl"
    garbage.write_text("not a CRL\n")
    with pytest.raises(TlsConfigurationError, match=r"garbage\.crl"):
        options_with(pki, garbage)
    certificate = tmp_path / "certificate.pem"  # PEM, but not a CRL
    certificate.write_bytes(pki.ca.cert.read_bytes())
    with pytest.raises(TlsConfigurationError, match=r"certificate\.pem"):
        options_with(pki, certificate)


def test_crl_of_another_ca_is_refused(pki: DevPki, tmp_path: Path) -> None:
    """A CRL that no client CA signed would never be used: refuse the configuration."""
    rogue_pki = dataclasses.replace(pki, ca=pki.rogue_ca)
    crl = tmp_path / "rogue.crl.pem"
    write_crl(rogue_pki, [pki.rogue.cert], crl)
    with pytest.raises(TlsConfigurationError, match=r"rogue\.crl\.pem.*not signed by any"):
        options_with(pki, crl)


def test_stale_crl_is_logged(pki: DevPki, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crl = tmp_path / "stale.crl.pem"
    write_crl(pki, [], crl, next_update_days=-1)
    with caplog.at_level(logging.WARNING, logger="selfemployed_gateway.tls"):
        options_with(pki, crl)
    assert "stale.crl.pem expired" in caplog.text


def test_a_revoked_certificate_stops_working_on_open_connections_within_their_max_age(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    """With connection_max_age 2 s, a keep-alive connection of cpas-namur opened before the
    CRL reload is closed by the gateway at that age; its next call reconnects, and TLS refuses
    the revoked certificate (before, an open connection was served 40 s later)."""
    env = {"SEG_CONNECTION_MAX_AGE": "2"}
    server, path, config = start_gateway(tmp_path / "gateway", pki, simulator, env=env)
    try:
        url = server.urls["soap"]
        namur = client_context(pki, pki.clients["cpas-namur"])
        request = career_request(
            customer(cbe="0212345668"), "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01"
        )
        with httpx.Client(verify=namur, timeout=5) as client:
            opened = time.monotonic()
            assert client.post(url, content=request).status_code == 200
            crl = tmp_path / "dev-ca.crl.pem"
            write_crl(pki, [pki.clients["cpas-namur"].cert], crl)
            config["tls"]["crl"] = [str(crl)]
            write_config(path, config)
            sighup_and_wait(server, "applied")
            time.sleep(max(0.0, 2.5 - (time.monotonic() - opened)))
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                client.post(url, content=request)
        assert consult_as_onss(pki, url) == "MSG00000"
    finally:
        server.stop()
