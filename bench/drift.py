"""How much the same measurement moves from one run to the next: `python -m bench.drift`.

Not part of `make bench`. Starts one simulator and one gateway (as `make bench` does), then
measures the gateway `ROUNDS` times at 1, 2, 4 and 16 keep-alive connections (4 s each,
bounded by count and time), printing req/s, p50 and the server's CPU per request of every
round: on a machine whose speed drifts, a difference between two `make bench` tables smaller
than the spread seen here is noise. Only 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bench.load import run_load
from bench.run import soap_port, target_for
from bench.servers import make_pki, start_gateway, start_simulator

ROUNDS = int(os.environ.get("BENCH_DRIFT_ROUNDS", "3"))
CONNECTIONS = (1, 2, 4, 16)
SECONDS = 4.0


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="seg-drift-"))
    pki = make_pki(folder)
    simulator = start_simulator(folder, "simulator")
    gateway = start_gateway(folder, "gateway", pki, simulator)
    try:
        target = target_for(soap_port(gateway), pki)
        run_load(target, 4, seconds=2, max_requests=20_000)  # warm-up
        print("| round | conns | req/s | p50 ms | server CPU ms/req | simulator CPU ms/req |")
        print("|---:|---:|---:|---:|---:|---:|")
        for round_number in range(1, ROUNDS + 1):
            for conns in CONNECTIONS:
                gateway_cpu, simulator_cpu = gateway.cpu_seconds(), simulator.cpu_seconds()
                result = run_load(target, conns, seconds=SECONDS, max_requests=100_000)
                requests = max(1, result.total)
                gateway_ms = (gateway.cpu_seconds() - gateway_cpu) / requests * 1000
                simulator_ms = (simulator.cpu_seconds() - simulator_cpu) / requests * 1000
                print(
                    f"| {round_number} | {conns} | {result.rate:.0f} | "
                    f"{result.percentile(50):.1f} | {gateway_ms:.2f} | {simulator_ms:.2f} |"
                )
    finally:
        gateway.stop()
        simulator.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
