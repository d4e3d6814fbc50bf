"""The Twisted INASTI simulator in a subprocess (tests/support/run_simulator.py)."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "run_simulator.py"


@contextmanager
def simulator_on_free_port(folder: Path, clock: datetime) -> Iterator[int]:
    """Start the simulator on a free port of 127.0.0.1 with its clock at `clock`; yield the
    port; stop it at the end."""
    log = folder / "simulator.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--clock", clock.isoformat()],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=20)
        assert first.strip().isdigit(), f"simulator did not start: {log.read_text()}"
        yield int(first)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stdout.close()
