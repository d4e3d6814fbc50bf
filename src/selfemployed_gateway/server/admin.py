"""The admin listener (plain HTTP, loopback by default): `/healthz`, `/readyz`, `/metrics`.

`/healthz` says the process answers; `/readyz` says the configuration is loaded and the
supplier accepts connections now (checked in the event loop's executor, never on the loop).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from twisted.internet.defer import Deferred
from twisted.web import resource, server


def _json(request: server.Request, status: int, document: dict[str, Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(document).encode() + b"\n"


class Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"status": "alive"})


class Readiness(resource.Resource):
    isLeaf = True

    def __init__(
        self, supplier_reachable: Callable[[], bool], loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__()
        self.supplier_reachable = supplier_reachable
        self.loop = loop

    def render_GET(self, request: server.Request) -> int:
        check: Deferred[bool] = Deferred.fromFuture(
            self.loop.run_in_executor(None, self.supplier_reachable)
        )

        def done(reachable: bool) -> None:
            status = 200 if reachable else 503
            body = {
                "status": "ready" if reachable else "not ready",
                "configuration": "loaded",
                "supplier": "reachable" if reachable else "unreachable",
            }
            request.write(_json(request, status, body))
            request.finish()

        check.addCallbacks(done, lambda _failure: done(False))
        return server.NOT_DONE_YET


class Metrics(resource.Resource):
    """`/metrics` in the format the scraper asks for (Prometheus text or OpenMetrics).

    Not `prometheus_client.twisted.MetricsResource`: importing it installs Twisted's default
    reactor, and the gateway needs the asyncio reactor (see `server/gateway.py`)."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: server.Request) -> bytes:
        accept = request.getHeader(b"accept")
        encode, content_type = choose_encoder(accept.decode("latin-1") if accept else "")
        request.setHeader(b"Content-Type", content_type.encode())
        return encode(self.registry)


def admin_root(readiness: Readiness, metrics: Metrics) -> resource.Resource:
    root = resource.Resource()
    # zope interfaces are invisible to mypy: Resource does provide IResource.
    root.putChild(b"metrics", metrics)  # type: ignore[arg-type]
    root.putChild(b"healthz", Health())  # type: ignore[arg-type]
    root.putChild(b"readyz", readiness)  # type: ignore[arg-type]
    return root
