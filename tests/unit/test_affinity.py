"""One CPU per gateway process (`gateway.pin_workers`, `gateway.cpu`; issue #17)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from selfemployed_gateway.affinity import allowed_cpus, worker_cpus
from tests.support.paths import PROJECT


def test_workers_take_the_allowed_cpus_in_turn() -> None:
    assert worker_cpus([0, 1], 2) == [0, 1]
    assert worker_cpus([2, 5, 7], 2) == [2, 5]
    assert worker_cpus([0, 1], 5) == [0, 1, 0, 1, 0]  # more workers than CPUs: they share
    assert worker_cpus([3], 1) == [3]


def test_worker_cpus_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="no CPU"):
        worker_cpus([], 2)
    with pytest.raises(ValueError, match="at least 1"):
        worker_cpus([0], 0)


def test_allowed_cpus_is_this_process_affinity() -> None:
    assert allowed_cpus() == sorted(os.sched_getaffinity(0))


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter: pinning must not touch the test process."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _threads_and_masks_after(code: str) -> list[str]:
    """`code` in a fresh interpreter (its threads waiting on `stop`), then how many threads
    `threading` knows and their affinity masks, as printed: `["3", "[[1]]\\n"]`."""
    result = _run(
        textwrap.dedent(code)
        + textwrap.dedent(
            """
            threads = [thread.native_id for thread in threading.enumerate()]
            masks = {frozenset(os.sched_getaffinity(thread)) for thread in threads}
            stop.set()
            print(len(set(threads)), sorted(map(sorted, masks)))
            """
        )
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split(" ", 1)


def test_every_thread_is_pinned_those_running_and_those_started_after() -> None:
    cpu = max(os.sched_getaffinity(0))
    result = _threads_and_masks_after(
        f"""
        import os, threading
        from selfemployed_gateway.affinity import pin_process
        stop = threading.Event()
        before = threading.Thread(target=stop.wait)
        before.start()
        pin_process({cpu})
        after = threading.Thread(target=stop.wait)
        after.start()
        """
    )
    assert result == ["3", f"[[{cpu}]]\n"]


def test_every_thread_is_pinned_when_proc_lists_only_the_calling_one() -> None:
    # What the project's CI sandbox showed (stop 35): /proc/self/task listed one task of three.
    cpu = max(os.sched_getaffinity(0))
    result = _threads_and_masks_after(
        f"""
        import os, threading
        from selfemployed_gateway import affinity
        listdir = os.listdir
        def sandbox_listdir(path):
            if path == "/proc/self/task":
                return [str(threading.get_native_id())]
            return listdir(path)
        os.listdir = sandbox_listdir
        stop = threading.Event()
        started = [threading.Thread(target=stop.wait) for _ in range(2)]
        for thread in started:
            thread.start()
        affinity.pin_process({cpu})
        """
    )
    assert result == ["3", f"[[{cpu}]]\n"]


def test_a_cpu_outside_the_allowed_ones_is_a_configuration_error() -> None:
    result = _run(
        """
        from selfemployed_gateway.affinity import pin_process
        from selfemployed_gateway.errors import ConfigurationError
        try:
            pin_process(4095)
        except ConfigurationError as error:
            print(error)
        """
    )
    allowed = ", ".join(str(n) for n in sorted(os.sched_getaffinity(0)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"gateway.cpu = 4095: not a CPU this process may use ({allowed}): "
    )
