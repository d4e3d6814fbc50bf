"""`make bench`: one table, every row measured in this run on this machine.

1. the bare Twisted responder over the same mutual TLS (bench/bare_server.py), the stack's
   absolute limit, and 1p, the bare proxy: the same plus the one supplier call (aiohttp) and
   an lxml parse of its answer, the limit of a gateway (issue #17); 1/16/64 connections;
2. the gateway, consultCareer DATA_FOUND through the whole pipeline, 1/16/64 connections;
3. slow supplier (simulator latency 200 ms), default configuration: 100 callers of one
   client with 1 and 2 workers (what R-28's share does), and 25 callers (3d);
4. gateway RSS after 1,000 and 50,000 requests;
5. two gateway processes sharing the port (`SEG_WORKERS=2`, SO_REUSEPORT);
6. the decision trail's cost.

Cores (`BENCH_PINNING`): `pinned` (default) runs the server under test on the first core and
this process, the load generator and the simulator on the others, so that they stop fighting;
`shared` lets every process run anywhere. Rows with two workers use every core either way.

Only 127.0.0.1. Every load is bounded by a request count and a deadline; every server is a
child process stopped at the end. `BENCH_QUICK=1` divides counts and durations by 10 (about).
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from bench.cpu import CpuUse, CpuWindow
from bench.cpu import merged as merged_cpu
from bench.load import LoadResult, Target, fetch_once, run_load
from bench.load import merged as merged_results
from bench.servers import (
    PROJECT,
    Server,
    make_pki,
    start_bare,
    start_gateway,
    start_simulator,
)
from selfemployed_gateway.devpki import DevPki
from selfemployed_gateway.records import DatePeriod, Operation
from selfemployed_gateway.suppliers.final import protocol
from selfemployed_gateway.suppliers.soap11 import envelope

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SCALE = 10 if QUICK else 1
WARMUP = 1.0 if QUICK else 2.0
# Rows 1, 1p and 2: rounds of one turn each (measured seconds per row: rounds × seconds).
THROUGHPUT_ROUNDS = 2 if QUICK else 4
ROUND_SECONDS = 1.5 if QUICK else 2.5
SLOW_SECONDS = 5.0 if QUICK else 10.0  # each slow-supplier row
MEMORY_COUNTS = (1_000 // SCALE, 50_000 // SCALE)
# Time bound of the long memory phase: 50,000 requests take about 13 minutes at ~65 req/s.
MEMORY_SECONDS = float(os.environ.get("BENCH_MEMORY_SECONDS", 60.0 if QUICK else 1000.0))
ROW_CAP = 200_000  # request bound of any throughput row (the deadline comes first)
CONCURRENCY = (1, 16, 64)
SLOW_CALLERS = 100
FEW_CALLERS = 25
SLOW_LATENCY_MS = 200
# An institution's servers: the slow rows' callers come from these addresses (≤ 64 each).
SOURCES = tuple(f"127.0.0.{n}" for n in range(2, 7))

# BENCH_ROWS: some of the parts below, e.g. "throughput" for rows 1, 1p and 2 alone.
PARTS = ("throughput", "trail", "workers", "memory", "slow")
ROWS = tuple(os.environ.get("BENCH_ROWS", ",".join(PARTS)).split(","))
if not set(ROWS) <= set(PARTS):
    raise SystemExit(f"BENCH_ROWS: a comma-separated list of {', '.join(PARTS)}")
PINNING = os.environ.get("BENCH_PINNING", "pinned")
if PINNING not in ("pinned", "shared"):
    raise SystemExit(f"BENCH_PINNING must be pinned or shared, not {PINNING!r}")
ALL_CPUS = frozenset(os.sched_getaffinity(0))
PINNED = PINNING == "pinned" and len(ALL_CPUS) >= 2
# The server under test; everything else (load generator, simulator, this process).
SERVER_CPUS: frozenset[int] | None = frozenset(sorted(ALL_CPUS)[:1]) if PINNED else None
LOAD_CPUS = ALL_CPUS - SERVER_CPUS if SERVER_CPUS else ALL_CPUS

PATH = "/SelfEmployedService/v2/consult"
ACTION = "http://kszbcss.fgov.be/intf/SelfEmployedService/consultCareer"
SES = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"
CLIENT = "onss-inspection"
# consultCareer, DATA_FOUND, no period filter; ONSS identifies itself as sector 21 / institution 0
# and works under SOCIAL_INSPECTION:INVESTIGATION (no integration check): a ~4 KB answer.
REQUEST = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    f'<ses:consultCareerRequest xmlns:ses="{SES}">'
    "<informationCustomer><ticket>bench-ticket-1</ticket>"
    "<customerIdentification><sector>21</sector><institution>0</institution>"
    "</customerIdentification></informationCustomer>"
    "<legalContext>SOCIAL_INSPECTION:INVESTIGATION</legalContext>"
    "<criteria><ssin>65031510159</ssin></criteria>"
    "</ses:consultCareerRequest></soapenv:Body></soapenv:Envelope>"
).encode()
MARKER = b"DATA_FOUND"
# What the gateway sends INASTI for REQUEST (R-33: no period is the whole career).
WHOLE_CAREER = DatePeriod(begin=date(1956, 7, 1))
SUPPLIER_REQUEST = envelope(protocol.career_request("65031510159", WHOLE_CAREER))
SUPPLIER_ACTION = protocol.soap_action(Operation.CONSULT_CAREER).strip('"')


@dataclass
class Row:
    number: str
    scenario: str
    connections: int | None = None
    result: LoadResult | None = None
    cpu: CpuUse | None = None
    ratio: str = ""
    target: str = ""
    notes: list[str] = field(default_factory=list)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def target_for(port: int, pki: DevPki, sources: tuple[str, ...] = ("127.0.0.1",)) -> Target:
    client = pki.clients[CLIENT]
    return Target(
        port=port,
        path=PATH,
        body=REQUEST,
        ca=pki.ca.cert,
        cert=client.cert,
        key=client.key,
        soap_action=ACTION,
        expect_status=200,
        expect_marker=MARKER,
        sources=sources,
    )


def soap_port(server: Server) -> int:
    port = urlsplit(str(server.ready["soap"])).port
    assert port is not None
    return port


def measure(
    target: Target,
    connections: int,
    under_test: list[Server],
    also_ours: list[Server],
    *,
    seconds: float,
    warmup: float = WARMUP,
    max_requests: int = ROW_CAP,
) -> tuple[LoadResult, CpuUse]:
    window = CpuWindow(under_test, also_ours)
    result = run_load(
        target, connections, seconds=seconds, warmup=warmup, max_requests=max_requests
    )
    return result, window.finish()


def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def verdict(holds: bool) -> str:
    return "**holds**" if holds else "**fails**"


def main() -> int:
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="seg-bench-"))
    servers: list[Server] = []

    def track(server: Server) -> Server:
        servers.append(server)
        return server

    def stop(*which: Server) -> None:
        for server in which:
            server.stop()
            servers.remove(server)

    rows: list[Row] = []
    # This process, and so the load generator and the simulator it starts, off the server's core.
    os.sched_setaffinity(0, LOAD_CPUS)
    try:
        say(f"{'QUICK' if QUICK else 'full'} mode; cores: {placement()}; temporary folder {folder}")
        pki = make_pki(folder)
        simulator = track(start_simulator(folder, "simulator"))
        gateway = track(start_gateway(folder, "gateway", pki, simulator, cpus=SERVER_CPUS))
        gw_target = target_for(soap_port(gateway), pki)

        # The baseline answers the very bytes of a real DATA_FOUND answer of the gateway.
        status, answer = fetch_once(gw_target)
        if status != 200 or MARKER not in answer:
            raise RuntimeError(f"gateway did not answer DATA_FOUND: {status} {answer[:500]!r}")
        (folder / "answer.xml").write_bytes(answer)
        say(f"captured a DATA_FOUND answer: {len(answer)} bytes (request {len(REQUEST)} bytes)")
        bare = track(start_bare(folder, pki, folder / "answer.xml", cpus=SERVER_CPUS))
        bare_target = target_for(bare.ready["port"], pki)
        (folder / "supplier-request.xml").write_bytes(SUPPLIER_REQUEST)
        proxy = track(
            start_bare(
                folder,
                pki,
                folder / "answer.xml",
                cpus=SERVER_CPUS,
                supplier=(
                    simulator.ready["simulator"],
                    folder / "supplier-request.xml",
                    SUPPLIER_ACTION,
                ),
            )
        )
        proxy_target = target_for(proxy.ready["port"], pki)

        # 1, 1p and 2 in rounds of short turns per concurrency, one right after the other and
        # the order reversed from round to round, so that the machine's drift hits them alike;
        # the ratios are the medians of the rounds' ratios.
        bare_rows: dict[int, Row] = {}
        proxy_rows: dict[int, Row] = {}
        gw_rows: dict[int, Row] = {}
        sides = [(bare, bare_target), (proxy, proxy_target), (gateway, gw_target)]
        for conns in CONCURRENCY:
            say(
                f"1, 1p and 2 at {conns} connection(s): {THROUGHPUT_ROUNDS} rounds of "
                f"{PAIR_WARMUP} s warm-up + {ROUND_SECONDS} s turns"
            )
            turns = paired_turns(sides, conns, [simulator], THROUGHPUT_ROUNDS, ROUND_SECONDS)
            for (number, scenario), side, into in zip(
                (
                    ("1", "bare responder: Twisted + lxml parse, mTLS"),
                    ("1p", PROXY_SCENARIO),
                    ("2", "gateway consultCareer DATA_FOUND"),
                ),
                turns,
                (bare_rows, proxy_rows, gw_rows),
                strict=True,
            ):
                into[conns] = Row(number, scenario, conns, *merged_turn(side))
            bare_rates, proxy_rates, gw_rates = (rates_of(side) for side in turns)
            gateway_against_baselines(
                conns,
                bare_rows[conns],
                proxy_rows[conns],
                gw_rows[conns],
                Rates(bare_rates, proxy_rates, gw_rates),
            )
            gw_rows[conns].notes.append(helpers_note(gw_rows[conns]))
        rows.extend(bare_rows.values())
        rows.extend(proxy_rows.values())
        rows.extend(gw_rows.values())
        bare_rows[CONCURRENCY[0]].notes.append(f"answer {len(answer)} B, request {len(REQUEST)} B")
        proxy_rows[CONCURRENCY[0]].notes.append(
            f"INASTI request {len(SUPPLIER_REQUEST)} B, plain HTTP to the simulator"
        )
        stop(bare, proxy)

        # 6. The decision trail's cost (issue #18): fresh gateways with and without it, paired.
        if "trail" in ROWS:
            rows.append(trail_row(folder, pki, simulator, gateway, track, stop))

        # 5. Two processes on one port (SO_REUSEPORT set by a bench-only shim).
        if "workers" in ROWS:
            rows.append(workers_row(folder, pki, simulator, gateway, track, stop))
        stop(gateway)

        # 4. Memory of a fresh gateway.
        if "memory" in ROWS:
            rows.append(memory_row(folder, pki, simulator, track, stop))
        stop(simulator)

        # 3. Slow supplier.
        if "slow" in ROWS:
            rows.extend(slow_rows(folder, pki, track, stop))
    finally:
        for server in list(servers):
            server.stop()
        if os.environ.get("BENCH_KEEP"):
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    rows.sort(key=lambda r: r.number)
    print_table(rows, time.monotonic() - started)
    return 0


PROXY_SCENARIO = "bare proxy: 1 + one supplier call (aiohttp) + lxml parse of its answer"
CPU_TARGET_MS = 3.0
PROXY_RATIO_TARGET = 0.35


def placement() -> str:
    if SERVER_CPUS is None:
        return f"shared: every process on cores {sorted(ALL_CPUS)}"
    return (
        f"pinned: server under test on core {sorted(SERVER_CPUS)}, load generator and "
        f"simulator on {sorted(LOAD_CPUS)}; two workers on {sorted(ALL_CPUS)}"
    )


Turn = tuple[LoadResult, CpuUse]  # one measurement: the load's result and the CPU it cost


def per_exchange_ms(turn: Turn) -> float:
    """Server CPU per exchange of one measurement."""
    result, cpu = turn
    return cpu.server_seconds / max(result.total, 1) * 1000


def helpers_per_exchange_ms(turn: Turn) -> tuple[float, float]:
    """CPU per exchange of the simulator (and idle servers), and of the load generator."""
    result, cpu = turn
    total = max(result.total, 1)
    return cpu.helper_seconds / total * 1000, cpu.load_seconds / total * 1000


def merged_turn(side: list[Turn]) -> Turn:
    """One side's turns as one measurement: a row measured in rounds."""
    return merged_results([turn[0] for turn in side]), merged_cpu([turn[1] for turn in side])


