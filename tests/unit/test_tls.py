"""The TLS edge: mutual TLS against a real Twisted server, plus the unit-sized pieces.

The server runs in a subprocess (tests/support/tls_echo_server.py) with the default
reactor, so these tests exercise the same code path as the real gateway.
"""

from __future__ import annotations

import select
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from OpenSSL import SSL, crypto

from selfemployed_gateway.devpki import CertKey, DevPki, ensure_dev_pki
from selfemployed_gateway.tls import (
    INTERMEDIATE_CIPHERS,
    TlsConfigurationError,
    certificate_of,
    peer_certificate,
    server_tls_options,
    tls_error_text,
)
from tests.support.paths import PROJECT

SERVER_SCRIPT = PROJECT / "tests" / "support" / "tls_echo_server.py"
STARTUP_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), ["bcss"])


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def server(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stderr_path = tmp_path_factory.mktemp("server") / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                str(SERVER_SCRIPT),
                str(pki.server.cert),
                str(pki.server.key),
                str(pki.ca.cert),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            pytest.fail(f"TLS echo server did not start:\n{stderr_path.read_text()}")
        yield Server(f"https://127.0.0.1:{int(line)}/", process)
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def client_context(
    pki: DevPki,
    client: CertKey | None,
    *,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    """A client context trusting the dev CA, optionally pinned to one TLS version."""
    context = ssl.create_default_context(cafile=pki.ca.cert)
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0/1.1 versions; the tests need them on purpose.
        warnings.simplefilter("ignore", DeprecationWarning)
        if version is not None:
            context.minimum_version = version
            context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


@dataclass(frozen=True)
class Reply:
    status_code: int
    text: str
    tls_version: str | None
    cipher: str | None


def get(server: Server, context: ssl.SSLContext) -> Reply:
    with httpx.Client(verify=context, timeout=5) as client:
        response = client.get(server.url)
        # Read the TLS parameters while the connection is still open. (With the sync
        # transport this is the low-level _ssl._SSLSocket, not an ssl.SSLObject.)
        ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
        assert ssl_object is not None
        cipher = ssl_object.cipher()
        return Reply(
            response.status_code,
            response.text,
            ssl_object.version(),
            cipher[0] if cipher else None,
        )


def refusal(server: Server, context: ssl.SSLContext) -> str:
    """Make a request that must fail; return the OpenSSL reason (e.g. an alert name).

    With TLS 1.3 the client finishes its handshake before the server has checked its
    certificate, so the server's alert surfaces on the first read, not on connect.
    """
    with pytest.raises((httpx.ConnectError, httpx.ReadError)) as excinfo:
        get(server, context)
    error: BaseException | None = excinfo.value
    while error is not None and not isinstance(error, ssl.SSLError):
        error = error.__cause__ or error.__context__
    assert isinstance(error, ssl.SSLError), f"not a TLS failure: {excinfo.value!r}"
    # A client-side verification error would mean the test set-up is wrong, not the server.
    assert not isinstance(error, ssl.SSLCertVerificationError), error
    return str(error.reason)


# -- against the server --------------------------------------------------------


def test_dev_client_gets_its_common_name_back(server: Server, pki: DevPki) -> None:
    response = get(server, client_context(pki, pki.clients["bcss"]))
    assert response.status_code == 200
    assert response.text == "bcss"


def test_any_certificate_of_the_dev_ca_passes_tls(server: Server, pki: DevPki) -> None:
    # Which clients may call which operation is decided above TLS.
    response = get(server, client_context(pki, pki.clients["stranger"]))
    assert response.status_code == 200
    assert response.text == "stranger"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_versions_accepted(server: Server, pki: DevPki, version: ssl.TLSVersion) -> None:
    response = get(server, client_context(pki, pki.clients["bcss"], version=version))
    assert response.status_code == 200
    assert response.text == "bcss"
    expected = {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    assert response.tls_version == expected
    if version is ssl.TLSVersion.TLSv1_2:
        assert response.cipher in INTERMEDIATE_CIPHERS.split(":")


@pytest.mark.parametrize(
    ("version", "reasons"),
    [
        # TLS 1.2 fails the handshake; TLS 1.3 says why, on the first read.
        (ssl.TLSVersion.TLSv1_2, {"SSLV3_ALERT_HANDSHAKE_FAILURE"}),
        (ssl.TLSVersion.TLSv1_3, {"TLSV13_ALERT_CERTIFICATE_REQUIRED"}),
    ],
)
def test_no_client_certificate_is_refused(
    server: Server, pki: DevPki, version: ssl.TLSVersion, reasons: set[str]
) -> None:
    assert refusal(server, client_context(pki, None, version=version)) in reasons


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_foreign_ca_is_refused(server: Server, pki: DevPki, version: ssl.TLSVersion) -> None:
    context = client_context(pki, pki.rogue, version=version)
    assert refusal(server, context) == "TLSV1_ALERT_UNKNOWN_CA"


def test_tls_1_1_is_refused(server: Server, pki: DevPki) -> None:
    # OpenSSL's default security level will not even offer TLS 1.1; lower it so the
    # refusal comes from the server, as a protocol_version alert.
    context = client_context(
        pki,
        pki.clients["bcss"],
        version=ssl.TLSVersion.TLSv1_1,
        ciphers="DEFAULT:@SECLEVEL=0",
    )
    assert refusal(server, context) == "TLSV1_ALERT_PROTOCOL_VERSION"


def test_weak_tls_1_2_cipher_is_refused(server: Server, pki: DevPki) -> None:
    context = client_context(
        pki,
        pki.clients["bcss"],
        version=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-ECDSA-AES128-SHA256",  # CBC: not in the intermediate list
    )
    assert refusal(server, context) == "SSLV3_ALERT_HANDSHAKE_FAILURE"


# -- units ---------------------------------------------------------------------


def x509_of(path: Path) -> crypto.X509:
    return crypto.X509.from_cryptography(x509.load_pem_x509_certificate(path.read_bytes()))


def test_client_certificate_from_x509(pki: DevPki) -> None:
    cert = x509.load_pem_x509_certificate(pki.clients["bcss"].cert.read_bytes())
    info = certificate_of(crypto.X509.from_cryptography(cert))
    assert info.common_name == "bcss"
    assert info.subject == "CN=bcss,O=selfemployed-gateway dev"
    assert int(info.serial, 16) == cert.serial_number
    assert info.serial == info.serial.lower()
    assert info.sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert len(info.sha256) == 64 and ":" not in info.sha256


class FakeTransport:
    def __init__(self, cert: crypto.X509 | None) -> None:
        self.cert = cert

    def getPeerCertificate(self) -> crypto.X509 | None:
        return self.cert


def test_peer_certificate(pki: DevPki) -> None:
    found = peer_certificate(FakeTransport(x509_of(pki.clients["stranger"].cert)))
    assert found is not None
    assert found.common_name == "stranger"
    assert peer_certificate(FakeTransport(None)) is None
    assert peer_certificate(object()) is None  # plain TCP: no TLS at all


def test_a_certificate_is_described_once_and_each_by_its_own_bytes(pki: DevPki) -> None:
    """The memo of peer_certificate (issue #17) never gives one client another's identity."""
    stranger = peer_certificate(FakeTransport(x509_of(pki.clients["stranger"].cert)))
    again = peer_certificate(FakeTransport(x509_of(pki.clients["stranger"].cert)))
    expired = peer_certificate(FakeTransport(x509_of(pki.expired.cert)))
    assert again is stranger
    assert expired is not None and stranger is not None
    assert expired.sha256 != stranger.sha256
    assert expired == certificate_of(x509_of(pki.expired.cert))


def test_the_description_memo_is_bounded(pki: DevPki) -> None:
    from selfemployed_gateway import tls

    limit = tls._described.cache_info().maxsize
    assert limit is not None
    peer_certificate(FakeTransport(x509_of(pki.clients["stranger"].cert)))
    assert 1 <= tls._described.cache_info().currsize <= limit


def test_server_tls_options_requires_client_certificates(pki: DevPki) -> None:
    options = server_tls_options(pki.server.cert, pki.server.key, [pki.ca.cert])
    context = options.getContext()
    # Twisted's getContext() caches; our tweaks must be on the context it serves with.
    assert options.getContext() is context
    mode = context.get_verify_mode()
    assert mode & SSL.VERIFY_PEER and mode & SSL.VERIFY_FAIL_IF_NO_PEER_CERT


def test_missing_file_is_named(pki: DevPki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"
    with pytest.raises(TlsConfigurationError, match=r"nope\.crt"):
        server_tls_options(missing, pki.server.key, [pki.ca.cert])
    with pytest.raises(TlsConfigurationError, match=r"nope\.crt"):
        server_tls_options(pki.server.cert, pki.server.key, [pki.ca.cert, missing])


def test_garbage_files_are_named(pki: DevPki, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not PEM at all\n")
    with pytest.raises(TlsConfigurationError, match=r"garbage\.pem"):
        server_tls_options(garbage, pki.server.key, [pki.ca.cert])
    with pytest.raises(TlsConfigurationError, match=r"garbage\.pem"):
        server_tls_options(pki.server.cert, garbage, [pki.ca.cert])


def test_mismatched_key_is_refused(pki: DevPki) -> None:
    with pytest.raises(TlsConfigurationError, match=r"server\.crt"):
        server_tls_options(pki.server.cert, pki.ca.key, [pki.ca.cert])


def test_no_ca_is_refused(pki: DevPki) -> None:
    with pytest.raises(TlsConfigurationError, match="CA"):
        server_tls_options(pki.server.cert, pki.server.key, [])


def test_a_tls_failure_is_named_by_openssl_s_reasons() -> None:
    refused = SSL.Error([("SSL routines", "", "tlsv1 alert unknown ca"), ("SSL routines", "", "x")])
    assert tls_error_text(refused) == "tlsv1 alert unknown ca; x"
    assert tls_error_text(SSL.SysCallError(-1, "Unexpected EOF")) == "(-1, 'Unexpected EOF')"
