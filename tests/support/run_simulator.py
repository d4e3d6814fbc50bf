"""Run the built-in INASTI simulator for tests: the reference dataset on 127.0.0.1.

Usage: python run_simulator.py [--port N] [--clock ISO-DATETIME] [--latency-ms N]

Prints the port it listens on (port 0, the default, picks a free one) on stdout, then serves
until killed (SIGTERM stops the reactor cleanly).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from twisted.internet import reactor

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.settings import Listener, SimulatorSettings
from selfemployed_gateway.simulator.resource import listen_simulator

# Run as a script (no `tests` package on the path): the project is two folders up.
DATASET = Path(__file__).resolve().parents[2] / "config" / "reference-dataset.json"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--clock", default=None)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = SimulatorSettings(
        listen=Listener(host="127.0.0.1", port=args.port),
        dataset=DATASET,
        clock=args.clock,
        latency_ms=args.latency_ms,
    )
    port = listen_simulator(reactor, load_dataset(DATASET), settings)
    print(port.getHost().port, flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