def rates_of(side: list[Turn]) -> list[float]:
    """req/s of each of one side's turns."""
    return [turn[0].rate for turn in side]


def cpu_ms(row: Row) -> float:
    assert row.result is not None and row.cpu is not None
    return per_exchange_ms((row.result, row.cpu))


def helpers_ms(row: Row) -> tuple[float, float]:
    assert row.result is not None and row.cpu is not None
    return helpers_per_exchange_ms((row.result, row.cpu))


def helpers_note(row: Row) -> str:
    simulator, load = helpers_ms(row)
    return f"simulator {simulator:.2f} ms, load generator {load:.2f} ms per exchange"


@dataclass(frozen=True)
class Rates:
    """req/s of rows 1, 1p and 2 in each round of one concurrency."""

    bare: list[float]
    proxy: list[float]
    gateway: list[float]


def each_round(mine: list[float], theirs: list[float]) -> list[float]:
    """Each round's ratio of two sides' figures."""
    return [a / b if b else 0.0 for a, b in zip(mine, theirs, strict=True)]


def ratio_of_rounds(mine: list[float], theirs: list[float]) -> float:
    """The median of each round's ratio: drift between rounds cancels out."""
    return statistics.median(each_round(mine, theirs))


def gateway_against_baselines(
    conns: int, bare: Row, proxy: Row, gateway: Row, rates: Rates
) -> None:
    """Row 2's ratios to the bare proxy (the target's) and to the bare responder, each the
    median of the rounds' ratios."""
    to_proxy = ratio_of_rounds(rates.gateway, rates.proxy)
    to_bare = ratio_of_rounds(rates.gateway, rates.bare)
    gateway.ratio = f"{to_proxy:.2f}× proxy ({to_bare:.2f}× bare)"
    proxy.ratio = f"{ratio_of_rounds(rates.proxy, rates.bare):.2f}× bare"
    each = _rounded(each_round(rates.gateway, rates.proxy))
    say(f"2 ÷ 1p at {conns} connection(s), round by round: {each}")
    gateway.notes.append(f"÷ proxy by round {each}")
    targets = []
    if conns in (1, 16):
        holds = to_proxy >= PROXY_RATIO_TARGET
        targets.append(f"≥ {PROXY_RATIO_TARGET}× proxy: {verdict(holds)}")
    if conns == 16:
        spent = cpu_ms(gateway)
        targets.append(f"CPU ≤ {CPU_TARGET_MS} ms: {verdict(spent <= CPU_TARGET_MS)}")
    gateway.target = "; ".join(targets)


