"""The HTTP side of a TLS connection: request limits, and connections lost to a TLS error.

Three jobs, all below the resources (a request that breaks a limit never reaches one):

- **TLS failures.** A client without a valid certificate never reaches a resource: the
  handshake (or, in TLS 1.3, the first read) fails and the connection is lost with an OpenSSL
  error. That is the only place to see it, for the `seg_tls_handshake_failures_total` metric.
- **Body size** (`gateway.max_request_bytes`). A body larger than the limit is refused before it
  is read whole, with a plain-text `413 Payload Too Large` and `Connection: close`: at once when
  the Content-Length announces it (before any `100 Continue`), and for a chunked body as soon
  as the bytes received so far cross the limit. No SOAP answer fits: the envelope was not read,
  so there is nothing to name an operation or carry a ticket; the refusal is not an exchange
  of the audit trail (R-10 … R-26 start with a body).
- **Read deadline** (`gateway.request_timeout_seconds`). A request (request line, headers and
  body) must have arrived in full within this time, counted from its first byte (for the
  first request of a connection: from the connection, TLS handshake included). Twisted's own
  idle timeout is reset by every byte and does not stop a client that dribbles one byte a
  second; this deadline does. A late request gets a plain-text `408 Request Timeout` and the
  connection is closed; a connection that sent nothing is closed without an answer. Between
  requests of a kept-alive connection, Twisted's idle timeout (`KEEP_ALIVE_IDLE_SECONDS`) applies.

- **Header limits.** A header line over `MAX_HEADER_LINE` bytes, headers over
  `totalHeadersSize` bytes in all or more than `maxHeaders` of them: a plain-text
  `431 Request Header Fields Too Large` and the connection is closed (Twisted answers 400).
- **Connection bounds** (`server/connections.py`): in all, per peer, in age and in requests;
  asked by `AdmittingTLSFactory` before any TLS object or channel exists.

After a 413 the rest of the body is read and thrown away — at most `DRAIN_FACTOR` times the
limit and never past the deadline — before the connection is closed ("lingering close"): a
client that is still sending when the server closes gets a TCP reset and may lose the 413
before reading it. A Content-Length beyond that budget is not drained: the connection is
closed as soon as the 413 is written. Nothing of a refused body is ever kept.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import Any

from OpenSSL import SSL
from twisted.internet.protocol import connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.web import http, server

from selfemployed_gateway.metrics import GatewayMetrics
from selfemployed_gateway.rates import TokenBuckets
from selfemployed_gateway.server.connections import ConnectionBudget
from selfemployed_gateway.tls import tls_error_text

log = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0
# How long a kept-alive connection may wait, idle, for its next request.
KEEP_ALIVE_IDLE_SECONDS = 60.0
# How much of a refused body is read (and dropped) so that the client can read the 413.
DRAIN_FACTOR = 4
# After closing (TLS close_notify), how long a peer that never closes its side is kept.
CLOSE_GRACE_SECONDS = 2.0
# A header line (request line included) longer than this is refused with 431.
MAX_HEADER_LINE = 8192


ADMIN_MAX_BODY = 4096
# Refused TLS connections logged with their reason: this many a second, bursts of 20.
TLS_FAILURE_LINES_PER_SECOND = 1.0
TLS_FAILURE_BURST = 20.0
_TLS_FAILURE_LINES = TokenBuckets(max_keys=1)


def plain_response(code: int, reason: str, text: str) -> bytes:
    """A complete HTTP/1.1 answer with a plain-text body, announcing the close."""
    body = text.encode()
    head = (
        f"HTTP/1.1 {code} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class QuietRequest(server.Request):
    """A request whose response names no server software: Twisted's `Server: TwistedWeb/…`
    tells a scanner which stack and version to try (issue #13)."""

    def write(self, data: bytes) -> None:
        if not self.startedWriting:
            self.responseHeaders.removeHeader(b"server")
        super().write(data)


class AdminRequest(QuietRequest):
    """The admin listener's requests: its endpoints take no body. One announced or sent past
    `ADMIN_MAX_BODY` bytes ends the connection at once (a 200 MB POST /healthz was read whole)."""

    channel: Any
    _body_bytes = 0
    _refused = False

    def gotLength(self, length: int | None) -> None:
        super().gotLength(length)  # InMemoryBodySite: at most ADMIN_MAX_BODY bytes are kept
        if length is not None and length > ADMIN_MAX_BODY:
            self._refuse()

    def handleContentChunk(self, data: bytes) -> None:
        self._body_bytes += len(data)
        if self._refused or self._body_bytes > ADMIN_MAX_BODY:
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        if not self._refused:
            self._refused = True
            self.channel.transport.abortConnection()


class LimitedRequest(QuietRequest):
    """A request that counts its body as it arrives and stops keeping it past the limit.

    Twisted hands every piece of the body to `handleContentChunk` as the transfer decoder
    (identity or chunked) produces it; the piece that crosses `max_request_bytes` makes the
    channel answer 413, and nothing more is stored.
    """

    channel: Any  # the CountingChannel that built this request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.body_bytes = 0
        self.refused = False

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return  # draining a refused body: dropped
        self.body_bytes += len(data)
        if self.body_bytes > self.channel.max_request_bytes:
            self.channel.refuse_body(self)
            return
        super().handleContentChunk(data)

    def write(self, data: bytes) -> None:
        if not self.startedWriting and self.channel is not None:
            said = self.responseHeaders.getRawHeaders(b"connection") or []
            if any(b"close" in value.lower() for value in said):
                # The resource ends the connection (a refusal of R-28, the drain): Twisted
                # decided persistence from the request's headers; the answer decides too,
                # and anything pipelined behind it is never read.
                self.channel.persistent = False
        super().write(data)


class CountingChannel(http.HTTPChannel):
    """HTTP/1.1 channel with the TLS-failure count, the body limit and the read deadline."""

    site: Any  # set by Site.buildProtocol
    MAX_LENGTH = MAX_HEADER_LINE  # LineReceiver: longer lines go to lineLengthExceeded
    maxHeaders = 100
    totalHeadersSize = 16384

    _deadline: Any = None  # IDelayedCall of the read deadline, while a request is arriving
    _peer_host: str | None = None  # set when the connection was counted in the budget
    _age_call: Any = None  # IDelayedCall of the connection's maximum age
    _too_old = False
    _requests_served = 0
    _request_bytes = False  # some bytes of the arriving request were received
    _refused = False  # a 413 was sent: the rest of the body is drained, then we close
    _drain_left = 0
    _closing = False

    @property
    def max_request_bytes(self) -> int:
        return int(getattr(self.site, "max_request_bytes", DEFAULT_MAX_REQUEST_BYTES))

    @property
    def request_timeout_seconds(self) -> float:
        timeout = getattr(self.site, "request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT_SECONDS)
        return float(timeout)

    def admitted(self, peer_host: str) -> None:
        """Counted in the site's ConnectionBudget (by AdmittingTLSFactory): released when lost."""
        self._peer_host = peer_host

    def connectionMade(self) -> None:
        super().connectionMade()
        budget: ConnectionBudget = self.site.connections
        self._age_call = self.callLater(budget.max_age_seconds, self._aged)
        self._arm_deadline()

    def _aged(self) -> None:
        """The connection reached its maximum age: closed now if idle, else after its answer."""
        self._age_call = None
        self._too_old = True
        if not self._handlingRequest and not self._request_bytes:
            self._close()

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        self._requests_served += 1
        if self._too_old or self._requests_served >= self.site.connections.max_requests:
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return bool(super().checkPersistence(request, version))

    def lineReceived(self, line: bytes) -> None:
        if self._closing:
            return
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._refuse_headers(
                f"the request's headers are larger than {self.totalHeadersSize} bytes"
            )
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._refuse_headers(f"a header line is longer than {self.MAX_LENGTH} bytes")

    def headerReceived(self, line: bytes) -> bool:
        if self._receivedHeaderCount >= self.maxHeaders:
            self._refuse_headers(f"more than {self.maxHeaders} header fields")
            return False
        return bool(super().headerReceived(line))

    def _refuse_headers(self, why: str) -> None:
        log.warning("request headers over the limits: 431", extra={"peer": self._peer()})
        self._send(
            plain_response(
                431,
                "Request Header Fields Too Large",
                f"Request Header Fields Too Large: {why}.\n",
            )
        )
        self._close()

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        if self._refused:
            self._drain_left -= len(data)
            if self._drain_left < 0:
                self._close()
                return
        elif not self._handlingRequest and data:
            # Bytes of a request (not of one pipelined behind a request being answered:
            # those are buffered by Twisted and replayed here when their turn comes).
            self._request_bytes = True
            if self._deadline is None:
                self._arm_deadline()
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        length = self.length
        if length is not None and length > self.max_request_bytes:
            # Refused on the Content-Length alone: no 100 Continue, nothing read.
            self._refuse_too_large(self.requests[-1], length)
            return
        super().allHeadersReceived()

    def refuse_body(self, request: LimitedRequest) -> None:
        """A (chunked) body has just crossed the limit: answer 413 now."""
        self._refuse_too_large(request, None)

    def allContentReceived(self) -> None:
        self._disarm_deadline()
        self._request_bytes = False
        if self._refused:
            self._close()  # the refused body has been drained: now close
            return
        super().allContentReceived()

    def _respondToBadRequestAndDisconnect(self) -> None:
        if self._refused or self._closing:
            self._close()  # already answered (413/408): no second answer
            return
        super()._respondToBadRequestAndDisconnect()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._disarm_deadline()
        if self._age_call is not None and self._age_call.active():
            self._age_call.cancel()
        if self._peer_host is not None:
            self.site.connections.release(self._peer_host)
            self._peer_host = None
        if reason.check(SSL.Error) is not None:
            self.site.metrics.tls_handshake_failures.inc()
            # Without OpenSSL's reason a refused client is a count on a dashboard: name it,
            # but at a bounded rate for the whole process (a scanner must not flood the log).
            if _TLS_FAILURE_LINES.take("tls", TLS_FAILURE_LINES_PER_SECOND, TLS_FAILURE_BURST):
                log.warning(
                    "TLS connection failed",
                    extra={"tls_error": tls_error_text(reason.value), "peer": self._peer()},
                )
        super().connectionLost(reason)

    def _refuse_too_large(self, request: LimitedRequest, declared: int | None) -> None:
        limit = self.max_request_bytes
        request.refused = True
        self._refused = True
        log.warning(
            "request body over the limit: 413",
            extra={"limit_bytes": limit, "content_length": declared, "peer": self._peer()},
        )
        self._send(
            plain_response(
                413,
                "Payload Too Large",
                f"Payload Too Large: the request body may hold at most {limit} bytes.\n",
            )
        )
        budget = DRAIN_FACTOR * limit
        if declared is not None and declared > budget:
            self._close()
        else:
            self._drain_left = budget

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.callLater(self.request_timeout_seconds, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self._closing:
            return
        if self._request_bytes and not self._refused:
            log.warning(
                "request not received in time: 408",
                extra={"timeout_seconds": self.request_timeout_seconds, "peer": self._peer()},
            )
            self._send(
                plain_response(
                    408,
                    "Request Timeout",
                    "Request Timeout: the request did not arrive in "
                    f"{self.request_timeout_seconds:g} seconds.\n",
                )
            )
        self._close()

    def _close(self) -> None:
        """Close after what was written; abort if the peer does not close its side."""
        if self._closing:
            return
        self._closing = True
        self._disarm_deadline()
        self.setTimeout(None)
        self._abortingCall = self.callLater(CLOSE_GRACE_SECONDS, self.forceAbortClient)
        self.loseConnection()

    def _send(self, data: bytes) -> None:
        transport: Any = self.transport
        if transport is not None:
            transport.write(data)

    def _peer(self) -> str:
        transport: Any = self.transport
        try:
            return str(transport.getPeer())
        except Exception:
            return "unknown"


class UnloggedSite(server.Site):
    """The base of every site here (SOAP, admin, simulator), without two things Twisted does
    per request for nobody (issue #17):

    - its access line: `HTTPFactory.log` formats a combined-format line per request for
      Twisted's log, which this project never starts — 44 µs a request. The gateway's access
      log is its `exchange` line (exchange.py);
    - form parsing: bodies are SOAP envelopes (the admin site serves GETs), so a POST is never
      read as a form. Twisted reads every POST's Content-Type with the email package for it (a
      third of the simulator's CPU per call), and would parse a hostile multipart body.
    """

    def __init__(self, resource: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(resource, *args, **kwargs)

    def log(self, request: Any) -> None:
        pass


class InMemoryBodySite(UnloggedSite):
    """A site that keeps request bodies in memory, whatever their announced length.

    Twisted writes a body of unknown length (chunked) or of 100 kB or more to a temporary
    file: in a container with a read-only root there is no temporary folder, and the request
    died with "No usable temporary directory" (issue #15). Our requests count their bodies
    and stop keeping them past their limit (`max_request_bytes`, `ADMIN_MAX_BODY`), so memory
    is bounded anyway.
    """

    def getContentFile(self, length: int | None) -> BytesIO:
        return BytesIO()


class GatewaySite(InMemoryBodySite):
    """The site of the SOAP listener: our channel and request, and the request limits."""

    protocol = CountingChannel  # type: ignore[assignment]  # plain HTTP/1.1 channel
    requestFactory = LimitedRequest

    def __init__(
        self,
        resource: Any,
        metrics: GatewayMetrics,
        *,
        connections: ConnectionBudget,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(resource, timeout=KEEP_ALIVE_IDLE_SECONDS)
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes
        self.request_timeout_seconds = request_timeout_seconds
        self.connections = connections
        self.displayTracebacks = False
        self.noisy = False


class AdmittingTLSFactory(TLSMemoryBIOFactory):
    """TLS over the site's channels, for the connections its ConnectionBudget admits.

    The budget is asked before anything is built: a refused connection is closed by the
    listening port with no TLS object, no channel and no timer (a client reconnecting in a loop
    costs an accept and a close, and leaves nothing behind to fragment the heap).
    """

    wrappedFactory: GatewaySite

    def buildProtocol(self, addr: Any) -> Any:
        site = self.wrappedFactory
        host = str(getattr(addr, "host", "unknown"))
        if not site.connections.admit(host):
            site.metrics.connections_refused.inc()
            return None  # twisted.internet.tcp: the port closes the socket
        protocol = super().buildProtocol(addr)
        protocol.wrappedProtocol.admitted(host)
        return protocol
