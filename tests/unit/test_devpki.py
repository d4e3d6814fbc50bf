"""The development PKI: layout, idempotence and certificate contents."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from selfemployed_gateway.bindings import load_bindings
from selfemployed_gateway.devpki import (
    PKCS12_PASSWORD,
    CertKey,
    DevPki,
    ensure_dev_pki,
    write_pkcs12,
)

CLIENT_IDS = ("bcss", "acme-test")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), CLIENT_IDS)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def common_name(cert: x509.Certificate) -> str:
    (attribute,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attribute.value)


def eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


EXPECTED_FILES = {
    "client-bindings.toml",
    "inasti.crt",
    "inasti.key",
    "gateway-client.crt",
    "gateway-client.key",
    "audit-encryption.key",
    "audit-ssin-hash.key",
    "ca.crt",
    "ca.key",
    "server.crt",
    "server.key",
    "clients/bcss.crt",
    "clients/bcss.key",
    "clients/bcss.p12",
    "clients/acme-test.crt",
    "clients/acme-test.key",
    "clients/acme-test.p12",
    "clients/stranger.crt",
    "clients/stranger.key",
    "clients/stranger.p12",
    "rogue-ca.crt",
    "rogue-ca.key",
    "rogue.crt",
    "rogue.key",
    "expired.crt",
    "expired.key",
    "not-yet-valid.crt",
    "not-yet-valid.key",
}


def test_layout(pki: DevPki) -> None:
    assert set(snapshot(pki.root)) == EXPECTED_FILES
    assert set(pki.clients) == {*CLIENT_IDS, "stranger"}
    assert all(pair.exists() for pair in pki.pairs())
    assert pki.clients["bcss"] == CertKey(
        pki.root / "clients" / "bcss.crt", pki.root / "clients" / "bcss.key"
    )


def test_folders_are_the_owners_only(pki: DevPki) -> None:
    """The keys' folders are 0700 (issue #13: 0644 files in a 0755 folder were readable)."""
    assert stat.S_IMODE(pki.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((pki.root / "clients").stat().st_mode) == 0o700


def test_each_client_is_bound_to_its_certificate(pki: DevPki) -> None:
    """R-11: client-bindings.toml binds each client (not the stranger) to subject, issuer and
    fingerprint of its own certificate."""
    bindings = load_bindings(pki.bindings)
    assert set(bindings) == set(CLIENT_IDS)
    for client_id in CLIENT_IDS:
        certificate = x509.load_pem_x509_certificate(pki.clients[client_id].cert.read_bytes())
        binding = bindings[client_id]
        assert binding.subject == certificate.subject.rfc4514_string()
        assert binding.issuer == certificate.issuer.rfc4514_string()
        assert binding.sha256 == (certificate.fingerprint(hashes.SHA256()).hex(),)


def test_keys_are_private_unencrypted_p256(pki: DevPki) -> None:
    for pair in pki.pairs():
        assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600, pair.key
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == "secp256r1"
        assert key.public_key() == load(pair.cert).public_key(), pair


def test_second_call_changes_nothing(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, CLIENT_IDS)
    before = snapshot(tmp_path)
    ensure_dev_pki(tmp_path, CLIENT_IDS)
    assert snapshot(tmp_path) == before


def test_adds_only_missing_files(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, ["bcss"])
    pki.server.key.unlink()  # a certificate without its key is regenerated as a pair
    before = snapshot(tmp_path)
    pki = ensure_dev_pki(tmp_path, ["bcss", "newcomer"])
    after = snapshot(tmp_path)

    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {
        "server.crt",
        "server.key",
        "clients/newcomer.crt",
        "clients/newcomer.key",
        "clients/newcomer.p12",
        "client-bindings.toml",  # the newcomer is bound
    }
    load(pki.server.cert).verify_directly_issued_by(load(pki.ca.cert))


def test_missing_ca_regenerates_everything(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, ["bcss"])
    before = snapshot(tmp_path)
    pki.ca.cert.unlink()
    ensure_dev_pki(tmp_path, ["bcss"])
    after = snapshot(tmp_path)

    assert set(after) == set(before)
    # Everything but the audit trail's keys: rows sealed with them must stay readable.
    kept = {"audit-encryption.key", "audit-ssin-hash.key"}
    assert all(after[name][1] != before[name][1] for name in set(after) - kept)
    assert all(after[name] == before[name] for name in kept)
    ca = load(pki.ca.cert)
    for pair in [pki.server, *pki.clients.values()]:
        load(pair.cert).verify_directly_issued_by(ca)


def test_rejects_client_ids_that_are_not_file_names(tmp_path: Path) -> None:
    for bad in ["", "../evil", "a/b", ".hidden"]:
        with pytest.raises(ValueError, match="client id"):
            ensure_dev_pki(tmp_path, [bad])
    assert not any(tmp_path.iterdir())


def test_ca(pki: DevPki) -> None:
    ca = load(pki.ca.cert)
    assert common_name(ca) == "selfemployed-gateway development CA"
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert datetime.timedelta(days=3650) <= lifetime <= datetime.timedelta(days=3651)


def test_server_certificate(pki: DevPki) -> None:
    server = load(pki.server.cert)
    server.verify_directly_issued_by(load(pki.ca.cert))
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert eku(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_server_hosts(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, [], hosts=["gateway.test", "::1"])
    san = load(pki.server.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["gateway.test"]
    assert san.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("::1")]


@pytest.mark.parametrize("client_id", [*CLIENT_IDS, "stranger"])
def test_client_certificates(pki: DevPki, client_id: str) -> None:
    cert = load(pki.clients[client_id].cert)
    assert common_name(cert) == client_id
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "selfemployed-gateway dev"
    )
    assert eku(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(load(pki.ca.cert))
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    lifetime = cert.not_valid_after_utc - now
    assert datetime.timedelta(days=824) < lifetime <= datetime.timedelta(days=825)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = load(pki.ca.cert).extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ski.value.digest


def test_serial_numbers_are_distinct(pki: DevPki) -> None:
    serials = [load(pair.cert).serial_number for pair in pki.pairs()]
    assert len(set(serials)) == len(serials)


def test_rogue_is_not_issued_by_the_dev_ca(pki: DevPki) -> None:
    rogue = load(pki.rogue.cert)
    rogue_ca = load(pki.rogue_ca.cert)
    assert common_name(rogue) == "rogue"
    assert eku(rogue) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    rogue.verify_directly_issued_by(rogue_ca)
    with pytest.raises((ValueError, InvalidSignature)):
        rogue.verify_directly_issued_by(load(pki.ca.cert))
    assert rogue_ca.public_key() != load(pki.ca.cert).public_key()


def test_expired(pki: DevPki) -> None:
    cert = load(pki.expired.cert)
    cert.verify_directly_issued_by(load(pki.ca.cert))
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_after_utc < now
    assert now - cert.not_valid_after_utc <= datetime.timedelta(days=1, minutes=5)
    assert eku(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_not_yet_valid(pki: DevPki) -> None:
    cert = load(pki.not_yet_valid.cert)
    cert.verify_directly_issued_by(load(pki.ca.cert))
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc > now
    assert cert.not_valid_before_utc - now <= datetime.timedelta(days=1)
    assert eku(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize("client_id", [*CLIENT_IDS, "stranger"])
def test_client_pkcs12_bundles(pki: DevPki, client_id: str) -> None:
    """clients/<id>.p12 opens with PKCS12_PASSWORD and holds the client's certificate and key."""
    assert PKCS12_PASSWORD == "selfemployed"
    bundle_path = pki.pkcs12(client_id)
    assert bundle_path == pki.root / "clients" / f"{client_id}.p12"
    assert stat.S_IMODE(bundle_path.stat().st_mode) == 0o600
    bundle = pkcs12.load_pkcs12(bundle_path.read_bytes(), PKCS12_PASSWORD.encode())
    certificate = load(pki.clients[client_id].cert)
    assert bundle.cert is not None
    assert bundle.cert.certificate == certificate
    assert bundle.cert.friendly_name == client_id.encode()
    assert bundle.key is not None
    assert bundle.key.public_key() == certificate.public_key()
    assert bundle.additional_certs == []
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(bundle_path.read_bytes(), b"wrong")


def test_regenerated_client_pair_gets_a_new_bundle(tmp_path: Path) -> None:
    """A client pair regenerated (here: its key was lost) never keeps the old bundle."""
    pki = ensure_dev_pki(tmp_path, ["bcss"])
    pki.clients["bcss"].key.unlink()
    pki = ensure_dev_pki(tmp_path, ["bcss"])
    bundle = pkcs12.load_pkcs12(pki.pkcs12("bcss").read_bytes(), PKCS12_PASSWORD.encode())
    assert bundle.cert is not None
    assert bundle.cert.certificate == load(pki.clients["bcss"].cert)


def test_missing_bundle_is_written_alone(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, ["bcss"])
    pki.pkcs12("bcss").unlink()
    before = snapshot(tmp_path)
    ensure_dev_pki(tmp_path, ["bcss"])
    after = snapshot(tmp_path)
    assert {name for name in after if before.get(name) != after[name]} == {"clients/bcss.p12"}


def test_write_pkcs12(pki: DevPki, tmp_path: Path) -> None:
    out = tmp_path / "bcss.p12"
    pair = pki.clients["bcss"]
    write_pkcs12(pair.cert, pair.key, out, b"changeit")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bundle = pkcs12.load_pkcs12(out.read_bytes(), b"changeit")
    assert bundle.cert is not None
    assert bundle.cert.certificate == load(pair.cert)
    assert bundle.cert.friendly_name == b"bcss"
    assert bundle.key is not None
    assert bundle.key.public_key() == load(pair.cert).public_key()
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(out.read_bytes(), b"wrong")


def test_write_pkcs12_refuses_a_mismatched_key(pki: DevPki, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not match"):
        write_pkcs12(pki.server.cert, pki.ca.key, tmp_path / "x.p12", b"changeit")
    with pytest.raises(ValueError, match="password"):
        write_pkcs12(pki.server.cert, pki.server.key, tmp_path / "x.p12", b"")
    assert not (tmp_path / "x.p12").exists()