# This machine drifts ±5% between turns of 10 s (docs/performance.md): a comparison of two
# gateways is made of short turns in pairs, one right after the other, the order swapped from
# pair to pair, and reads the median of the pairs.
PAIR_WARMUP = 0.5


def paired_turns(
    sides: Sequence[tuple[Server, Target]],
    connections: int,
    idle: Sequence[Server],
    pairs: int,
    seconds: float,
) -> list[list[Turn]]:
    """Each side's (result, CPU) of every pair, the sides measured one after the other."""
    turns: list[list[Turn]] = [[] for _ in sides]
    for pair in range(pairs):
        order = range(len(sides)) if pair % 2 == 0 else reversed(range(len(sides)))
        for side in order:
            server, target = sides[side]
            others = [other for other, _ in sides if other is not server]
            turns[side].append(
                measure(
                    target,
                    connections,
                    [server],
                    [*others, *idle],
                    seconds=seconds,
                    warmup=PAIR_WARMUP,
                )
            )
    return turns


def _rounded(figures: list[float]) -> list[float]:
    """Figures as the run's log shows them."""
    return [round(figure, 3) for figure in figures]


TRAIL_CONNECTIONS = 16
TRAIL_PAIRS = 2 if QUICK else 8
TRAIL_SECONDS = 3.0


