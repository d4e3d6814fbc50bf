"""The baselines: the least a Twisted server can do for one consultCareer over mutual TLS.

Same TLS as the gateway (`selfemployed_gateway.tls.server_tls_options`, same PKI), same
`twisted.web.server.Site`; the resource parses the request body with lxml (the gateway's
hardened parser settings) and answers a pre-built response: the bytes of a real DATA_FOUND
answer captured from the gateway. No SOAP stack, no pipeline, no audit, no logging.

- **bare responder** (default): nothing else — the absolute limit of this stack here;
- **bare proxy** (`--supplier URL --supplier-request FILE`): also makes the one supplier call
  a gateway must make — POSTs INASTI's request (the bytes the gateway sends) to the same
  simulator with the cheapest client measured here (aiohttp, one keep-alive pool on Twisted's
  asyncio reactor, as the gateway's loop) and parses INASTI's answer with lxml. The limit of
  *a gateway* on this stack (issue #17).

    python -m bench.bare_server --cert S.crt --key S.key --ca CA.crt --response FILE [--port 0]
        [--supplier URL --supplier-request FILE --soap-action ACTION]

Prints one JSON line `{"event": "ready", "port": N}` once listening on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from lxml import etree

_LOOP = asyncio.new_event_loop()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--cert", type=Path, required=True)
    arguments.add_argument("--key", type=Path, required=True)
    arguments.add_argument("--ca", type=Path, required=True)
    arguments.add_argument("--response", type=Path, required=True)
    arguments.add_argument("--port", type=int, default=0)
    arguments.add_argument("--supplier", help="URL of the simulator (bare proxy)")
    arguments.add_argument("--supplier-request", type=Path)
    arguments.add_argument("--soap-action", default="")
    options = arguments.parse_args()

    # The gateway's reactor: Twisted on an asyncio loop (cli.py), installed before any import
    # of twisted.internet.reactor.
    from twisted.internet import asyncioreactor

    asyncioreactor.install(_LOOP)
    from twisted.internet import reactor

    from selfemployed_gateway.tls import server_tls_options

    answer = options.response.read_bytes()
    if options.supplier:
        resource: Any = _proxy_resource(
            answer, options.supplier, options.supplier_request.read_bytes(), options.soap_action
        )
    else:
        resource = _responder_resource(answer)
    from twisted.web import server

    site = server.Site(resource)
    site.noisy = False
    site.displayTracebacks = False
    tls = server_tls_options(options.cert, options.key, [options.ca])
    port = reactor.listenSSL(options.port, site, tls, interface="127.0.0.1")
    print(json.dumps({"event": "ready", "port": port.getHost().port}), flush=True)
    reactor.run()


def _responder_resource(answer: bytes) -> Any:
    from twisted.web import resource, server

    class BareConsult(resource.Resource):
        isLeaf = True

        def render_POST(self, request: server.Request) -> bytes:
            body = request.content.read() if request.content is not None else b""
            etree.fromstring(body, _parser())
            request.setHeader(b"Content-Type", b"text/xml; charset=utf-8")
            return answer

    return BareConsult()


def _proxy_resource(answer: bytes, url: str, supplier_request: bytes, action: str) -> Any:
    import aiohttp
    from twisted.internet.defer import Deferred
    from twisted.web import resource, server

    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    sessions: list[aiohttp.ClientSession] = []

    async def call() -> None:
        if not sessions:  # made on the running loop, as aiohttp wants
            sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)))
        async with sessions[0].post(url, data=supplier_request, headers=headers) as response:
            supplied = await response.read()
        if response.status != 200:
            raise RuntimeError(f"supplier answered HTTP {response.status}")
        etree.fromstring(supplied, _parser())

    class BareProxy(resource.Resource):
        isLeaf = True

        def render_POST(self, request: server.Request) -> int:
            body = request.content.read() if request.content is not None else b""
            etree.fromstring(body, _parser())
            done = Deferred.fromFuture(_LOOP.create_task(call()))

            def answered(_: object) -> None:
                request.setHeader(b"Content-Type", b"text/xml; charset=utf-8")
                request.write(answer)
                request.finish()

            def failed(failure: Any) -> None:
                request.setResponseCode(502)
                request.write(str(failure.value).encode()[:200])
                request.finish()

            done.addCallbacks(answered, failed)
            return server.NOT_DONE_YET

    return BareProxy()


if __name__ == "__main__":
    main()
