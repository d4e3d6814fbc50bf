"""Before and after, in pairs of turns: `python -m bench.compare REV [REV…]` (not part of
`make bench`).

On a machine whose speed drifts (docs/performance.md, *Caveats*), two `make bench` tables taken
minutes apart differ by more than most single changes. This starts one gateway per revision and
one for the working tree, each a `serve` on the core of the server under test, and measures them
one right after the other in rounds of short turns (16 keep-alive connections, 0.5 s of warm-up
then 3 s, bounded by count and time), the order reversed from round to round, as rows 5 and 6 of
`make bench` do (`bench.run.paired_turns`). Printed: the server CPU per exchange and req/s of
every turn, their medians, and the median of each round's difference to the working tree.

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

from bench.run import (
    LOAD_CPUS,
    SERVER_CPUS,
    paired_turns,
    per_exchange_ms,
    rates_of,
    soap_port,
    target_for,
)
from bench.servers import PROJECT, Server, make_pki, start_gateway, start_simulator

ROUNDS = int(os.environ.get("BENCH_COMPARE_ROUNDS", "8"))
CONNECTIONS = 16
SECONDS = 3.0
WORKING_TREE = "working tree"


def main(revisions: list[str]) -> int:
    folder = Path(tempfile.mkdtemp(prefix="seg-compare-"))
    trees: dict[str, Path] = {WORKING_TREE: PROJECT}
    servers: list[Server] = []
    try:
        for revision in revisions:
            tree = folder / f"tree-{len(trees)}"
            subprocess.run(
                ["git", "worktree", "add", "--detach", "--quiet", str(tree), revision],
                cwd=PROJECT,
                check=True,
            )
            trees[revision] = tree
        pki = make_pki(folder)
        simulator = start_simulator(folder, "simulator")
        servers.append(simulator)
        os.sched_setaffinity(0, LOAD_CPUS)
        gateways = []
        for number, tree in enumerate(trees.values()):
            env = {"PYTHONPATH": str(tree / "src")}
            gateway = start_gateway(
                folder, f"gateway-{number}", pki, simulator, env=env, cpus=SERVER_CPUS
            )
            servers.append(gateway)
            gateways.append(gateway)
        sides = [(gateway, target_for(soap_port(gateway), pki)) for gateway in gateways]
        turns = paired_turns(sides, CONNECTIONS, [simulator], ROUNDS, SECONDS)
        by_source = dict(zip(trees, turns, strict=True))
        cpu = {name: [per_exchange_ms(turn) for turn in side] for name, side in by_source.items()}
        rate = {name: rates_of(side) for name, side in by_source.items()}
        print("| round | source | req/s | server CPU ms/req |")
        print("|---:|---|---:|---:|")
        for round_number in range(ROUNDS):
            for name in trees:
                print(
                    f"| {round_number + 1} | {name} | {rate[name][round_number]:.0f} | "
                    f"{cpu[name][round_number]:.3f} |"
                )
        print()
        print("| source | median req/s | median server CPU ms/req | median difference per round |")
        print("|---|---:|---:|---:|")
        base = cpu[WORKING_TREE]
        for name in trees:
            differences = [
                (mine - theirs) * 1000 for mine, theirs in zip(cpu[name], base, strict=True)
            ]
            versus = "–" if name == WORKING_TREE else f"{statistics.median(differences):+.0f} µs"
            print(
                f"| {name} | {statistics.median(rate[name]):.0f} | "
                f"{statistics.median(cpu[name]):.3f} | {versus} |"
            )
    finally:
        for server in servers:
            server.stop()
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
