"""The HTTP side of a TLS connection: counts connections lost to a TLS error.

A client without a valid certificate never reaches a resource: the handshake (or, in TLS 1.3,
the first read) fails and the connection is lost with an OpenSSL error. That is the only
place to see it, for the `seg_tls_handshake_failures_total` metric.
"""

from __future__ import annotations

from typing import Any

from OpenSSL import SSL
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http, server

from selfemployed_gateway.metrics import GatewayMetrics


class CountingChannel(http.HTTPChannel):
    site: Any  # set by Site.buildProtocol

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if reason.check(SSL.Error) is not None:
            self.site.metrics.tls_handshake_failures.inc()
        super().connectionLost(reason)


class GatewaySite(server.Site):
    protocol = CountingChannel  # type: ignore[assignment]  # plain HTTP/1.1 channel

    def __init__(self, resource: Any, metrics: GatewayMetrics) -> None:
        super().__init__(resource)
        self.metrics = metrics
        self.displayTracebacks = False
        self.noisy = False
