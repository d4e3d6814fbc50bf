"""The built-in INASTI simulator on Twisted: one HTTP resource for both protocols.

A request whose path ends in ``/L302`` is answered by `l302.py` (transitional phase, R-60),
with the L302 mapping of `SimulatorSettings.l302_mapping` (default: ``l302-mapping.toml``
beside the dataset); any other path by `final.py`. The clock is `SimulatorSettings.clock`
(fixed) or real time, and `latency_ms` is added to every answer. A delayed answer waits on
the reactor's clock, not on a thread. Logs never show a NISS in clear, only `ssin_tag`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.server.channel import UnloggedSite
from selfemployed_gateway.settings import SimulatorSettings
from selfemployed_gateway.simulator.answers import (
    SimulatorAnswer,
    request_ssin_tag,
    soap_fault_answer,
)
from selfemployed_gateway.simulator.final import answer_request
from selfemployed_gateway.simulator.l302 import answer_l302
from selfemployed_gateway.suppliers.l302.mapping import L302Mapping, load_l302_mapping
from selfemployed_gateway.tls import server_tls_options

logger = logging.getLogger(__name__)

# A request is a few hundred bytes; anything much larger is not one.
MAX_REQUEST_BYTES = 64 * 1024
# The L302 mapping used when `SimulatorSettings.l302_mapping` is not set: beside the dataset.
DEFAULT_L302_MAPPING = "l302-mapping.toml"
L302_SEGMENT = b"L302"


# --- clock --------------------------------------------------------------------------------


def simulator_clock(settings: SimulatorSettings) -> Callable[[], datetime]:
    """The simulator's clock: fixed at `settings.clock` (ISO datetime) or real time (UTC)."""
    if settings.clock is None:
        return lambda: datetime.now(UTC)
    fixed = datetime.fromisoformat(settings.clock)  # a bad value fails at start-up
    return lambda: fixed


# --- Twisted ------------------------------------------------------------------------------

# Answers remembered by the resource (request body and minute); then forgotten all at once.
MEMO_ENTRIES = 4096


def is_l302_request(request: Request) -> bool:
    """Whether the request's path ends in `/L302` (the transitional-phase protocol, R-60)."""
    segments = [*(request.prepath or []), *(request.postpath or [])]
    return bool(segments) and segments[-1] == L302_SEGMENT


class InastiSimulatorResource(Resource):
    """The simulator's one HTTP resource: POST only (Twisted answers 405 to other methods).

    A path ending in `/L302` gets the L302 protocol (with `l302_mapping`; without one, a
    Server SOAP Fault), any other path INASTI's final-phase protocol. A delayed answer
    (`slow`, `latency_ms`) waits on the reactor's clock, not on a thread, and is dropped if
    the client goes away first.
    """

    isLeaf = True

    def __init__(
        self,
        dataset: Dataset,
        settings: SimulatorSettings,
        clock: IReactorTime,
        now: Callable[[], datetime] | None = None,
        *,
        l302_mapping: L302Mapping | None = None,
    ) -> None:
        super().__init__()
        self._dataset = dataset
        self._l302_mapping = l302_mapping
        self._latency = settings.latency_ms / 1000
        self._clock = clock
        self._now = now or simulator_clock(settings)
        self._memo: dict[tuple[bool, bytes, datetime], tuple[SimulatorAnswer, str]] = {}

    def render_GET(self, request: Request) -> bytes:
        """Not a SOAP call (a readiness probe's HEAD, a browser): a plain 405."""
        request.setResponseCode(405)
        request.setHeader(b"Allow", b"POST")
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"POST a SOAP 1.1 request here.\n"

    def render_POST(self, request: Request) -> bytes | int:
        body = _read_request_body(request)
        if body is None:
            answer = soap_fault_answer("Client", "request too large", "client_fault")
            who = "-"
        else:
            answer, who = self._remembered(request, body)
        delay = answer.delay_seconds + self._latency
        logger.info(
            "INASTI simulator%s: %r for %s -> %s (HTTP %d, delay %.3fs)",
            " (L302)" if is_l302_request(request) else "",
            (request.getHeader("SOAPAction") or "-")[:100],  # client text: bounded, quoted
            who,
            answer.outcome,
            answer.status,
            delay,
        )
        if delay <= 0:
            return _start_answer(request, answer)
        self._answer_later(request, answer, delay)
        return NOT_DONE_YET

    def _remembered(self, request: Request, body: bytes) -> tuple[SimulatorAnswer, str]:
        """The answer and the hashed NISS for the log, computed once per request body and
        minute: an answer depends on nothing else (fund windows are in whole minutes), and
        the simulator shares the benchmark's cores with the gateway it serves."""
        now = self._now().replace(second=0, microsecond=0)
        key = (is_l302_request(request), body, now)
        remembered = self._memo.get(key)
        if remembered is None:
            remembered = (self._answer(request, body, now), request_ssin_tag(body))
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = remembered
        return remembered

    def _answer(self, request: Request, body: bytes, now: datetime) -> SimulatorAnswer:
        if not is_l302_request(request):
            return answer_request(self._dataset, body, now)
        if self._l302_mapping is None:
            return soap_fault_answer(
                "Server", "L302 is not configured on this simulator (no mapping)", "no_l302"
            )
        return answer_l302(self._dataset, self._l302_mapping, body, now)

    def _answer_later(self, request: Request, answer: SimulatorAnswer, delay: float) -> None:
        pending: Deferred[None] = deferLater(self._clock, delay, _finish_answer, request, answer)
        # The client gave up (e.g. the gateway's time budget): no answer to send any more.
        request.notifyFinish().addErrback(lambda _failure: pending.cancel())
        pending.addErrback(_ignore_cancellation)


