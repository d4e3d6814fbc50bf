"""The TLS edge: mutual-TLS server options for Twisted and the peer's identity.

``server_tls_options`` builds the `CertificateOptions` a Twisted ``SSL4ServerEndpoint``
(or ``reactor.listenSSL``) needs; ``peer_certificate`` tells a request handler who is
on the other end.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.ssl import AcceptableCiphers, CertificateOptions, TLSVersion
from zope.interface import implementer

from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.records import ClientCertificate

log = logging.getLogger(__name__)

__all__ = [
    "INTERMEDIATE_CIPHERS",
    "ClientCertificate",
    "ReloadableServerTls",
    "TlsConfigurationError",
    "certificate_of",
    "peer_certificate",
    "server_tls_options",
    "tls_error_text",
]

#: Mozilla "intermediate" TLS 1.2 suites, in Mozilla's order: exactly the list of guidelines
#: 6.0 (ssl-config.mozilla.org). Guidelines 5.7 and 5.8 also had three DHE-RSA suites; they
#: need finite-field DH parameters to manage and, like every RSA suite, do not apply to an EC
#: server key, so they are left out. TLS 1.3 suites are OpenSSL's defaults, which are
#: Mozilla's three (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
#: TLS_CHACHA20_POLY1305_SHA256).
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


class TlsConfigurationError(ConfigurationError):
    """A certificate, key, CA or CRL file cannot be used."""


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
        issuer=c.issuer.rfc4514_string(),
        unfit_because=unfit_for_client_auth(c),
    )


def unfit_for_client_auth(certificate: x509.Certificate) -> str | None:
    """Why `certificate` may not authenticate a client (R-11), or None.

    An end entity (a CA certificate could mint others), with the clientAuth extended key
    usage and the digitalSignature key usage (RFC 5280 §4.2.1.3, §4.2.1.12): what a TLS client
    certificate of a qualified CA carries. OpenSSL's chain check does not require them."""
    try:
        extensions = certificate.extensions
    except ValueError as error:  # duplicate or malformed extensions
        return f"unreadable extensions ({error})"
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return "a CA certificate (basicConstraints CA:TRUE)"
    except x509.ExtensionNotFound:
        pass  # RFC 5280: without basicConstraints, the key is not a CA's
    try:
        usages = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "no extended key usage (clientAuth required)"
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        return "no clientAuth extended key usage"
    try:
        if not extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return "no digitalSignature key usage"
    except x509.ExtensionNotFound:
        return "no key usage (digitalSignature required)"
    return None


def server_tls_options(
    cert_file: Path,
    key_file: Path,
    ca_files: Sequence[Path],
    crl_files: Sequence[Path] = (),
) -> CertificateOptions:
    """TLS options for a server that requires a client certificate from one of *ca_files*.

    *cert_file* is PEM: the server certificate, optionally followed by intermediates.
    *key_file* is its unencrypted PEM private key. Each of *ca_files* holds one or more
    PEM CA certificates; client certificates must chain up to one of them.

    Each of *crl_files* holds one or more CRLs (PEM, or a single DER CRL as CAs publish
    them), each issued and signed by a CA of *ca_files*. With at least one CRL, the
    client's own certificate is checked for revocation (OpenSSL's ``CRL_CHECK``): a
    revoked certificate is refused, and so is every certificate whose issuer has no CRL
    here or whose CRL is past its nextUpdate: revocation fails closed. The CA
    certificates themselves are not checked (``CRL_CHECK_ALL`` would require a CRL from
    each root about itself, which commercial roots do not publish per se).

    Raises `TlsConfigurationError` naming the file at fault.
    """
    if not ca_files:
        raise TlsConfigurationError("at least one CA file is needed to verify clients")
    chain = _load_certificates(cert_file)
    key = _load_private_key(key_file)
    if _spki(key.public_key()) != _spki(chain[0].public_key()):
        raise TlsConfigurationError(f"private key {key_file} does not match {cert_file}")
    cas = [ca for path in ca_files for ca in _load_certificates(path)]
    crls = [crl for path in crl_files for crl in _load_crls(path, cas)]

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
    # OpenSSL frees an idle connection's read and write buffers (~34 KB): hundreds of open
    # keep-alive or abusive idle connections then cost far less memory (bench/abuse.py).
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)
    for ca in cas:
        # Advertise the acceptable issuers, so clients with several certificates
        # (Java keystores, SoapUI) pick the right one.
        context.add_client_ca(ca)
    if crls:
        # The trust root went into this very store; the CRLs join it.
        store = context.get_cert_store()
        if store is None:  # pragma: no cover - a context always has a store
            raise TlsConfigurationError("the TLS context has no certificate store")
        for crl in crls:
            store.add_crl(crl)
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK)
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
    return _described(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert))


def tls_error_text(error: BaseException | None) -> str:
    """OpenSSL's reasons of a pyOpenSSL error, e.g. "tlsv1 alert unknown ca"."""
    entries = error.args[0] if error is not None and error.args else None
    if not isinstance(entries, list):
        return str(error) or type(error).__name__
    return "; ".join(str(e[2]) for e in entries if isinstance(e, tuple) and len(e) == 3) or "?"


@functools.lru_cache(maxsize=256)
def _described(der: bytes) -> ClientCertificate:
    """Remembered by the certificate's own bytes, of which the description is a function
    alone: a client presents the same certificate on every request, and describing it
    (subject, issuer, fingerprint, key usages) was ~2.5% of an exchange's CPU (issue #17)."""
    return certificate_of(crypto.load_certificate(crypto.FILETYPE_ASN1, der))


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


_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)


def _load_crls(path: Path, cas: Sequence[x509.Certificate]) -> list[x509.CertificateRevocationList]:
    """The CRLs of *path*, each checked against its issuer among *cas*."""
    data = _read(path, "CRL file")
    try:
        if b"-----BEGIN" in data:
            blocks = _PEM_CRL.findall(data)
            if not blocks:
                raise ValueError("no X509 CRL block")
            crls = [x509.load_pem_x509_crl(block) for block in blocks]
        else:
            crls = [x509.load_der_x509_crl(data)]
    except ValueError as exc:
        raise TlsConfigurationError(f"{path} is not a PEM or DER CRL file: {exc}") from exc
    now = datetime.datetime.now(datetime.UTC)
    for crl in crls:
        issuer = next((ca for ca in cas if _issued(crl, ca)), None)
        if issuer is None:
            # OpenSSL would silently never use it (and then refuse every client of the CA
            # whose CRL it was meant to be): say so now.
            raise TlsConfigurationError(
                f"CRL {path} (issuer {crl.issuer.rfc4514_string()}) is not signed by any client CA"
            )
        next_update = crl.next_update_utc
        if next_update is not None and next_update < now:
            log.warning(
                "CRL %s expired on %s: clients of %s are refused until it is renewed",
                path,
                next_update.isoformat(),
                issuer.subject.rfc4514_string(),
            )
    return crls


def _issued(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    if crl.issuer != ca.subject:
        return False
    public_key = ca.public_key()
    # Only these key types can sign a CRL; the signature check needs one of them.
    if not isinstance(
        public_key,
        rsa.RSAPublicKey
        | dsa.DSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        return False
    return crl.is_signature_valid(public_key)


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
