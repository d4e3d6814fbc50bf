"""What each part of an exchange costs, by removing it: `python -m bench.ablate [PART…]`.

Not part of `make bench`. py-spy's `--gil` samples see only Python holding the GIL (SQLite's
commit, run with the GIL released, is not in them) and cProfile inflates Python-heavy code;
this measures CPU instead. The gateway is built in process from the configuration of the
benchmark (as `bench.profile` does: logging at info to a file, SQLite audit, the supplier's
answer memoised so that no HTTP is in the figure), `ExchangeHandler.handle` runs in a loop
on one core, and each part is taken out in turn with the whole exchange as the baseline
(base, part 1, part 2…, then again: `BENCH_ABLATE_TURNS` turns of `BENCH_ABLATE_REQUESTS`
exchanges, `BENCH_ABLATE_IN_FLIGHT` awaited at once: 1 by default, 16 as row 2 at 16
connections, where batching spreads some costs over the exchanges in flight). Printed: the
median CPU per exchange of every thread, and what removing the part saves. The parts (one
attribute of the built gateway replaced, put back after its turn):

- `audit`: no audit write at all; `audit_inline`: the record built and stored on the loop,
  no writer thread (the difference to the baseline is the hand-over to the thread and back);
- `trail`: no decision trail; `log`: no exchange log line; `metrics`: no metrics;
- `reader` / `writer`: spyne's reading / the response's writing, replayed from the first call;
- `xsd`: no schema validation of the request.

Bounded: every turn by count and time (`bench.profile.LOOP_SECONDS`). Only 127.0.0.1 (the
simulator, for the first answer).
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

from bench.profile import in_process_gateway, memoise_supplier, simulated, timed_exchanges
from bench.run import SERVER_CPUS

TURNS = int(os.environ.get("BENCH_ABLATE_TURNS", "5"))
REQUESTS = int(os.environ.get("BENCH_ABLATE_REQUESTS", "1500"))
# Exchanges awaited at once: 16 is row 2's load at 16 connections, where the audit writer's
# group commit and the loop share their costs among the exchanges of a batch.
IN_FLIGHT = int(os.environ.get("BENCH_ABLATE_IN_FLIGHT", "1"))

Patch = tuple[Callable[[], None], Callable[[], None]]  # (take the part out, put it back)


def _swap(owner: Any, name: str, value: Any) -> Patch:
    original = getattr(owner, name)
    return (lambda: setattr(owner, name, value), lambda: setattr(owner, name, original))


def _together(*patches: Patch) -> Patch:
    def take_out() -> None:
        for patch in patches:
            patch[0]()

    def put_back() -> None:
        for patch in patches:
            patch[1]()

    return take_out, put_back


def _replayed(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`'s first result, returned again for every later call."""
    kept: list[Any] = []

    def replay(*arguments: Any) -> Any:
        if not kept:
            kept.append(function(*arguments))
        return kept[0]

    return replay


def parts(gateway: Any, loop: asyncio.AbstractEventLoop) -> dict[str, Patch]:
    from selfemployed_gateway.soap import writer as soap_writer

    exchanges, endpoint = gateway.exchanges, gateway.endpoint
    writer = exchanges.audit_writer

    async def unstored(trace: Any, call: Any, answer: Any, started: float) -> Any:
        return answer

    def inline(prepare: Callable[[], Any]) -> asyncio.Future[None]:
        done = loop.create_future()
        writer.store.record_many([prepare()])
        done.set_result(None)
        return done

    exchange_log = logging.getLogger("selfemployed_gateway.exchange")
    return {
        "audit": _swap(exchanges, "_store", unstored),
        "audit_inline": _swap(writer, "write", inline),
        "trail": _swap(exchanges, "decision_trail", False),
        "log": _swap(exchange_log, "disabled", True),
        "metrics": _together(
            _swap(exchanges.metrics, "exchange", lambda *_: None),
            _swap(exchanges, "_count_client", lambda *_: None),
        ),
        "reader": _swap(endpoint.reader, "read", _replayed(endpoint.reader.read)),
        # The endpoint looks the function up in the writer's module at each call.
        "writer": _swap(soap_writer, "response_envelope", _replayed(soap_writer.response_envelope)),
        "xsd": _swap(endpoint, "_validate", lambda _payload: None),
    }


def main(chosen: list[str]) -> int:
    with simulated() as (folder, pki, simulator):
        if SERVER_CPUS is not None:  # pinned: the server's core, as in `make bench`
            os.sched_setaffinity(0, SERVER_CPUS)
        gateway, call, log_stream = in_process_gateway(folder, pki, simulator)
        memoise_supplier(gateway)
        loop = asyncio.new_event_loop()

        def turn(count: int) -> float:
            """CPU ms per exchange, every thread of this process."""
            done, _wall, cpu = timed_exchanges(loop, gateway, call, count, IN_FLIGHT)
            return cpu / done * 1000

        available = parts(gateway, loop)
        unknown = [name for name in chosen if name not in available]
        if unknown:
            raise SystemExit(f"unknown part(s) {unknown}; known: {', '.join(available)}")
        names = chosen or list(available)
        turn(200)  # warm-up: the memoised answer, caches, the audit file
        figures: dict[str, list[float]] = {name: [] for name in ["base", *names]}
        for _ in range(TURNS):
            figures["base"].append(turn(REQUESTS))
            for name in names:
                take_out, put_back = available[name]
                take_out()
                try:
                    figures[name].append(turn(REQUESTS))
                finally:
                    put_back()
        loop.run_until_complete(gateway.supplier.aclose())
        gateway.audit.close()
        loop.close()
        log_stream.close()
    base = statistics.median(figures["base"])
    print(
        f"In process, supplier memoised, median of {TURNS} turns of {REQUESTS} exchanges, "
        f"{IN_FLIGHT} in flight at once "
        "(CPU of every thread)\n"
    )
    print("| without | CPU ms per exchange | saves ms |")
    print("|---|---:|---:|")
    print(f"| (nothing: the whole exchange) | {base:.3f} | – |")
    for name in names:
        median = statistics.median(figures[name])
        print(f"| {name} | {median:.3f} | {base - median:+.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
