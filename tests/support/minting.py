"""Certificates a penetration tester would mint with a trusted CA's key (issue #13)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from selfemployed_gateway.devpki import CertKey

ONE_DAY = datetime.timedelta(days=1)


def name(**attributes: str) -> x509.Name:
    """x509.Name(O=…, CN=…) in that order (the dev PKI's own order)."""
    oids = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attributes.items()])


def mint(
    folder: Path,
    stem: str,
    subject: x509.Name,
    issuer: CertKey,
    *,
    ca: bool = False,
    client_auth: bool = True,
    key_usage: bool = True,
    server_for: str | None = None,
    days: tuple[int, int] = (-1, 30),
) -> CertKey:
    """A certificate for `subject` signed by `issuer` (a dev PKI pair), written to folder:
    a TLS server's for the IP address `server_for` (serverAuth) if given, else a client's;
    valid from `days[0]` to `days[1]` days from now."""
    issuer_cert = x509.load_pem_x509_certificate(issuer.cert.read_bytes())
    issuer_key = serialization.load_pem_private_key(issuer.key.read_bytes(), password=None)
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + days[0] * ONE_DAY)
        .not_valid_after(now + days[1] * ONE_DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server_for is not None:
        address = x509.IPAddress(ipaddress.ip_address(server_for))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        client_auth = False
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if client_auth:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    certificate = builder.sign(issuer_key, hashes.SHA256())
    return _written(folder, stem, key, certificate)


def self_signed_ca(folder: Path, stem: str, subject: x509.Name) -> CertKey:
    """Another CA (its own key) that a configuration might also trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - ONE_DAY)
        .not_valid_after(now + 30 * ONE_DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _written(folder, stem, key, certificate)


def _written(
    folder: Path, stem: str, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> CertKey:
    pair = CertKey(folder / f"{stem}.crt", folder / f"{stem}.key")
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return pair
