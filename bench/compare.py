"""Before and after, in turns: `python -m bench.compare REV [REV…]` (not part of `make bench`).

On a machine whose speed drifts (docs/performance.md, *Caveats*), two `make bench` tables taken
minutes apart differ by more than most single changes. This measures the gateway of each
revision and of the working tree in turns (A, B, A, B…), each a fresh `serve` on the core of
the server under test, at 16 keep-alive connections, 2 s of warm-up then 6 s, bounded by count
and time, and prints the server CPU per exchange and req/s of every turn and their medians.

Each revision is checked out with `git worktree add` into a temporary folder and run from its
own `src/` (PYTHONPATH before the editable install); the benchmark code, the simulator, the
PKI and the configuration are the working tree's for every side. Only 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.load import run_load
from bench.run import LOAD_CPUS, SERVER_CPUS, soap_port, target_for
from bench.servers import PROJECT, make_pki, start_gateway, start_simulator

ROUNDS = int(os.environ.get("BENCH_COMPARE_ROUNDS", "3"))
CONNECTIONS = 16
SECONDS = 6.0


def main(revisions: list[str]) -> int:
    folder = Path(tempfile.mkdtemp(prefix="seg-compare-"))
    trees: dict[str, Path] = {}
    simulator = None
    try:
        for revision in revisions:
            tree = folder / f"tree-{len(trees)}"
            subprocess.run(
                ["git", "worktree", "add", "--detach", "--quiet", str(tree), revision],
                cwd=PROJECT,
                check=True,
            )
            trees[revision] = tree
        trees["working tree"] = PROJECT
        pki = make_pki(folder)
        simulator = start_simulator(folder, "simulator")
        os.sched_setaffinity(0, LOAD_CPUS)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        print("| round | source | req/s | server CPU ms/req |")
        print("|---:|---|---:|---:|")
        for round_number in range(1, ROUNDS + 1):
            for name, tree in trees.items():
                env = {"PYTHONPATH": str(tree / "src")}
                gateway = start_gateway(
                    folder, f"gateway-{round_number}-{len(figures[name])}-{tree.name}", pki,
                    simulator, env=env, cpus=SERVER_CPUS,
                )  # fmt: skip
                try:
                    target = target_for(soap_port(gateway), pki)
                    run_load(target, CONNECTIONS, seconds=2, max_requests=20_000)
                    before = gateway.cpu_seconds()
                    result = run_load(target, CONNECTIONS, seconds=SECONDS, max_requests=100_000)
                    cpu_ms = (gateway.cpu_seconds() - before) / max(1, result.total) * 1000
                finally:
                    gateway.stop()
                figures[name].append((result.rate, cpu_ms))
                print(f"| {round_number} | {name} | {result.rate:.0f} | {cpu_ms:.2f} |", flush=True)
        print()
        print("| source | median req/s | median server CPU ms/req |")
        print("|---|---:|---:|")
        for name, rows in figures.items():
            rate = statistics.median(row[0] for row in rows)
            cpu = statistics.median(row[1] for row in rows)
            print(f"| {name} | {rate:.0f} | {cpu:.2f} |")
    finally:
        if simulator is not None:
            simulator.stop()
        for tree in trees.values():
            if tree != PROJECT:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=PROJECT, check=False
                )
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.compare REV [REV…]  (e.g. HEAD~3)")
    raise SystemExit(main(sys.argv[1:]))
