"""A mutual-TLS HTTPS server for tests: answers every GET with the client certificate's CN.

Usage: python tls_echo_server.py CERT KEY CA [CA ...]

Listens on a free port of 127.0.0.1, prints the port number on stdout, then serves
until killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.web import resource, server

from selfemployed_gateway.tls import peer_certificate, server_tls_options


class EchoCommonName(resource.Resource):
    """Answers the client certificate's common name (403 if there is none)."""

    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        cert = peer_certificate(request.transport)
        if cert is None or cert.common_name is None:
            request.setResponseCode(403)
            return b"no client certificate\n"
        return cert.common_name.encode()


def main(argv: list[str]) -> None:
    cert, key, *cas = (Path(arg) for arg in argv)
    options = server_tls_options(cert, key, cas)
    port = reactor.listenSSL(0, server.Site(EchoCommonName()), options, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
