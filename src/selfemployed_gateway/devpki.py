"""A throwaway PKI for development and tests.

``ensure_dev_pki`` lays out a CA, a server certificate and client certificates
under one directory, plus the odd ones the TLS tests need (a foreign CA, an
expired and a not-yet-valid certificate). Each client certificate also comes as
a PKCS#12 bundle ``clients/<id>.p12`` (certificate + key) for tools that want a
keystore, such as SoapUI or a browser. It is idempotent: existing files are
kept, so a running development setup keeps its certificates across restarts.

Nothing here is meant for production: keys are written unencrypted, and the
PKCS#12 bundles use the published password `PKCS12_PASSWORD`.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from selfemployed_gateway.bindings import write_bindings
from selfemployed_gateway.devsecrets import ensure_dev_secrets
from selfemployed_gateway.files import write_file

CA_COMMON_NAME = "selfemployed-gateway development CA"
ROGUE_CA_COMMON_NAME = "selfemployed-gateway rogue CA"
ORGANIZATION = "selfemployed-gateway dev"
STRANGER = "stranger"

#: Password of the development bundles ``clients/<id>.p12``. DEVELOPMENT ONLY: it is
#: published here and in examples/README.md, so these bundles protect nothing.
PKCS12_PASSWORD = "selfemployed"

LEAF_VALIDITY = datetime.timedelta(days=825)
CA_VALIDITY = datetime.timedelta(days=3650)
# Backdate notBefore a little so a peer with a slightly slow clock accepts fresh certificates.
CLOCK_SKEW = datetime.timedelta(hours=1)
ONE_DAY = datetime.timedelta(days=1)

_KeyAndCert = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


@dataclass(frozen=True)
class CertKey:
    """A PEM certificate and its PEM private key."""

    cert: Path
    key: Path

    def exists(self) -> bool:
        """Both files are present."""
        return self.cert.is_file() and self.key.is_file()


@dataclass(frozen=True)
class DevPki:
    """Paths of the development PKI laid out by `ensure_dev_pki`."""

    root: Path
    ca: CertKey
    server: CertKey
    #: Client certificates issued by the dev CA, by client id; always includes "stranger".
    clients: Mapping[str, CertKey] = field(hash=False)
    rogue_ca: CertKey
    #: Client certificate "rogue", issued by the rogue CA.
    rogue: CertKey
    #: Client certificate from the dev CA whose validity ended yesterday.
    expired: CertKey
    #: Client certificate from the dev CA valid from tomorrow (at creation time).
    not_yet_valid: CertKey
    #: Mutual TLS to INASTI (R-61): the simulator's server certificate, the gateway's client one.
    inasti: CertKey
    gateway_client: CertKey

    @classmethod
    def at(cls, root: Path, client_ids: Sequence[str]) -> DevPki:
        """The layout under *root*, whether or not the files exist yet."""

        def pair(stem: Path) -> CertKey:
            return CertKey(stem.with_name(stem.name + ".crt"), stem.with_name(stem.name + ".key"))

        ids = dict.fromkeys([*client_ids, STRANGER])  # ordered, deduplicated
        return cls(
            root=root,
            ca=pair(root / "ca"),
            server=pair(root / "server"),
            clients=MappingProxyType({cid: pair(root / "clients" / cid) for cid in ids}),
            rogue_ca=pair(root / "rogue-ca"),
            rogue=pair(root / "rogue"),
            expired=pair(root / "expired"),
            not_yet_valid=pair(root / "not-yet-valid"),
            inasti=pair(root / "inasti"),
            gateway_client=pair(root / "gateway-client"),
        )

    @property
    def bindings(self) -> Path:
        """``client-bindings.toml``: each client bound to its certificate (tls.client_bindings)."""
        return self.root / "client-bindings.toml"

    def pkcs12(self, client_id: str) -> Path:
        """The PKCS#12 bundle ``clients/<id>.p12`` of a client (password `PKCS12_PASSWORD`)."""
        return self.clients[client_id].cert.with_name(client_id + ".p12")

    def pairs(self) -> list[CertKey]:
        """Every certificate/key pair, issuers first."""
        return [
            self.ca,
            self.server,
            *self.clients.values(),
            self.rogue_ca,
            self.rogue,
            self.expired,
            self.not_yet_valid,
            self.inasti,
            self.gateway_client,
        ]


