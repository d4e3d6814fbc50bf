"""Where the CPU went during a measurement: the server under test, and everybody else.

The load generator shares the two cores with the servers, and other work on the machine
(another test run…) skews any figure. A `CpuWindow` reads /proc/stat and the servers'
/proc/<pid>/stat around a measurement, so the table can say how much CPU the server used per
request and how many cores were busy with processes that are not part of the benchmark.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.servers import CLOCK_TICKS, Server


def _machine_busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _own_seconds() -> float:
    """This process and its waited-for children (the load generator's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class CpuUse:
    seconds: float
    server_seconds: float  # the servers named as "under test"
    other_cores: float  # average cores busy with processes that are not ours
    # The rest of the benchmark's own CPU: the other servers (the simulator…) and the bench
    # process with its load generator. On two cores, what they take the server cannot use.
    helper_seconds: float = 0.0
    load_seconds: float = 0.0


class CpuWindow:
    def __init__(self, under_test: Sequence[Server], also_ours: Sequence[Server] = ()) -> None:
        self.under_test = list(under_test)
        self.also_ours = list(also_ours)
        self.started = time.monotonic()
        self.machine = _machine_busy_seconds()
        self.own = _own_seconds()
        self.servers = {s.pid: s.cpu_seconds() for s in self.under_test + self.also_ours}

    def finish(self) -> CpuUse:
        elapsed = time.monotonic() - self.started
        machine = _machine_busy_seconds() - self.machine
        own = _own_seconds() - self.own
        deltas = {
            s.pid: s.cpu_seconds() - self.servers[s.pid] for s in self.under_test + self.also_ours
        }
        server = sum(deltas[s.pid] for s in self.under_test)
        ours = own + sum(deltas.values())
        other = max(0.0, machine - ours) / elapsed if elapsed > 0 else 0.0
        helpers = sum(deltas[s.pid] for s in self.also_ours)
        return CpuUse(
            seconds=elapsed,
            server_seconds=server,
            other_cores=other,
            helper_seconds=helpers,
            load_seconds=own,
        )


def merged(uses: Sequence[CpuUse]) -> CpuUse:
    """Several measurements' CPU as one: seconds added, other cores weighted by duration."""
    seconds = sum(use.seconds for use in uses)
    return CpuUse(
        seconds=seconds,
        server_seconds=sum(use.server_seconds for use in uses),
        other_cores=sum(use.other_cores * use.seconds for use in uses) / seconds
        if seconds
        else 0.0,
        helper_seconds=sum(use.helper_seconds for use in uses),
        load_seconds=sum(use.load_seconds for use in uses),
    )
