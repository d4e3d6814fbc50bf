"""suppliers/tls.py: the client side of mutual TLS to INASTI (R-22, R-61)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from selfemployed_gateway.devpki import DevPki, ensure_dev_pki
from selfemployed_gateway.errors import ConfigurationError, SupplierError
from selfemployed_gateway.settings import SupplierTlsSettings
from selfemployed_gateway.suppliers.tls import check_pinned, client_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), ["cpas-namur"])


def test_a_ca_file_replaces_the_public_roots(pki: DevPki) -> None:
    context = client_context(SupplierTlsSettings(ca=[pki.ca.cert]))
    assert [c["subject"] for c in context.get_ca_certs()] == [x509_subject_tuple(pki.ca.cert)]
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED


def test_without_a_ca_the_public_roots_are_trusted() -> None:
    assert len(client_context(SupplierTlsSettings()).get_ca_certs()) > 50


def test_bad_files_are_named(pki: DevPki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n", encoding="ascii")
    with pytest.raises(ConfigurationError, match=r"supplier\.tls\.ca"):
        client_context(SupplierTlsSettings(ca=[junk]))
    wrong_key = SupplierTlsSettings(certificate=pki.gateway_client.cert, private_key=pki.ca.key)
    with pytest.raises(ConfigurationError, match=r"supplier\.tls\.certificate"):
        client_context(wrong_key)


def test_the_gateway_certificate_is_presented(pki: DevPki) -> None:
    settings = SupplierTlsSettings(
        ca=[pki.ca.cert],
        certificate=pki.gateway_client.cert,
        private_key=pki.gateway_client.key,
    )
    assert isinstance(client_context(settings), ssl.SSLContext)  # the pair loaded


def test_a_pin_is_the_certificate_sha256(pki: DevPki) -> None:
    certificate = x509.load_pem_x509_certificate(pki.inasti.cert.read_bytes())
    der = certificate.public_bytes(serialization.Encoding.DER)
    pin = certificate.fingerprint(hashes.SHA256()).hex()
    check_pinned(der, [pin])
    check_pinned(der, [])  # no pins: no check
    with pytest.raises(SupplierError, match="is not pinned"):
        check_pinned(der, ["00" * 32])
    with pytest.raises(SupplierError, match="sha256 none"):
        check_pinned(None, [pin])


def x509_subject_tuple(path: Path) -> tuple[tuple[tuple[str, str], ...], ...]:
    """The subject of a PEM certificate as ssl.SSLContext.get_ca_certs() writes it."""
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    names = {"O": "organizationName", "CN": "commonName"}
    return tuple(((names[a.rfc4514_attribute_name], str(a.value)),) for a in certificate.subject)
