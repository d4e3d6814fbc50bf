"""Where a gateway request's time goes: `python -m bench.profile` (not part of `make bench`).

Two views, both on consultCareer DATA_FOUND (the request of row 2 of the table):

* **py-spy** (if installed in the venv: `.venv/bin/pip install py-spy`; not a dependency of
  the project): samples the real gateway process while the bounded load generator drives it
  with 16 keep-alive mTLS connections. `--gil`: only the thread holding the GIL is sampled,
  i.e. where the process's Python CPU goes (C code that releases the GIL, such as OpenSSL's
  record layer or SQLite's I/O, is not seen). Each sample is put in one bucket by the frames
  of its stack (first matching rule wins: logging, audit, supplier call, XSD validation,
  pydantic, spyne deserialisation, response writing, pipeline stages, request parsing,
  metrics, TLS/HTTP on the reactor…).
* **in process** (always): the gateway built from the same configuration, its
  `ExchangeHandler.handle` called in a loop (no TLS, no Twisted): CPU per exchange with the
  real supplier (the simulator over loopback HTTP) and with the supplier's answer memoised,
  whose difference is the supplier call; then cProfile of the memoised loop, cumulative time
  of the functions that mark each stage.

Bounded: py-spy records for a fixed duration; the load and the loop are bounded by count and
time. Only 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bench.load import run_load
from bench.run import ACTION, CLIENT, REQUEST, soap_port, target_for
from bench.servers import PROJECT, Server, make_pki, start_gateway, start_simulator
from selfemployed_gateway.devpki import DevPki

if TYPE_CHECKING:
    from selfemployed_gateway.exchange import ExchangeHandler
    from selfemployed_gateway.server.gateway import Gateway
    from selfemployed_gateway.soap.endpoint import IncomingCall

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SPY_SECONDS = 4 if QUICK else 10
LOOP_REQUESTS = 300 if QUICK else 2000
LOOP_SECONDS = 60.0

# (bucket, substrings of a frame "function (file:line)"); a sample goes to the first bucket one
# of whose substrings appears in one of its frames (scanning the rules in this order).
RULES: list[tuple[str, tuple[str, ...]]] = [
    (
        "logging (stdlib logging, JSON formatter, NISS redaction)",
        (
            "logging/__init__.py",
            "pythonjsonlogger",
            "privacy.py",
        ),
    ),
    (
        "audit write (writer thread: sealing, SQLite)",
        ("audit/writer.py", "audit/sqlite.py", "audit/__init__.py"),
    ),
    (
        "supplier call (httpx over aiohttp, INASTI answer parsing)",
        ("suppliers/", "httpx", "httpcore", "h11", "anyio", "sniffio"),
    ),
    ("lxml XSD validation", ("xmlsafe.py",)),
    ("pydantic", ("pydantic",)),
    ("spyne: request deserialisation and dispatch", ("spyne/",)),
    ("response writing (soap/writer.py, lxml)", ("writer.py",)),
    ("informationCBSS and faults (faults.py)", ("faults.py",)),
    (
        "pipeline stages (authorisation, dates, NISS, interpretation, filtering…)",
        (
            "stages/",
            "pipeline.py",
            "annex.py",
            "registry/",
        ),
    ),
    ("request parsing (lxml)", ("envelope.py",)),
    ("metrics (prometheus_client)", ("prometheus_client", "metrics.py")),
    (
        "TLS + HTTP on the reactor (Twisted, pyOpenSSL)",
        (
            "twisted/internet/tcp",
            "twisted/internet/_sslverify",
            "twisted/web",
            "twisted/protocols",
            "OpenSSL/",
            "tls.py",
            "server/resource.py",
            "server/channel.py",
        ),
    ),
    # Every stack starts in the loop: what reaches here is the loop's own bookkeeping.
    (
        "event loop (asyncio, Twisted's asyncio reactor, Deferreds)",
        ("asyncio/", "asyncioreactor", "selectors.py", "twisted/internet", "twisted/python"),
    ),
    ("executor threads (readiness probe)", ("concurrent/futures", "threading.py")),
]


def bucket(frames: list[str]) -> str:
    for name, needles in RULES:
        for frame in frames:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def py_spy(folder: Path, pki: DevPki, simulator: Server) -> str:
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return "py-spy: not installed in the venv (.venv/bin/pip install py-spy); skipped\n"
    gateway = start_gateway(folder, "gateway-profile", pki, simulator)
    try:
        target = target_for(soap_port(gateway), pki)
        run_load(target, 16, seconds=2, max_requests=20_000)  # warm up
        output = folder / "py-spy.raw"
        recorder = subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(gateway.pid),
                "--duration",
                str(SPY_SECONDS),
                "--rate",
                "250",
                "--gil",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        load = run_load(target, 16, seconds=SPY_SECONDS + 1, max_requests=200_000)
        try:
            _, error = recorder.communicate(timeout=SPY_SECONDS + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.communicate(timeout=10)
            return "py-spy: did not finish in time; skipped\n"
        if recorder.returncode != 0 or not output.exists():
            return f"py-spy failed ({recorder.returncode}): {error.decode()[-500:]}\n"
    finally:
        gateway.stop()
    counts: Counter[str] = Counter()
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        counts[bucket(stack.split(";"))] += int(count)
    total = sum(counts.values())
    lines = [
        f"py-spy: gateway process under 16 keep-alive mTLS connections, {SPY_SECONDS} s at "
        f"250 Hz, {total} samples of the GIL-holding thread, load {load.rate:.0f} req/s "
        f"p50 {load.percentile(50):.1f} ms while sampled",
        "",
        "| bucket | share of GIL-holding samples |",
        "|---|---:|",
    ]
    for name, samples in counts.most_common():
        lines.append(f"| {name} | {samples / total * 100:.1f}% |")
    return "\n".join(lines) + "\n"


# Functions whose cumulative time marks a stage in the in-process loop.
MARKERS: list[tuple[str, str, str]] = [
    ("whole exchange (ExchangeHandler.handle)", "exchange.py", "handle"),
    ("SOAP endpoint (SoapEndpoint.answer)", "endpoint.py", "answer"),
    ("request parsing (envelope.parse_request)", "envelope.py", "parse_request"),
    ("lxml XSD validation of the request (XmlSchema.first_error)", "xmlsafe.py", "first_error"),
    ("spyne deserialisation (RequestReader.read)", "soap/reader.py", "read"),
    ("pipeline (Pipeline.consult)", "pipeline.py", "consult"),
    ("response writing (soap/writer.py)", "writer.py", "*"),
    ("audit write (AuditStore.record_many)", "audit/sqlite.py", "record_many"),
    ("logging (Logger.info)", "logging/__init__.py", "info"),
    ("metrics (GatewayMetrics.exchange)", "metrics.py", "exchange"),
    ("pydantic (validator calls, anywhere)", "pydantic", "*"),
]


class _Memoised:
    """The real supplier, asked once; its answer is then replayed (no HTTP, no simulator)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.operations = real.operations
        self.answer: Any = None

    async def consult_career(self, ssin: str, period: Any) -> Any:
        if self.answer is None:
            self.answer = await self.real.consult_career(ssin, period)
        return self.answer

    async def consult_contributions(self, *arguments: Any) -> Any:
        return await self.real.consult_contributions(*arguments)

    def is_reachable(self) -> bool:
        return True

    async def aclose(self) -> None:
        await self.real.aclose()