def trail_row(
    folder: Path,
    pki: DevPki,
    simulator: Server,
    gateway: Server,
    track: Callable[[Server], Server],
    stop: Callable[..., None],
) -> Row:
    """Server CPU per DATA_FOUND exchange with the decision trail and without it
    (SEG_AUDIT_DECISION_TRAIL=false): two fresh gateways, so that neither carries the other
    rows' history (idle supplier connections left by 64 callers cost a turn ~10%), in pairs."""
    row = Row("6", "gateway DATA_FOUND, decision trail off (issue #18)", TRAIL_CONNECTIONS)
    started = [
        track(start_gateway(folder, name, pki, simulator, env, cpus=SERVER_CPUS))
        for name, env in (
            ("gateway-trail", {}),
            ("gateway-no-trail", {"SEG_AUDIT_DECISION_TRAIL": "0"}),
        )
    ]
    sides = [(server, target_for(soap_port(server), pki)) for server in started]
    say(f"decision trail on / off, {TRAIL_CONNECTIONS} connections, {TRAIL_PAIRS} pairs of turns")
    turns = paired_turns(sides, TRAIL_CONNECTIONS, [gateway, simulator], TRAIL_PAIRS, TRAIL_SECONDS)
    stop(*started)
    row.result, row.cpu = turns[1][-1]
    with_trail, without = ([per_exchange_ms(turn) for turn in side] for side in turns)
    say(
        f"6: CPU ms per exchange of each turn, with the trail {_rounded(with_trail)}, "
        f"without {_rounded(without)}"
    )
    cost = statistics.median(
        (on - off) / on * 100 for on, off in zip(with_trail, without, strict=True)
    )
    row.ratio = f"trail {cost:+.1f}% of an exchange"
    row.target = f"trail < 5% of an exchange: {verdict(cost < 5)}"
    row.notes.append(
        f"server CPU ms/exchange, {TRAIL_PAIRS} pairs of {TRAIL_SECONDS:.0f} s turns: medians "
        f"{statistics.median(with_trail):.2f} with the trail, {statistics.median(without):.2f} "
        "without; cost: the median of the pairs' differences"
    )
    return row


