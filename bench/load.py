"""A bounded HTTP/1.1 keep-alive load generator over mutual TLS, for 127.0.0.1 only.

Several worker PROCESSES (fork), each running one thread per connection. Each connection is a
plain blocking `ssl` socket presenting the client certificate; it sends the same POST again and
again on the same connection and times every exchange. Much cheaper per request than httpx, so
more of the two cores is left to the server under test (it still shares them: see
docs/performance.md).

Every run is bounded twice: by a deadline (monotonic clock, shared by all processes on Linux)
and by a request count per connection. Requests that start before `warmup` seconds have passed
are not measured. A request counts as an error when the connection fails, the HTTP status is
not the expected one or the body lacks the expected marker; the connection is then reopened.
A refusal of R-28 (MSG00003, `Retry-After`) is counted apart, as *refused*: the caller waits
what `Retry-After` asks (at most `MAX_RETRY_AFTER`), as a well-behaved client does, then tries
again on a new connection.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import socket
import ssl
import threading
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
SOCKET_TIMEOUT = 20.0  # one exchange; larger than any budget of the gateway (5 s)
_CODE = re.compile(rb"<(?:code|reasonCode)>([A-Z]{3}\d{5})</")
_DETAIL = re.compile(rb"<fieldValue>([^<]{1,60})")
REFUSAL = b"MSG00003"  # over a client's or the gateway's share
MAX_RETRY_AFTER = 2.0


@dataclass(frozen=True)
class Target:
    """Where and what to send: one request, the answer it should get."""

    port: int
    path: str
    body: bytes
    ca: Path
    cert: Path
    key: Path
    soap_action: str | None = None
    expect_status: int = 200
    expect_marker: bytes | None = None
    # Source addresses of the connections, dealt round-robin: an institution's servers.
    sources: tuple[str, ...] = (LOOPBACK,)

    def request_bytes(self) -> bytes:
        headers = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {LOOPBACK}:{self.port}",
            "Content-Type: text/xml; charset=utf-8",
            f"Content-Length: {len(self.body)}",
        ]
        if self.soap_action is not None:
            headers.append(f'SOAPAction: "{self.soap_action}"')
        return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class LoadResult:
    connections: int
    measured_seconds: float
    latencies_ms: list[float]  # successful measured exchanges
    errors: int  # measured exchanges that failed
    warmup_requests: int
    error_samples: list[str] = field(default_factory=list)
    hit_deadline: bool = False
    error_kinds: dict[str, int] = field(default_factory=dict)
    refused: int = 0  # measured refusals of R-28 (MSG00003), not errors

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def total(self) -> int:
        """Every exchange attempted, warm-up included."""
        return self.ok + self.errors + self.refused + self.warmup_requests

    @property
    def rate(self) -> float:
        return self.ok / self.measured_seconds if self.measured_seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful latencies, in ms (nan if none)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
        return ordered[rank - 1]


def merged(results: Sequence[LoadResult]) -> LoadResult:
    """Several measurements of one server as one: their exchanges, errors and seconds added
    (the turns of a row measured in rounds, bench/run.py)."""
    first = results[0]
    kinds: dict[str, int] = {}
    for result in results:
        for kind, count in result.error_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    return LoadResult(
        connections=first.connections,
        measured_seconds=sum(r.measured_seconds for r in results),
        latencies_ms=[latency for r in results for latency in r.latencies_ms],
        errors=sum(r.errors for r in results),
        warmup_requests=sum(r.warmup_requests for r in results),
        error_samples=[sample for r in results for sample in r.error_samples][:5],
        hit_deadline=any(r.hit_deadline for r in results),
        error_kinds=kinds,
        refused=sum(r.refused for r in results),
    )


class _Connection:
    """One keep-alive TLS connection: send the request, read one HTTP/1.1 response."""

    def __init__(self, target: Target, context: ssl.SSLContext, source: str = LOOPBACK) -> None:
        raw = socket.create_connection(
            (LOOPBACK, target.port), timeout=SOCKET_TIMEOUT, source_address=(source, 0)
        )
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname=LOOPBACK)
        self.reader = self.sock.makefile("rb", buffering=65536)

    def exchange(self, request: bytes) -> tuple[int, bytes, bool, float]:
        """(status, body, server keeps the connection open, Retry-After seconds or 0)."""
        self.sock.sendall(request)
        status_line = self.reader.readline(65537)
        if not status_line:
            raise ConnectionError("connection closed by the server")
        parts = status_line.split(None, 2)
        status = int(parts[1])
        length: int | None = None
        chunked = False
        keep_alive = True
        retry_after = 0.0
        while True:
            line = self.reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.lower() == b"close":
                keep_alive = False
            elif name == b"retry-after" and value.isdigit():
                retry_after = float(value)
        if chunked:
            pieces = []
            while True:
                size = int(self.reader.readline(1024).split(b";")[0], 16)
                if size == 0:
                    while self.reader.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                pieces.append(self._read_exact(size))
                self.reader.readline(16)  # CRLF after the chunk
            body = b"".join(pieces)
        elif length is not None:
            body = self._read_exact(length)
        else:
            body = self.reader.read()
            keep_alive = False
        return status, body, keep_alive, retry_after

    def _read_exact(self, size: int) -> bytes:
        data: bytes = self.reader.read(size)
        if len(data) != size:
            raise ConnectionError("connection closed in the middle of a body")
        return data

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


def client_context(target: Target) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(target.ca))
    context.load_cert_chain(str(target.cert), str(target.key))
    return context


def fetch_once(target: Target) -> tuple[int, bytes]:
    """One request on a fresh connection (to capture an answer, or check a server)."""
    connection = _Connection(target, client_context(target))
    try:
        status, body, _, _ = connection.exchange(target.request_bytes())
    finally:
        connection.close()
    return status, body


@dataclass
class _ThreadTally:
    latencies: array[float] = field(default_factory=lambda: array("d"))
    errors: int = 0
    warmup: int = 0
    last_end: float = 0.0
    samples: list[str] = field(default_factory=list)
    hit_deadline: bool = False
    kinds: dict[str, int] = field(default_factory=dict)
    refused: int = 0


def _kind(status: int, body: bytes) -> str:
    """`HTTP 500 MSG00002` for a fault with a BCSS code, else the status alone."""
    codes = [c.decode() for c in _CODE.findall(body) if c != b"MSG00000"]
    if not codes:
        return f"HTTP {status}"
    detail = _DETAIL.search(body)
    more = f" ({detail.group(1).decode(errors='replace')})" if detail else ""
    return f"HTTP {status} {codes[0]}{more}"


def _connection_loop(
    target: Target,
    context: ssl.SSLContext,
    request: bytes,
    measure_from: float,
    deadline: float,
    quota: int,
    tally: _ThreadTally,
    source: str,
) -> None:
    """Exchanges until `quota` measured exchanges are done or `deadline` has passed."""
    connection: _Connection | None = None
    measured = 0
    try:
        while measured < quota:
            start = time.monotonic()
            if start >= deadline:
                tally.hit_deadline = True
                break
            in_warmup = start < measure_from  # the warm-up is bounded by time
            refused = False
            try:
                if connection is None:
                    connection = _Connection(target, context, source)
                    start = time.monotonic()  # the handshake is not part of an exchange
                status, body, keep_alive, retry_after = connection.exchange(request)
                end = time.monotonic()
                good = status == target.expect_status and (
                    target.expect_marker is None or target.expect_marker in body
                )
                refused = not good and retry_after > 0 and REFUSAL in body
                if not keep_alive:
                    connection.close()
                    connection = None
                if refused:  # as a well-behaved client: wait what the gateway asks
                    time.sleep(min(retry_after, MAX_RETRY_AFTER, max(0.0, deadline - end)))
                kind = "" if good else _kind(status, body)
                if not good and not refused and len(tally.samples) < 5:
                    tally.samples.append(f"HTTP {status}: {body[:300]!r}")
            except (OSError, ValueError, IndexError) as error:
                end = time.monotonic()
                good = False
                kind = type(error).__name__
                if connection is not None:
                    connection.close()
                    connection = None
                if len(tally.samples) < 5:
                    tally.samples.append(f"{type(error).__name__}: {error}")
                time.sleep(0.01)
            if in_warmup:
                tally.warmup += 1
                continue
            measured += 1
            tally.last_end = max(tally.last_end, end)
            if good:
                tally.latencies.append((end - start) * 1000)
            elif refused:
                tally.refused += 1
            else:
                tally.errors += 1
                tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
    finally:
        if connection is not None:
            connection.close()


def _worker(
    target: Target,
    quotas: list[tuple[int, str]],
    measure_from: float,
    deadline: float,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    context = client_context(target)
    request = target.request_bytes()
    tallies = [_ThreadTally() for _ in quotas]
    threads = [
        threading.Thread(
            target=_connection_loop,
            args=(target, context, request, measure_from, deadline, quota, tally, source),
            daemon=True,
        )
        for (quota, source), tally in zip(quotas, tallies, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + SOCKET_TIMEOUT + 5)
    latencies = array("d")
    kinds: dict[str, int] = {}
    for tally in tallies:
        latencies.extend(tally.latencies)
        for kind, count in tally.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    results.put(
        (
            latencies.tobytes(),
            sum(t.errors for t in tallies),
            sum(t.warmup for t in tallies),
            max((t.last_end for t in tallies), default=0.0),
            [s for t in tallies for s in t.samples][:5],
            any(t.hit_deadline for t in tallies),
            kinds,
            sum(t.refused for t in tallies),
        )
    )


def run_load(
    target: Target,
    connections: int,
    *,
    seconds: float,
    warmup: float = 0.0,
    max_requests: int,
    processes: int | None = None,
) -> LoadResult:
    """`connections` keep-alive connections for at most `warmup + seconds`, and at most
    `max_requests` measured exchanges in all (split evenly over the connections)."""
    processes = max(1, min(connections, processes or os.cpu_count() or 2))
    per_connection = [max_requests // connections] * connections
    for index in range(max_requests % connections):
        per_connection[index] += 1
    sources = target.sources
    quotas = [(quota, sources[i % len(sources)]) for i, quota in enumerate(per_connection)]
    # Connections are dealt round-robin to the processes.
    shares = [quotas[i::processes] for i in range(processes)]

    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    begin = time.monotonic() + 0.2  # let the processes start
    measure_from = begin + warmup
    deadline = measure_from + seconds
    workers = [
        context.Process(
            target=_worker, args=(target, share, measure_from, deadline, results), daemon=True
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    collected = []
    give_up = deadline + SOCKET_TIMEOUT + 15
    for _ in workers:
        try:
            collected.append(results.get(timeout=max(1.0, give_up - time.monotonic())))
        except queue.Empty:
            break
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.terminate()  # one of ours, by its own handle
            worker.join(timeout=5)
    if len(collected) != len(workers):
        raise RuntimeError("a load worker did not report in time")

    latencies = array("d")
    errors = warm = 0
    last_end = 0.0
    samples: list[str] = []
    hit_deadline = False
    kinds: dict[str, int] = {}
    refused = 0
    for raw, err, warmups, end, some, hit, their_kinds, their_refused in collected:
        refused += their_refused
        for kind, count in their_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
        chunk = array("d")
        chunk.frombytes(raw)
        latencies.extend(chunk)
        errors += err
        warm += warmups
        last_end = max(last_end, end)
        samples.extend(some)
        hit_deadline = hit_deadline or hit
    measured = max(0.0, min(last_end, deadline + SOCKET_TIMEOUT) - measure_from)
    return LoadResult(
        connections=connections,
        measured_seconds=measured,
        latencies_ms=list(latencies),
        errors=errors,
        warmup_requests=warm,
        error_samples=samples[:5],
        hit_deadline=hit_deadline,
        error_kinds=kinds,
        refused=refused,
    )