@contextmanager
def simulated() -> Iterator[tuple[Path, DevPki, Server]]:
    """A temporary folder with its development PKI and a running simulator, all gone after."""
    folder = Path(tempfile.mkdtemp(prefix="seg-profile-"))
    simulator = None
    try:
        pki = make_pki(folder)
        simulator = start_simulator(folder, "simulator")
        yield folder, pki, simulator
    finally:
        if simulator is not None:
            simulator.stop()
        shutil.rmtree(folder, ignore_errors=True)


def in_process_gateway(
    folder: Path, pki: DevPki, simulator: Server
) -> tuple[Gateway, IncomingCall, TextIO]:
    """The benchmark's gateway built in this process from its configuration, with the
    benchmark's request as a call of its client, and the stream its logs go to."""
    from cryptography import x509
    from OpenSSL import crypto

    from selfemployed_gateway.configuration import load_settings
    from selfemployed_gateway.logs import configure_logging
    from selfemployed_gateway.server.gateway import Gateway
    from selfemployed_gateway.soap.endpoint import IncomingCall
    from selfemployed_gateway.tls import certificate_of

    config = folder / "gateway-profile.toml"
    if not config.exists():
        start_gateway(folder, "gateway-profile", pki, simulator).stop()
    # As `serve` does: JSON lines at info level (to a file here, like the subprocesses).
    log_stream = (folder / "in-process.log").open("w")
    configure_logging("info", stream=log_stream)
    gateway = Gateway.build(load_settings(config, environ={}))
    client = pki.clients[CLIENT]
    certificate = certificate_of(
        crypto.X509.from_cryptography(x509.load_pem_x509_certificate(client.cert.read_bytes()))
    )
    return gateway, IncomingCall(REQUEST, f'"{ACTION}"', certificate=certificate), log_stream


