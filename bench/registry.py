"""Per-read latency of the registers (issue #14): `python -m bench.registry`.

Starts a throwaway PostgreSQL server on loopback (as the tests do), loads the reference
dataset with `registry load`'s function, then times 2,000 reads of one person's client
integrations on each backend, awaited on an asyncio loop as the gateway does. Prints a table.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from tests.support.paths import PROJECT
from tests.support.postgres import find_binaries, running_postgres

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.registry.postgresql import PostgresRegisters, create_schema
from selfemployed_gateway.registry.postgresql import load_dataset as load_registers
from selfemployed_gateway.registry.sqlite import SqliteRegisters

READS = 2000


async def measure(registers: SqliteRegisters | PostgresRegisters) -> tuple[float, float]:
    await registers.find("65031510159")  # connected, warm
    times = []
    for _ in range(READS):
        started = time.perf_counter()
        await registers.client_integrations("65031510159", "cpas-namur")
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(READS * 0.99)] * 1000


def main() -> int:
    binaries = find_binaries()
    if binaries is None:
        print("PostgreSQL is not installed (initdb, pg_ctl): apt-get install postgresql")
        return 1
    dataset = load_dataset(PROJECT / "config" / "reference-dataset.json")
    with running_postgres(binaries) as server:
        create_schema(server.dsn)
        load_registers(server.dsn, dataset)
        remote = PostgresRegisters(server.dsn, timeout_seconds=2)
        rows = [
            ("sqlite (in memory)", asyncio.run(measure(SqliteRegisters.from_dataset(dataset)))),
            ("postgresql (loopback)", asyncio.run(measure(remote))),
        ]
    print(f"| registers | median per read | p99 per read ({READS} reads) |\n|---|---|---|")
    for name, (median, p99) in rows:
        print(f"| {name} | {median:.3f} ms | {p99:.3f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
