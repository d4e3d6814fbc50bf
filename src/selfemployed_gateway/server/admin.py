"""The admin listener (plain HTTP, loopback by default): `/healthz`, `/readyz`, `/metrics`.

`/healthz` says the process answers; `/readyz` says the configuration is loaded and the
supplier accepts connections now (checked in the event loop's executor, never on the loop).

While the circuit in front of INASTI is open (or half-open), `/readyz` answers **200** with
`"status": "degraded"` and the circuit's state: the replica still answers every call as the
specification says (MSG00002, at once). A 503 there would make a load balancer drain every
replica at the same moment, since INASTI is the same for all of them, and turn coded answers
into connection errors. Alert on `seg_supplier_circuit_state{state="open"}` instead.

With `admin.token_file`, `/metrics` requires `Authorization: Bearer <token>` (401 otherwise);
`/healthz` and `/readyz` stay open: probes must not need a secret, and they tell nothing a
scanner could use beyond "up".
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from twisted.internet.defer import Deferred
from twisted.web import resource, server

from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.server.plain import GetOnly, PlainNode, plain


def _json(request: server.Request, status: int, document: dict[str, Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(document).encode() + b"\n"


class Health(GetOnly):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        return _json(request, 200, {"status": "alive"})


class Readiness(GetOnly):
    isLeaf = True

    def __init__(
        self,
        supplier_reachable: Callable[[], bool],
        loop: asyncio.AbstractEventLoop,
        *,
        circuit: Callable[[], str] = lambda: "closed",
        registry_reachable: Callable[[], Awaitable[bool | None]] | None = None,
    ) -> None:
        super().__init__()
        self.supplier_reachable = supplier_reachable
        self.loop = loop
        self.circuit = circuit
        # The PostgreSQL registers (None: in memory, nothing to reach): without them no
        # exchange can be answered, so they decide readiness too.
        self.registry_reachable = registry_reachable

    def render_GET(self, request: server.Request) -> int:
        circuit = str(self.circuit())
        if circuit != "closed":
            return self._answer(request, 200, "degraded", circuit, None, None)

        async def check() -> tuple[bool, bool | None]:
            supplier = await self.loop.run_in_executor(None, self.supplier_reachable)
            registry = await self.registry_reachable() if self.registry_reachable else None
            return supplier, registry

        checked: Deferred[tuple[bool, bool | None]] = Deferred.fromFuture(
            self.loop.create_task(check())
        )

        def done(result: tuple[bool, bool | None]) -> None:
            supplier, registry = result
            ready = supplier and registry is not False
            state = "ready" if ready else "not ready"
            self._answer(request, 200 if ready else 503, state, circuit, supplier, registry)

        checked.addCallbacks(done, lambda _failure: done((False, None)))
        return server.NOT_DONE_YET

    @staticmethod
    def _answer(
        request: server.Request,
        status: int,
        state: str,
        circuit: str,
        supplier: bool | None,
        registry: bool | None,
    ) -> int:
        body: dict[str, Any] = {
            "status": state,
            "configuration": "loaded",
            "supplier_circuit": circuit,
        }
        if supplier is not None:
            body["supplier"] = "reachable" if supplier else "unreachable"
        if registry is not None:
            body["registry"] = "reachable" if registry else "unreachable"
        request.write(_json(request, status, body))
        request.finish()
        return server.NOT_DONE_YET


class Metrics(GetOnly):
    """`/metrics` in the format the scraper asks for (Prometheus text or OpenMetrics).

    Not `prometheus_client.twisted.MetricsResource`: importing it installs Twisted's default
    reactor, and the gateway needs the asyncio reactor (see `server/gateway.py`)."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry, token: bytes | None = None) -> None:
        super().__init__()
        self.registry = registry
        # admin.token_file: `Authorization: Bearer <token>` required (RFC 6750).
        self.token = token

    def render_GET(self, request: server.Request) -> bytes:
        if self.token is not None and not _bearer_is(request, self.token):
            request.setHeader(b"WWW-Authenticate", b'Bearer realm="selfemployed-gateway admin"')
            return plain(request, 401, b"A bearer token is required (admin.token_file).\n")
        accept = request.getHeader(b"accept")
        encode, content_type = choose_encoder(accept.decode("latin-1") if accept else "")
        request.setHeader(b"Content-Type", content_type.encode())
        return encode(self.registry)


def _bearer_is(request: server.Request, token: bytes) -> bool:
    given = request.getHeader(b"authorization") or b""
    scheme, _, credentials = given.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), token)


def read_token(path: Path) -> bytes:
    """The admin token: the file's first line; `ConfigurationError` if unreadable or short."""
    try:
        token = path.read_bytes().strip()
    except OSError as error:
        raise ConfigurationError(f"admin.token_file: {path}: cannot be read: {error}") from error
    if len(token) < 16 or not token.isascii() or any(c in token for c in b" \t\r\n"):
        raise ConfigurationError(
            f"admin.token_file: {path}: needs one line of at least 16 printable characters"
        )
    return token


def admin_root(readiness: Readiness, metrics: Metrics) -> resource.Resource:
    root = PlainNode()
    # zope interfaces are invisible to mypy: Resource does provide IResource.
    root.putChild(b"metrics", metrics)  # type: ignore[arg-type]
    root.putChild(b"healthz", Health())  # type: ignore[arg-type]
    root.putChild(b"readyz", readiness)  # type: ignore[arg-type]
    return root