WORKERS_CONNECTIONS = 64
WORKERS_PAIRS = 2 if QUICK else 4
WORKERS_SECONDS = 4.0


def machine_bound(single: Turn, double: Turn) -> float:
    """What this machine allows two workers: every core busy with them, the simulator and the
    load, against one worker with a core to itself: cores × G₁ ÷ (G₂ + simulator + load)."""
    simulator, load = helpers_per_exchange_ms(double)
    return len(ALL_CPUS) * per_exchange_ms(single) / (per_exchange_ms(double) + simulator + load)


def workers_row(
    folder: Path,
    pki: DevPki,
    simulator: Server,
    gateway: Server,
    track: Callable[[Server], Server],
    stop: Callable[..., None],
) -> Row:
    """`serve` with SEG_WORKERS=2 and SEG_PIN_WORKERS=true (two processes on the SOAP port,
    SO_REUSEPORT, each pinned to one core) against a fresh one-worker gateway on the server's
    core, in rounds of turns; the same two workers left to the scheduler beside them."""
    row = Row("5", "workers: SEG_WORKERS=2, SEG_PIN_WORKERS=true (2 processes, one port)")
    row.connections = WORKERS_CONNECTIONS
    try:
        workers = track(
            start_gateway(
                folder,
                "gateway-workers",
                pki,
                simulator,
                env={"SEG_PIN_WORKERS": "true"},
                workers=2,
                cpus=ALL_CPUS,
            )
        )
        floating = track(
            start_gateway(folder, "gateway-floating", pki, simulator, workers=2, cpus=ALL_CPUS)
        )
    except RuntimeError as error:
        row.notes.append(f"**not supported** here: {str(error).splitlines()[0][:200]}")
        return row
    processes = len(workers.pids())
    if processes < 2:
        stop(workers, floating)
        row.notes.append("**not supported yet**: SEG_WORKERS=2 started a single process")
        return row
    one = track(start_gateway(folder, "gateway-one-worker", pki, simulator, cpus=SERVER_CPUS))
    sides = [(server, target_for(soap_port(server), pki)) for server in (one, workers, floating)]
    say(
        f"1 worker, 2 pinned, 2 floating, {WORKERS_CONNECTIONS} connections, {WORKERS_PAIRS} rounds"
    )
    turns = paired_turns(
        sides, WORKERS_CONNECTIONS, [gateway, simulator], WORKERS_PAIRS, WORKERS_SECONDS
    )
    stop(one, workers, floating)
    row.result, row.cpu = merged_turn(turns[1])
    single_rates, pinned_rates, floating_rates = (rates_of(side) for side in turns)
    bounds = [machine_bound(s, d) for s, d in zip(turns[0], turns[1], strict=True)]
    say(
        "5: 2 pinned workers ÷ 1 worker in each round "
        f"{_rounded(each_round(pinned_rates, single_rates))}; "
        f"floating {_rounded(each_round(floating_rates, single_rates))}; "
        f"this machine's bound {_rounded(bounds)}; CPU ms per exchange, 1 worker "
        f"{_rounded([per_exchange_ms(t) for t in turns[0]])}, 2 pinned "
        f"{_rounded([per_exchange_ms(t) for t in turns[1]])}, 2 floating "
        f"{_rounded([per_exchange_ms(t) for t in turns[2]])}, simulator and load "
        f"{[_rounded(list(helpers_per_exchange_ms(t))) for t in turns[1]]}"
    )
    ratio = ratio_of_rounds(pinned_rates, single_rates)
    bound = statistics.median(bounds)
    row.ratio = f"{ratio:.2f}× 1 worker"
    row.target = f"≥ 1.7× 1 worker: {verdict(ratio >= 1.7)}"
    row.notes.append(
        f"{processes} processes pinned to cores {sorted(ALL_CPUS)}, one audit file, against a "
        f"fresh 1 worker on core(s) {sorted(SERVER_CPUS or ALL_CPUS)}: median of "
        f"{WORKERS_PAIRS} rounds of {WORKERS_SECONDS:.0f} s turns; the same 2 workers not "
        f"pinned: {ratio_of_rounds(floating_rates, single_rates):.2f}×; {helpers_note(row)}; "
        f"this machine's bound {len(ALL_CPUS)} × 1 worker's CPU ÷ (2 workers' + simulator + "
        f"load) = {bound:.2f}×"
    )
    return row


