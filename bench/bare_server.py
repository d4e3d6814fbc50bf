"""The baseline: the least a Twisted server can do for one consultCareer over mutual TLS.

Same TLS as the gateway (`selfemployed_gateway.tls.server_tls_options`, same PKI), same
`twisted.web.server.Site`; the resource parses the request body with lxml (the gateway's
hardened parser settings) and answers a pre-built response: the bytes of a real DATA_FOUND
answer captured from the gateway. No thread pool, no SOAP stack, no pipeline, no audit, no
logging: the limit of this stack on this machine.

    python -m bench.bare_server --cert S.crt --key S.key --ca CA.crt --response FILE [--port 0]

Prints one JSON line `{"event": "ready", "port": N}` once listening on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lxml import etree
from twisted.internet import reactor
from twisted.web import resource, server

from selfemployed_gateway.tls import server_tls_options


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


class BareConsult(resource.Resource):
    isLeaf = True

    def __init__(self, answer: bytes) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.answer = answer

    def render_POST(self, request: server.Request) -> bytes:
        body = request.content.read() if request.content is not None else b""
        root = etree.fromstring(body, _parser())
        if root is None:  # pragma: no cover - fromstring raises instead
            request.setResponseCode(400)
            return b""
        request.setHeader(b"Content-Type", b"text/xml; charset=utf-8")  # type: ignore[no-untyped-call]
        return self.answer


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--cert", type=Path, required=True)
    arguments.add_argument("--key", type=Path, required=True)
    arguments.add_argument("--ca", type=Path, required=True)
    arguments.add_argument("--response", type=Path, required=True)
    arguments.add_argument("--port", type=int, default=0)
    options = arguments.parse_args()

    site = server.Site(BareConsult(options.response.read_bytes()))  # type: ignore[no-untyped-call]
    site.noisy = False
    site.displayTracebacks = False
    tls = server_tls_options(options.cert, options.key, [options.ca])
    port = reactor.listenSSL(options.port, site, tls, interface="127.0.0.1")
    print(json.dumps({"event": "ready", "port": port.getHost().port}), flush=True)
    reactor.run()  # type: ignore[misc]


if __name__ == "__main__":
    main()
