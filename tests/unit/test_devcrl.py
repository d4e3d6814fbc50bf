"""The development CA's CRLs: their content and numbering (RFC 5280 §5.2.3).

The gateway loading them and refusing a revoked client: tests/e2e/test_tls_policy.py.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from selfemployed_gateway.devcrl import next_crl_number, write_crl
from selfemployed_gateway.devpki import DevPki, ensure_dev_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), ("cpas-namur",))


def crl_number(path: Path) -> int:
    crl = x509.load_pem_x509_crl(path.read_bytes())
    return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


def test_a_crl_number_grows_even_within_one_millisecond(pki: DevPki, tmp_path: Path) -> None:
    """RFC 5280 §5.2.3: a CRL's number only grows. Two CRLs written in the same millisecond
    (tests/e2e/test_tls_policy.py::test_write_crl once got two equal numbers) differ."""
    out = tmp_path / "ca.crl.pem"
    write_crl(pki, [], out)
    first = crl_number(out)
    same_millisecond = datetime.datetime.fromtimestamp(first / 1000, datetime.UTC)
    assert next_crl_number(out, same_millisecond) == first + 1
    earlier = same_millisecond - datetime.timedelta(days=1)  # a clock set back
    assert next_crl_number(out, earlier) == first + 1
    assert next_crl_number(tmp_path / "none.crl.pem", same_millisecond) == first
    for _ in range(5):
        before = crl_number(out)
        write_crl(pki, [], out)
        assert crl_number(out) > before


def test_write_crl(pki: DevPki, tmp_path: Path) -> None:
    out = tmp_path / "out.crl.pem"
    revoked = [pki.clients["cpas-namur"].cert, pki.expired.cert]
    write_crl(pki, revoked, out, next_update_days=7)
    crl = x509.load_pem_x509_crl(out.read_bytes())
    ca = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes())
    assert crl.issuer == ca.subject
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(ca_key)
    serials = {x509.load_pem_x509_certificate(p.read_bytes()).serial_number for p in revoked}
    assert {entry.serial_number for entry in crl} == serials
    now = datetime.datetime.now(datetime.UTC)
    assert crl.next_update_utc is not None
    assert datetime.timedelta(days=6) < crl.next_update_utc - now <= datetime.timedelta(days=7)
    assert crl.last_update_utc <= now
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    write_crl(pki, [], out)
    newer = x509.load_pem_x509_crl(out.read_bytes())
    assert newer.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number
    assert len(newer) == 0


def test_write_crl_refuses_a_certificate_of_another_ca(pki: DevPki, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"rogue\.crt"):
        write_crl(pki, [pki.rogue.cert], tmp_path / "out.crl.pem")
