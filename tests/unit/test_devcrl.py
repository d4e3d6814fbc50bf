"""The development CA's CRLs: their numbering (RFC 5280 §5.2.3).

Their content, and the gateway loading them: tests/e2e/test_tls_policy.py.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509

from selfemployed_gateway.devcrl import next_crl_number, write_crl
from selfemployed_gateway.devpki import DevPki, ensure_dev_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), ("bcss",))


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