def memory_row(
    folder: Path,
    pki: DevPki,
    simulator: Server,
    track: Callable[[Server], Server],
    stop: Callable[..., None],
) -> Row:
    first, total = MEMORY_COUNTS
    row = Row("4", f"memory: fresh gateway, {first:,} then {total:,} requests", 16)
    gateway = track(start_gateway(folder, "gateway-memory", pki, simulator, cpus=SERVER_CPUS))
    target = target_for(soap_port(gateway), pki)
    idle = gateway.rss_kib()
    say(f"memory: {first} requests")
    head = run_load(target, 16, seconds=MEMORY_SECONDS, max_requests=first)
    after_first = gateway.rss_kib()
    say(f"memory: {total - first} more requests (bounded by {MEMORY_SECONDS:.0f} s)")
    window = CpuWindow([gateway], [simulator])
    rest = run_load(target, 16, seconds=MEMORY_SECONDS, max_requests=total - first)
    row.cpu = window.finish()
    after_total = gateway.rss_kib()
    stop(gateway)
    done = head.ok + head.errors + rest.ok + rest.errors
    row.result = rest
    growth = (after_total - after_first) / after_first * 100
    row.ratio = f"RSS +{growth:.1f}%"
    row.target = f"growth ≤ 10%: {verdict(growth <= 10)}"
    row.notes.append(
        f"RSS idle {idle / 1024:.1f} MiB, after {head.ok + head.errors:,} requests "
        f"{after_first / 1024:.1f} MiB, after {done:,} {after_total / 1024:.1f} MiB"
    )
    if rest.hit_deadline:
        row.notes.append(f"time bound of {MEMORY_SECONDS:.0f} s reached before {total:,}")
    return row


