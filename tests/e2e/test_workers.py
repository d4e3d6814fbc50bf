"""Several gateway processes sharing the SOAP port (`gateway.workers`, SO_REUSEPORT)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx

from selfemployed_gateway.affinity import allowed_cpus, worker_cpus
from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import gateway_config, tls_context
from tests.support.processes import Server, start, write_config
from tests.support.soap import career_request, customer, payload, status

ONSS = customer(sector=21, institution=0)
BODY = career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159")


def test_two_workers_share_the_port_and_the_audit_trail(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.sqlite3"
    config = write_config(
        tmp_path / "gateway.toml", gateway_config(pki, simulator.urls["simulator"], audit=audit)
    )
    server = start(config, "serve", env={"SEG_WORKERS": "2"})
    tickets: list[str] = []
    try:
        assert server.urls["workers"] == "2"
        time.sleep(2)  # the second worker starts after the first is ready
        for _ in range(40):  # a new connection each time: the kernel spreads them
            with httpx.Client(verify=tls_context(pki, "onss-inspection")) as client:
                element = payload(client.post(server.urls["soap"], content=BODY).content)
            assert status(element)["code"] == "MSG00000"
            tickets.append(element.findtext("informationCBSS/ticketCBSS") or "")
        time.sleep(0.3)
        pids = {
            json.loads(line)["pid"]
            for line in server.output
            if line.startswith("{") and '"message": "exchange"' in line
        }
        assert len(pids) == 2
    finally:
        server.stop()
    time.sleep(1)
    for pid in pids:  # the workers stop with the first process
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    store = SqliteAuditStore(audit)
    try:
        assert all(store.by_ticket(ticket) for ticket in tickets)
    finally:
        store.close()


def test_pinned_workers_each_keep_their_cpu_with_every_thread(
    pki: DevPki, simulator: Server, tmp_path: Path
) -> None:
    """`gateway.pin_workers`: the allowed CPUs in turn, one per process (issue #17)."""
    config = write_config(
        tmp_path / "gateway.toml",
        gateway_config(pki, simulator.urls["simulator"], audit=tmp_path / "audit.sqlite3"),
    )
    server = start(config, "serve", env={"SEG_WORKERS": "2", "SEG_PIN_WORKERS": "true"})
    try:
        parent = server.process.pid
        deadline = time.monotonic() + 20
        while not _children(parent) and time.monotonic() < deadline:
            time.sleep(0.1)
        (child,) = _children(parent)
        with httpx.Client(verify=tls_context(pki, "onss-inspection")) as client:
            element = payload(client.post(server.urls["soap"], content=BODY).content)
        assert status(element)["code"] == "MSG00000"
        deadline = time.monotonic() + 20  # the worker pins itself as it starts
        while _thread_cpus(child) != {worker_cpus(allowed_cpus(), 2)[1]}:
            assert time.monotonic() < deadline, _thread_cpus(child)
            time.sleep(0.1)
        assert _thread_cpus(parent) == {worker_cpus(allowed_cpus(), 2)[0]}
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _thread_cpus(pid: int) -> set[int]:
    """The one CPU of each thread of `pid`; a thread allowed several counts as -1."""
    cpus = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        mask = os.sched_getaffinity(int(task.name))
        cpus.add(next(iter(mask)) if len(mask) == 1 else -1)
    return cpus


def _zombie(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
