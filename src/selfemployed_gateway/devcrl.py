"""Certificate revocation lists of the development CA, for tests and `docs/tls.md`.

Apart from `devpki`, which lays out the certificates: a CRL is written later, on demand,
over the file a running gateway watches. Nothing here is meant for production.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from selfemployed_gateway.devpki import CLOCK_SKEW, ONE_DAY, DevPki, load_ec_pair
from selfemployed_gateway.files import write_file


def write_crl(
    pki: DevPki, revoked: Sequence[Path], out: Path, *, next_update_days: int = 30
) -> None:
    """Write a PEM CRL of the dev CA revoking the certificates *revoked* (PEM files).

    The CRL is valid from now (backdated by the clock skew allowance) until
    *next_update_days* from now; a negative number gives a CRL already past its
    nextUpdate, as a stale CRL looks. It carries a CRL number that grows with time
    and is always above the number of the CRL *out* held (RFC 5280 §5.2.3: numbers only
    grow, even for two CRLs written in the same millisecond), so a newer CRL supersedes
    an older one. *out* is overwritten atomically.

    Raises ValueError for a certificate the dev CA did not issue: its serial number
    would mean nothing in this CRL.
    """
    ca_key, ca_cert = load_ec_pair(pki.ca)
    now = datetime.datetime.now(datetime.UTC)
    next_update = now + datetime.timedelta(days=next_update_days)
    last_update = min(now - CLOCK_SKEW, next_update - ONE_DAY)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(last_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(next_crl_number(out, now)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    for path in revoked:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        if cert.issuer != ca_cert.subject:
            raise ValueError(f"{path} is not issued by the dev CA {pki.ca.cert}")
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(last_update)
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    write_file(out, crl.public_bytes(serialization.Encoding.PEM), 0o644)


def next_crl_number(out: Path, now: datetime.datetime) -> int:
    """Milliseconds since the epoch, or one more than the number of the CRL at *out*."""
    number = int(now.timestamp() * 1000)
    try:
        previous = x509.load_pem_x509_crl(out.read_bytes())
        last = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except (OSError, ValueError, x509.ExtensionNotFound):
        return number  # no CRL there yet, or not one of ours: time alone
    return max(number, last + 1)