def slow_rows(
    folder: Path,
    pki: DevPki,
    track: Callable[[Server], Server],
    stop: Callable[..., None],
) -> list[Row]:
    """The 200 ms supplier, the default configuration (R-28's shares included): callers of
    one client from five addresses of the institution, who wait what Retry-After asks."""
    simulator = track(start_simulator(folder, "simulator-slow", latency_ms=SLOW_LATENCY_MS))
    # (label, worker processes, callers, row number)
    variants: list[tuple[str, int, int, str]] = [
        (f"{SLOW_CALLERS} callers of one client, 1 worker", 1, SLOW_CALLERS, "3"),
        (f"{SLOW_CALLERS} callers of one client, SEG_WORKERS=2", 2, SLOW_CALLERS, "3c"),
        (f"{FEW_CALLERS} callers of one client, 1 worker", 1, FEW_CALLERS, "3d"),
    ]
    rows = []
    for label, workers, callers, number in variants:
        gateway = track(
            start_gateway(
                folder,
                f"gateway-slow-{number}",
                pki,
                simulator,
                workers=workers,
                default_limits=True,
                cpus=ALL_CPUS if workers > 1 else SERVER_CPUS,
            )
        )
        say(f"slow supplier ({SLOW_LATENCY_MS} ms): {label}")
        result, cpu = measure(
            target_for(soap_port(gateway), pki, SOURCES),
            callers,
            [gateway],
            [simulator],
            seconds=SLOW_SECONDS,
        )
        stop(gateway)
        row = Row(number, f"slow supplier {SLOW_LATENCY_MS} ms, default configuration: {label}")
        row.connections = callers
        row.result, row.cpu = result, cpu
        asked = result.ok + result.errors + result.refused
        refused = result.refused / asked * 100 if asked else 0.0
        row.ratio = f"{refused:.0f}% refused (R-28)"
        if callers == FEW_CALLERS:
            holds = result.percentile(95) <= 240 and result.errors == 0
            row.target = f"p95 ≤ 240 ms, 0 errors: {verdict(holds)}"
        else:
            row.target = "report: answered p95, share refused"
        row.notes.append(
            f"{result.ok:,} answered, {result.refused:,} refused MSG00003 (callers wait "
            f"Retry-After); {workers} worker(s); from {len(SOURCES)} addresses"
        )
        rows.append(row)
    stop(simulator)
    return rows


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes (read-only git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=PROJECT,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=PROJECT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "source: unknown (no git)"
    return f"source: {commit}" + (" + uncommitted changes in src/" if dirty else "")


def print_table(rows: list[Row], elapsed: float) -> None:
    mode = (
        "**QUICK mode** (BENCH_QUICK=1: counts ÷10, shorter windows)"
        if QUICK
        else (
            f"full mode (rows 1, 1p, 2: {THROUGHPUT_ROUNDS} rounds of {PAIR_WARMUP} s warm-up + "
            f"{ROUND_SECONDS} s turns; slow rows {WARMUP:.0f} s warm-up + {SLOW_SECONDS:.0f} s)"
        )
    )
    print(f"\n{mode}; cores {placement()}; run took {elapsed:.0f} s; {source_state()}\n")
    print(
        "| # | scenario | conns | measured req | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| ratio | server CPU ms/req | other load (cores) | target | notes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
    for row in rows:
        r = row.result
        cells = [str(row.connections or "–")] + ["–"] * 6
        notes = list(row.notes)
        cpu = other = "–"
        if r is not None:
            cells[1:] = [
                f"{r.ok + r.errors:,}",
                f"{r.rate:,.0f}",
                ms(r.percentile(50)),
                ms(r.percentile(95)),
                ms(r.percentile(99)),
                str(r.errors),
            ]
            if r.error_kinds:
                kinds = ", ".join(f"{n} × {k}" for k, n in sorted(r.error_kinds.items()))
                notes.append(f"errors: {kinds}")
            if row.cpu is not None and r.total:
                cpu = f"{cpu_ms(row):.2f}"
                other = f"{row.cpu.other_cores:.2f}"
        print(
            f"| {row.number} | {row.scenario} | "
            + " | ".join(cells)
            + f" | {row.ratio or '–'} | {cpu} | {other} | {row.target or '–'} | "
            + "; ".join(notes)
            + " |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