def ensure_dev_pki(
    root: Path,
    client_ids: Sequence[str],
    *,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
) -> DevPki:
    """Create whatever is missing of the development PKI under *root*.

    Existing files are never rewritten, with two exceptions: a certificate
    without its key (or the reverse) is regenerated as a pair, and if the dev
    CA is incomplete every pair is regenerated, since leaves are useless
    without their issuer. A client's PKCS#12 bundle is written when it is
    missing or when its pair was regenerated. Files are therefore not updated when *hosts* change
    or time passes: "not-yet-valid" becomes valid a day after creation, so
    tests relying on it should use a fresh *root*.

    *hosts* become the server certificate's subjectAltName entries (IP
    addresses as iPAddress, anything else as dNSName).
    """
    for cid in client_ids:
        _check_client_id(cid)
    pki = DevPki.at(root, client_ids)
    # Keys inside: only the owner may enter (an existing folder is tightened too).
    for folder in (root, root / "clients"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)

    now = datetime.datetime.now(datetime.UTC)
    if pki.ca.exists():
        ca = load_ec_pair(pki.ca)
        regenerate_all = False
    else:
        ca = _make_ca(CA_COMMON_NAME, now)
        _store(pki.ca, *ca)
        regenerate_all = True

    def missing(pair: CertKey) -> bool:
        return regenerate_all or not pair.exists()

    start, end = now - CLOCK_SKEW, now + LEAF_VALIDITY
    if missing(pki.server):
        _store(pki.server, *_make_server(ca, hosts, start, end))
    for cid, pair in pki.clients.items():
        bundle = pki.pkcs12(cid)
        if missing(pair):
            bundle.unlink(missing_ok=True)  # it holds the old pair
            _store(pair, *_make_client(ca, cid, start, end))
        if not bundle.is_file():
            write_pkcs12(pair.cert, pair.key, bundle, PKCS12_PASSWORD.encode())
    if missing(pki.expired):
        # Ended yesterday; started a month before so the window looks ordinary.
        _store(pki.expired, *_make_client(ca, "expired", now - 30 * ONE_DAY, now - ONE_DAY))
    if missing(pki.not_yet_valid):
        tomorrow = now + ONE_DAY
        _store(
            pki.not_yet_valid,
            *_make_client(ca, "not-yet-valid", tomorrow, tomorrow + LEAF_VALIDITY),
        )

    if missing(pki.inasti):  # "simulator": its host name in docker/compose.yaml
        _store(pki.inasti, *_make_server(ca, [*hosts, "simulator"], start, end))
    if missing(pki.gateway_client):
        _store(pki.gateway_client, *_make_client(ca, "selfemployed-gateway", start, end))
    # The rogue CA is unrelated to the dev CA, but its leaf depends on it.
    if missing(pki.rogue_ca):
        rogue_ca = _make_ca(ROGUE_CA_COMMON_NAME, now)
        _store(pki.rogue_ca, *rogue_ca)
        _store(pki.rogue, *_make_client(rogue_ca, "rogue", start, end))
    elif missing(pki.rogue):
        _store(pki.rogue, *_make_client(load_ec_pair(pki.rogue_ca), "rogue", start, end))
    ensure_dev_secrets(root)  # the audit trail's development keys, beside the PKI
    # Which certificate is which client, rewritten from the files every time: the
    # "stranger" is bound to nobody.
    write_bindings(
        pki.bindings,
        {cid: load_ec_pair(pair)[1] for cid, pair in pki.clients.items() if cid != STRANGER},
    )
    return pki


def write_pkcs12(cert: Path, key: Path, out: Path, password: bytes) -> None:
    """Bundle a PEM certificate and key as a PKCS#12 file, e.g. for SoapUI.

    Uses PBES2 with AES-256 and an HMAC-SHA256 MAC, which Java (8u301+, 11.0.12+)
    keystores read. *out* is overwritten and made readable by its owner only.
    """
    if not password:
        # Java keystores cannot open a PKCS#12 file without a password.
        raise ValueError("a PKCS#12 password is required")
    certificate, private_key = _load_pair(CertKey(cert, key))
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(common_names[0].value).encode() if common_names else None
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    data = pkcs12.serialize_key_and_certificates(name, private_key, certificate, None, encryption)
    write_file(out, data, 0o600)


# -- building certificates ---------------------------------------------------


def _check_client_id(cid: str) -> None:
    # Client ids become file names under clients/.
    if not cid or cid.startswith(".") or any(c in cid for c in "/\\\0"):
        raise ValueError(f"invalid client id {cid!r}: must be usable as a file name")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, digital_signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _make_ca(common_name: str, now: datetime.datetime) -> _KeyAndCert:
    key = ec.generate_private_key(ec.SECP256R1())
    public_key = key.public_key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    issuer: _KeyAndCert,
    common_name: str,
    usage: x509.ObjectIdentifier,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    san: x509.SubjectAlternativeName | None = None,
) -> _KeyAndCert:
    issuer_key, issuer_cert = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return key, builder.sign(issuer_key, hashes.SHA256())


def _make_server(
    ca: _KeyAndCert,
    hosts: Sequence[str],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> _KeyAndCert:
    if not hosts:
        raise ValueError("the server certificate needs at least one host")
    names: list[x509.GeneralName] = []
    dns_names: list[str] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
            dns_names.append(host)
    # Clients match on the SAN; the CN is only for humans reading the certificate.
    common_name = dns_names[0] if dns_names else hosts[0]
    san = x509.SubjectAlternativeName(names)
    return _make_leaf(ca, common_name, ExtendedKeyUsageOID.SERVER_AUTH, not_before, not_after, san)


def _make_client(
    ca: _KeyAndCert,
    common_name: str,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> _KeyAndCert:
    return _make_leaf(ca, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, not_before, not_after)


# -- files ---------------------------------------------------------------------


def _load_pair(pair: CertKey) -> tuple[x509.Certificate, pkcs12.PKCS12PrivateKeyTypes]:
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | dsa.DSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise ValueError(f"{pair.key}: unsupported private key type")
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise ValueError(f"{pair.key} does not match {pair.cert}")
    return cert, key


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_ec_pair(pair: CertKey) -> _KeyAndCert:
    """The EC key and certificate of a pair this PKI wrote (ValueError if they do not match)."""
    cert, key = _load_pair(pair)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pair.key}: expected an EC private key")
    return key, cert


def _store(pair: CertKey, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    # Key first: a crash in between leaves an incomplete pair, which the next run regenerates.
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_file(pair.key, key_pem, 0o600)
    write_file(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
