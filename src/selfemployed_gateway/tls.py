"""The TLS edge: mutual-TLS server options for Twisted and the peer's identity.

``server_tls_options`` builds the `CertificateOptions` a Twisted ``SSL4ServerEndpoint``
(or ``reactor.listenSSL``) needs; ``peer_certificate`` tells a request handler who is
on the other end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.ssl import AcceptableCiphers, CertificateOptions, TLSVersion
from zope.interface import implementer

from selfemployed_gateway.records import ClientCertificate

__all__ = [
    "INTERMEDIATE_CIPHERS",
    "ClientCertificate",
    "ReloadableServerTls",
    "TlsConfigurationError",
    "certificate_of",
    "peer_certificate",
    "server_tls_options",
]

#: Mozilla "intermediate" TLS 1.2 suites, ECDHE only (no finite-field DHE parameters to
#: manage). TLS 1.3 suites are configured separately by OpenSSL and are all acceptable.
INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)

# OpenSSL refuses to resume a session on a context that verifies peers unless the
# context has a session-id context. Twisted sets a random one; pin a named one so the
# requirement does not hinge on a Twisted internal.
SESSION_ID_CONTEXT = b"selfemployed-gateway"


class TlsConfigurationError(ValueError):
    """A certificate, key or CA file cannot be used."""


def certificate_of(cert: crypto.X509) -> ClientCertificate:
    """Describe a pyOpenSSL certificate, as returned by ``getPeerCertificate()``."""
    c = cert.to_cryptography()
    common_names = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    # Several CNs would make "who is this" ambiguous: report none rather than guess.
    common_name = None
    if len(common_names) == 1 and isinstance(common_names[0].value, str):
        common_name = common_names[0].value
    return ClientCertificate(
        subject=c.subject.rfc4514_string(),
        common_name=common_name,
        serial=format(c.serial_number, "x"),
        sha256=c.fingerprint(hashes.SHA256()).hex(),
    )


def server_tls_options(
    cert_file: Path, key_file: Path, ca_files: Sequence[Path]
) -> CertificateOptions:
    """TLS options for a server that requires a client certificate from one of *ca_files*.

    *cert_file* is PEM: the server certificate, optionally followed by intermediates.
    *key_file* is its unencrypted PEM private key. Each of *ca_files* holds one or more
    PEM CA certificates; client certificates must chain up to one of them.

    Raises `TlsConfigurationError` naming the file at fault.
    """
    if not ca_files:
        raise TlsConfigurationError("at least one CA file is needed to verify clients")
    chain = _load_certificates(cert_file)
    key = _load_private_key(key_file)
    if _spki(key.public_key()) != _spki(chain[0].public_key()):
        raise TlsConfigurationError(f"private key {key_file} does not match {cert_file}")
    cas = [ca for path in ca_files for ca in _load_certificates(path)]

    options = CertificateOptions(
        # pyOpenSSL accepts any of these key types; its published stubs lag behind.
        privateKey=crypto.PKey.from_cryptography_key(cast(Any, key)),
        certificate=crypto.X509.from_cryptography(chain[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in chain[1:]],
        # A trust root makes Twisted require and verify the client's certificate.
        trustRoot=ssl.trustRootFromCertificates(  # type: ignore[no-untyped-call]
            [ssl.Certificate(crypto.X509.from_cryptography(ca)) for ca in cas]  # type: ignore[no-untyped-call]
        ),
        # Twisted's default is already 1.2; state the policy here rather than inherit it.
        raiseMinimumTo=TLSVersion.TLSv1_2,
        acceptableCiphers=AcceptableCiphers.fromOpenSSLCipherString(  # type: ignore[no-untyped-call]
            INTERMEDIATE_CIPHERS
        ),
    )
    # getContext() builds and caches the one context every connection will use; it can
    # still be adjusted until the first connection is made from it.
    context = options.getContext()
    context.set_session_id(SESSION_ID_CONTEXT)
    for ca in cas:
        # Advertise the acceptable issuers, so clients with several certificates
        # (Java keystores, SoapUI) pick the right one.
        context.add_client_ca(ca)
    return options


def peer_certificate(transport: object) -> ClientCertificate | None:
    """The client certificate on *transport* (e.g. ``request.transport``), if any.

    Returns None for a transport without TLS or without a peer certificate.
    """
    get_peer_certificate = getattr(transport, "getPeerCertificate", None)
    if get_peer_certificate is None:
        return None
    cert = get_peer_certificate()
    if cert is None:
        return None
    if not isinstance(cert, crypto.X509):
        raise TypeError(f"expected an OpenSSL.crypto.X509, got {type(cert).__name__}")
    return certificate_of(cert)


# -- loading -------------------------------------------------------------------

_PrivateKey = (
    rsa.RSAPrivateKey
    | dsa.DSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from exc


def _load_certificates(path: Path) -> list[x509.Certificate]:
    data = _read(path, "certificate file")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsConfigurationError(f"{path} is not a PEM certificate file: {exc}") from exc
    return certificates


def _load_private_key(path: Path) -> _PrivateKey:
    data = _read(path, "private key file")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # raised for encrypted keys
        raise TlsConfigurationError(f"private key {path} is encrypted: {exc}") from exc
    except ValueError as exc:
        raise TlsConfigurationError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, _PrivateKey):
        raise TlsConfigurationError(
            f"private key {path} has an unsupported type: {type(key).__name__}"
        )
    return key


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableServerTls:
    """The TLS settings of a listening port, replaceable while it runs (SIGHUP reload).

    Each new connection takes the context of the options in force when it arrives; open
    connections keep theirs.
    """

    def __init__(self, options: CertificateOptions) -> None:
        self._options = options

    def replace(self, options: CertificateOptions) -> None:
        self._options = options

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        return SSL.Connection(self._options.getContext(), None)
