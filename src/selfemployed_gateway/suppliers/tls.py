"""Mutual TLS to INASTI (R-22, R-61): the client side of the supplier connection.

`client_context` is the one `ssl.SSLContext` of a supplier: TLS 1.2 at least, the server's
certificate verified against `supplier.tls.ca` (or the public roots) with its host name, and
the gateway's own certificate presented when `supplier.tls.certificate` is set. With
`supplier.tls.pinned_sha256`, the server's certificate must also be one of those: checked on
each new connection right after the handshake (`transport.PinningConnector`), before a byte
of the request (which names a person) is sent. A certificate problem becomes MSG00002
(`SupplierError`); its TLS reason goes to the log line of the call, never to the answer.
"""

from __future__ import annotations

import hashlib
import ssl

import httpx

from selfemployed_gateway import codes
from selfemployed_gateway.errors import ConfigurationError, SupplierError
from selfemployed_gateway.settings import SupplierTlsSettings


def client_context(settings: SupplierTlsSettings) -> ssl.SSLContext:
    """The context of every connection to the supplier; `ConfigurationError` naming the file."""
    if settings.ca:
        # Given a CA file, the default context loads no public root: only these are trusted.
        try:
            context = ssl.create_default_context(cafile=str(settings.ca[0]))
            for path in settings.ca[1:]:
                context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(f"supplier.tls.ca: {settings.ca}: {error}") from error
    else:
        context = httpx.create_ssl_context(trust_env=False)  # the public roots (certifi)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if settings.certificate is not None and settings.private_key is not None:
        try:
            context.load_cert_chain(str(settings.certificate), str(settings.private_key))
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(
                f"supplier.tls.certificate: {settings.certificate} with "
                f"{settings.private_key}: {error}"
            ) from error
    return context


def check_pinned(der: bytes | None, pinned: list[str]) -> None:
    """The server certificate (DER) is one of `pinned` (SHA-256 hex), else MSG00002."""
    if not pinned:
        return
    found = hashlib.sha256(der).hexdigest() if der else "none"
    if found not in pinned:
        raise SupplierError(
            codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
            f"TLS: server certificate sha256 {found} is not pinned (supplier.tls.pinned_sha256)",
        )