def memoise_supplier(gateway: Gateway) -> None:
    """From now on the gateway's supplier answers what the real one answered first."""
    endpoint = gateway.endpoint
    endpoint.pipeline = replace(endpoint.pipeline, supplier=_Memoised(endpoint.pipeline.supplier))


def timed_exchanges(
    event_loop: asyncio.AbstractEventLoop,
    gateway: Gateway,
    call: IncomingCall,
    count: int,
    in_flight: int = 1,
) -> tuple[int, float, float]:
    """`count` exchanges of `call`, `in_flight` at a time (one after the other by default),
    bounded by `LOOP_SECONDS`: (exchanges, wall s, CPU s of this process: every thread, the
    supplier's too)."""
    done = 0
    deadline = time.monotonic() + LOOP_SECONDS
    wall, cpu = time.perf_counter(), time.process_time()

    async def exchange() -> None:
        answer = await gateway.exchanges.handle(call)
        assert answer.status == 200, answer.body[:300]

    async def at_once(width: int) -> None:
        await asyncio.gather(*(exchange() for _ in range(width)))

    while done < count and time.monotonic() < deadline:
        width = min(in_flight, count - done)
        event_loop.run_until_complete(at_once(width))
        done += width
    return done, time.perf_counter() - wall, time.process_time() - cpu


