"""The transport under httpx for supplier calls: aiohttp, chosen by measurement (issue #17).

httpx stays the API of `suppliers/http.py`; only the bytes on the wire go through aiohttp
(`httpx-aiohttp`'s `AiohttpTransport`). Measured here, sequential calls to the simulator on one
keep-alive connection, CPU of the calling process: httpx's own transport (httpcore) 1.8–3.1 ms
per call, this one 0.7–1.1 ms (docs/performance.md).

Each transport owns one aiohttp session whose connector holds at most one connection, like
the single-connection slots of `SupplierHttp`: a call that fails is discarded with its
transport, connection and all. aiohttp checks the certificate against the calls' own
`ssl.SSLContext` (CA, host name, our certificate); `PinningConnector` adds the pins of
`supplier.tls.pinned_sha256`, checked right after the handshake, before a byte of the request
(which names a person) is sent (R-22).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from httpx_aiohttp import AiohttpTransport

from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.suppliers.tls import check_pinned


class PinningConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses a server certificate outside `pinned` (SHA-256 hex)."""

    def __init__(self, *, pinned: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pinned = list(pinned)

    # aiohttp's one place where every new connection (TLS handshake done) passes: its own
    # fingerprint check hooks in right after it, but takes one SHA-256 and aiohttp's default
    # context instead of ours.
    async def _wrap_create_connection(
        self, *args: Any, **kwargs: Any
    ) -> tuple[asyncio.Transport, Any]:
        transport, protocol = await super()._wrap_create_connection(*args, **kwargs)
        if self._pinned:
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            try:
                check_pinned(der, self._pinned)
            except SupplierError:
                transport.abort()
                raise
        return transport, protocol


def aiohttp_transport(
    tls: ssl.SSLContext, pinned: list[str], keepalive_seconds: float
) -> AiohttpTransport:
    """A transport of one connection at most, made on first use (on the running loop, which
    aiohttp requires) and closed by `SupplierHttp`."""

    def session() -> aiohttp.ClientSession:
        connector = PinningConnector(
            pinned=pinned, ssl=tls, limit=1, keepalive_timeout=keepalive_seconds
        )
        # No cookie is kept: one INASTI might set must not ride along on a later call,
        # which may be about another person (each call stands alone).
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    # `verify`: without our context the transport builds one from certifi's bundle, ~50 ms of
    # CPU for each new connection (it then goes unused: the session has ours).
    return AiohttpTransport(verify=tls, trust_env=False, client=session)