def _read_request_body(request: Request) -> bytes | None:
    """The request body, or None when it is larger than MAX_REQUEST_BYTES."""
    content = request.content
    if content is None:
        return b""
    body = content.read(MAX_REQUEST_BYTES + 1)
    return None if len(body) > MAX_REQUEST_BYTES else body


def _start_answer(request: Request, answer: SimulatorAnswer) -> bytes:
    request.setResponseCode(answer.status)
    request.setHeader(b"Content-Type", answer.content_type.encode("ascii"))
    return answer.body


def _finish_answer(request: Request, answer: SimulatorAnswer) -> None:
    request.write(_start_answer(request, answer))
    request.finish()


def _ignore_cancellation(failure: Failure) -> None:
    failure.trap(CancelledError)
    logger.info("INASTI simulator: client went away before a delayed answer")


def simulator_l302_mapping(settings: SimulatorSettings) -> L302Mapping | None:
    """The L302 mapping the simulator serves L302 with (R-60, R-63).

    `settings.l302_mapping` when set (it must load: `L302MappingError` otherwise); else
    `l302-mapping.toml` beside the dataset, or None (L302 disabled, with a warning) when
    there is no such file.
    """
    if settings.l302_mapping is not None:
        return load_l302_mapping(settings.l302_mapping)
    default = Path(settings.dataset).parent / DEFAULT_L302_MAPPING
    if not default.is_file():
        logger.warning(
            "INASTI simulator: no L302 mapping (%s); L302 requests get a SOAP Fault", default
        )
        return None
    return load_l302_mapping(default)


def build_simulator_site(
    dataset: Dataset, settings: SimulatorSettings, clock: IReactorTime | None = None
) -> Site:
    """The simulator as a Twisted site; `clock` defaults to the global reactor.

    Loads the L302 mapping (`simulator_l302_mapping`): a broken one fails here, at start-up.
    """
    if clock is None:
        from twisted.internet import reactor as global_reactor

        clock = global_reactor
    mapping = simulator_l302_mapping(settings)
    site = UnloggedSite(InastiSimulatorResource(dataset, settings, clock, l302_mapping=mapping))
    site.displayTracebacks = False
    site.noisy = False
    return site


def listen_simulator(reactor: Any, dataset: Dataset, settings: SimulatorSettings) -> IListeningPort:
    """Serve the simulator on `settings.listen` (port 0: any free port): plain HTTP, or HTTPS
    requiring a client certificate of `settings.tls.client_ca` when `settings.tls` is set.

    `reactor` is typed Any as elsewhere in the project: Twisted's zope interfaces
    (IReactorTCP + IReactorTime) do not type-check without the mypy-zope plugin.
    """
    site = build_simulator_site(dataset, settings, clock=reactor)
    address = settings.listen
    if settings.tls is None:
        listening = reactor.listenTCP(address.port, site, interface=address.host)
    else:  # like INASTI: HTTPS, and the gateway's client certificate required
        tls = settings.tls
        options = server_tls_options(tls.certificate, tls.private_key, tls.client_ca)
        listening = reactor.listenSSL(address.port, site, options, interface=address.host)
    logger.info(
        "INASTI simulator listening on %s://%s:%d/ (L302: any path ending in /L302)",
        "http" if settings.tls is None else "https",
        address.host,
        listening.getHost().port,
    )
    port: IListeningPort = listening
    return port