def in_process(folder: Path, pki: DevPki, simulator: Server) -> str:
    gateway, call, log_stream = in_process_gateway(folder, pki, simulator)
    # As in the server, every exchange is awaited on one asyncio loop (here without Twisted).
    event_loop = asyncio.new_event_loop()

    def loop(count: int) -> tuple[int, float, float]:
        return timed_exchanges(event_loop, gateway, call, count)

    loop(50)  # warm-up
    sim_before = simulator.cpu_seconds()
    real_n, real_wall, real_cpu = loop(LOOP_REQUESTS)
    sim_cpu = simulator.cpu_seconds() - sim_before
    memoise_supplier(gateway)
    loop(50)
    memo_n, memo_wall, memo_cpu = loop(LOOP_REQUESTS)
    trail_on, trail_off = trail_turns(gateway.exchanges, loop)

    profiler = cProfile.Profile()
    profiler.enable()
    done, wall, _ = loop(LOOP_REQUESTS)
    profiler.disable()
    event_loop.run_until_complete(gateway.supplier.aclose())
    gateway.audit.close()
    event_loop.close()
    log_stream.close()

    real_ms, memo_ms = real_cpu / real_n * 1000, memo_cpu / memo_n * 1000
    lines = [
        "In process (no TLS, no Twisted): `ExchangeHandler.handle` in a loop, logging at info "
        "to a file, SQLite audit.",
        "",
        "| | CPU ms per exchange (all threads) | wall ms |",
        "|---|---:|---:|",
        f"| real supplier: httpx to the simulator over loopback | {real_ms:.2f} "
        f"| {real_wall / real_n * 1000:.2f} |",
        f"| supplier answer memoised (no HTTP) | {memo_ms:.2f} | {memo_wall / memo_n * 1000:.2f} |",
        f"| → the supplier call itself (difference) | {real_ms - memo_ms:.2f} | |",
        f"| the simulator process, per exchange (same cores) | {sim_cpu / real_n * 1000:.2f} | |",
        "",
        f"The decision trail (issue #18), supplier memoised, median of {TRAIL_TURNS} turns of "
        f"{TRAIL_REQUESTS} exchanges: {trail_on:.3f} ms with it, {trail_off:.3f} ms without, "
        f"so {trail_on - trail_off:.3f} ms, {(trail_on - trail_off) / real_ms * 100:.1f}% of "
        "the in-process exchange with the real supplier above: an upper bound of its share of "
        "a served exchange, which adds TLS and HTTP.",
        "",
        f"cProfile of the memoised run ({done} exchanges; cProfile inflates Python-heavy code: "
        "read the shares):",
        "",
        "| stage (cumulative time of the marking function) | ms per exchange | share |",
        "|---|---:|---:|",
    ]
    stats = pstats.Stats(profiler)
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for _label, file_part, name in MARKERS:
            if file_part in filename and (name == "*" or function == name):
                key = (file_part, name)
                if name == "*":  # a whole module: its outermost call (the largest)
                    cumulative[key] = max(cumulative.get(key, 0.0), ct)
                else:
                    cumulative[key] = cumulative.get(key, 0.0) + ct
    whole = cumulative.get(("exchange.py", "handle"), 0.0) or wall
    for label, file_part, name in MARKERS:
        value = cumulative.get((file_part, name))
        if value is None:
            lines.append(f"| {label} | – | – |")
        else:
            lines.append(f"| {label} | {value / done * 1000:.3f} | {value / whole * 100:.1f}% |")
    top = folder / "in-process.txt"
    with top.open("w") as handle_out:
        pstats.Stats(profiler, stream=handle_out).sort_stats("tottime").print_stats(20)
    lines += ["", "Top functions by own time (memoised run):", "```", *_top_lines(top), "```"]
    return "\n".join(lines) + "\n"


TRAIL_TURNS = 3 if QUICK else 7
TRAIL_REQUESTS = 200 if QUICK else 1000


def trail_turns(
    exchanges: ExchangeHandler, loop: Callable[[int], tuple[int, float, float]]
) -> tuple[float, float]:
    """CPU ms per exchange with the decision trail and without (the switch a reload flips),
    in alternating turns so that the machine's drift hits both: the server rows' two turns
    move by several points of an exchange here, this does not see TLS, HTTP or the load."""
    with_trail: list[float] = []
    without: list[float] = []
    for _ in range(TRAIL_TURNS):
        for recorded, into in ((True, with_trail), (False, without)):
            exchanges.decision_trail = recorded
            done, _wall, cpu = loop(TRAIL_REQUESTS)
            into.append(cpu / done * 1000)
    exchanges.decision_trail = True
    return statistics.median(with_trail), statistics.median(without)


def _top_lines(path: Path) -> list[str]:
    text = path.read_text().splitlines()
    start = next((i for i, line in enumerate(text) if "ncalls" in line), 0)
    return [line.replace(str(PROJECT) + "/", "") for line in text[start : start + 21]]


def main() -> int:
    with simulated() as (folder, pki, simulator):
        print(py_spy(folder, pki, simulator))
        print(in_process(folder, pki, simulator))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
