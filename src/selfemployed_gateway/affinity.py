"""One CPU per gateway process (`gateway.pin_workers`, `gateway.cpu`; issue #17).

`serve` with `gateway.workers` > 1 runs several processes on one SOAP port, each one event
loop that keeps a CPU busy. Left to the scheduler, a process moves from CPU to CPU as the other
work of the machine comes and goes, and each move starts on cold caches; pinned, each keeps its
own, as nginx's `worker_cpu_affinity auto` does. Measured here (2 cores shared with the
simulator and the load generator, row 5's rounds of turns, docs/performance.md): two pinned
workers scaled better than two floating ones in three runs of four (+0.09x on average, the
smaller gaps inside a round's noise).

Every thread of the process is pinned, those already running (logging, the audit writer) and,
by inheritance, those it starts later. Linux only (`os.sched_setaffinity`).

The threads are found both in `threading` and in `/proc/self/task`: the project's CI sandbox
listed one task there for a process of three threads, so `/proc` alone is not enough, and a
`/proc` that does not list the calling thread belongs to another PID namespace and is ignored
(its numbers would name other tasks).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from selfemployed_gateway.errors import ConfigurationError


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity: a container's cpuset, `taskset`…)."""
    if not hasattr(os, "sched_getaffinity"):
        raise ConfigurationError(
            "gateway.pin_workers: CPU affinity is not available on this system (Linux only)"
        )
    return sorted(os.sched_getaffinity(0))


def worker_cpus(allowed: Sequence[int], workers: int) -> list[int]:
    """The CPU of each of `workers` processes, first the parent's: the allowed CPUs in turn
    (with more workers than CPUs, some share one)."""
    if not allowed:
        raise ValueError("no CPU allowed")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return [allowed[index % len(allowed)] for index in range(workers)]


def pin_process(cpu: int) -> None:
    """Every thread of this process on `cpu` alone, or ConfigurationError naming the CPUs
    this process may use when `cpu` is not one of them."""
    if not hasattr(os, "sched_setaffinity"):
        raise ConfigurationError(
            f"gateway.cpu = {cpu}: CPU affinity is not available on this system (Linux only)"
        )
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as error:  # EINVAL: not in this process's cpuset, or offline
        allowed = ", ".join(str(n) for n in sorted(os.sched_getaffinity(0)))
        raise ConfigurationError(
            f"gateway.cpu = {cpu}: not a CPU this process may use ({allowed}): {error.strerror}"
        ) from error
    for thread in process_threads():
        try:
            os.sched_setaffinity(thread, {cpu})
        except ProcessLookupError:  # a thread that ended meanwhile
            continue


def process_threads() -> set[int]:
    """The kernel's ids of this process's threads: those `threading` knows, and those
    `/proc/self/task` lists when it is this process's (threads no Python code started)."""
    known = {thread.native_id for thread in threading.enumerate() if thread.native_id is not None}
    try:
        listed = {int(task) for task in os.listdir("/proc/self/task")}
    except OSError:  # no /proc
        return known
    if threading.get_native_id() not in listed:  # another PID namespace's /proc
        return known
    return known | listed
