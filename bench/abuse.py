"""The abuse benchmark (`make soak`, `python -m bench.abuse`): three abusive clients and one
well-behaved one against `serve` + `simulate-inasti` on 127.0.0.1, for ABUSE_SECONDS (60).

- onss-inspection floods slow calls (the simulator's slow person, cut at the budget), 64 at a
  time: its share (R-28) refuses most of them at once;
- riziv-medical sends, in turn, 1 MB Headers (413 before they are read), element bombs and
  long texts under the body limit (MSG00004 on the XML limits);
- 600 idle TCP connections are held from 127.0.0.3 (the per-peer bound closes most at once);
- famifund-east (sector 7, institution 2) calls consultCareer in a loop and measures.
Each calls from its own loopback address (127.0.0.2 … 127.0.0.5), as institutions do.

Then 100 sequential calls must all be DATA_FOUND. Printed with the targets: well-behaved p90
< 1 s and no error, gateway RSS growth < 25%, audit growth < 50 MB, after the abuse 100/100.
Loopback only, every loop bounded in count and time.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.servers import Server, make_pki, start_gateway, start_simulator
from selfemployed_gateway.devpki import DevPki

SECONDS = float(os.environ.get("ABUSE_SECONDS", "60"))
SLOW = "64082006457"
FLOOD = 64
IDLE = 600
MAX_CALLS = 200_000  # a bound on every loop, whatever the speed
SECTOR = "<customerIdentification><sector>{}</sector><institution>{}</institution>"
ONSS = SECTOR.format(21, 0) + "</customerIdentification>"
RIZIV = "<customerIdentification><cbeNumber>0234567873</cbeNumber></customerIdentification>"
FAMI = SECTOR.format(7, 2) + "</customerIdentification>"


def request(
    identification: str, context: str, ssin: str, header: str = "", extra: str = ""
) -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        f"{header}<soapenv:Body>"
        '<ses:consultCareerRequest xmlns:ses="http://kszbcss.fgov.be/intf/SelfEmployedService/v2">'
        f"<informationCustomer><ticket>abuse</ticket>{identification}</informationCustomer>"
        f"<legalContext>{context}</legalContext>{extra}<criteria><ssin>{ssin}</ssin></criteria>"
        "</ses:consultCareerRequest></soapenv:Body></soapenv:Envelope>"
    ).encode()


GOOD = request(FAMI, "FAMILY_ALLOWANCES:ENTITLEMENT", "65031510159")
SLOW_CALL = request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", SLOW)
HOSTILE = [
    request(
        RIZIV,
        "HEALTH_INSURANCE:INCAPACITY",
        "65031510159",
        header="<soapenv:Header><h>" + "x" * 1_000_000 + "</h></soapenv:Header>",
    ),
    request(
        RIZIV,
        "HEALTH_INSURANCE:INCAPACITY",
        "65031510159",
        header="<soapenv:Header>" + "<a/>" * 15_000 + "</soapenv:Header>",
    ),
    request(
        RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159", extra="<z>" + "t" * 60_000 + "</z>"
    ),
]


# Each institution calls from its own address, as institutions do (per-peer bounds).
SOURCES = {
    "onss-inspection": "127.0.0.2",
    "riziv-medical": "127.0.0.5",
    "famifund-east": "127.0.0.4",
}


def client(pki: DevPki, client_id: str, timeout: float = 15) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    pair = pki.clients[client_id]
    context.load_cert_chain(str(pair.cert), str(pair.key))
    transport = httpx.HTTPTransport(verify=context, local_address=SOURCES[client_id])
    return httpx.Client(transport=transport, timeout=timeout)


def is_data_found(response: httpx.Response) -> bool:
    return response.status_code == 200 and b"<code>MSG00000</code>" in response.content


def until(deadline: float, stop: threading.Event) -> bool:
    return time.monotonic() < deadline and not stop.is_set()


def hammer(
    pki: DevPki,
    client_id: str,
    url: str,
    bodies: list[bytes],
    deadline: float,
    stop: threading.Event,
    tally: dict[str, int],
) -> None:
    """POST `bodies` in turn as `client_id` until the deadline; count the HTTP statuses
    (-1: no answer, the connection refused or cut)."""
    with client(pki, client_id) as http:
        for i in range(MAX_CALLS):
            if not until(deadline, stop):
                return
            try:
                code = http.post(url, content=bodies[i % len(bodies)]).status_code
            except httpx.HTTPError:
                code = -1
            tally[str(code)] = tally.get(str(code), 0) + 1


def idle(url: str, deadline: float, stop: threading.Event, tally: dict[str, int]) -> None:
    """Keep IDLE connections open from 127.0.0.3, reopening those the gateway closes."""
    parts = urlsplit(url)
    target = (parts.hostname or "127.0.0.1", parts.port or 0)
    held: list[socket.socket] = []
    for _ in range(MAX_CALLS):
        if not until(deadline, stop):
            break
        while len(held) < IDLE:
            sock = socket.socket()
            sock.bind(("127.0.0.3", 0))
            try:
                sock.connect(target)
            except OSError:
                sock.close()
                break
            held.append(sock)
            tally["opened"] = tally.get("opened", 0) + 1
        time.sleep(1.0)
        alive = []
        for sock in held:
            sock.setblocking(False)
            try:
                gone = sock.recv(1) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                sock.close()
            else:
                alive.append(sock)
        held = alive
    for sock in held:
        sock.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="seg-abuse-"))
    pki = make_pki(folder)
    simulator = start_simulator(folder, "simulator")
    gateway: Server | None = None
    try:
        gateway = start_gateway(folder, "gateway", pki, simulator, default_limits=True)
        url = str(gateway.ready["soap"])
        audit = folder / "gateway-audit.sqlite3"
        with client(pki, "famifund-east") as warm:  # caches and pools as in steady use
            for _ in range(1000):
                warm.post(url, content=GOOD)
        rss_before = gateway.rss_kib()
        audit_before = sum(p.stat().st_size for p in folder.glob("gateway-audit.sqlite3*"))
        stop = threading.Event()
        deadline = time.monotonic() + SECONDS
        floods: dict[str, int] = {}
        hostiles: dict[str, int] = {}
        idles: dict[str, int] = {}
        latencies: list[float] = []
        errors = 0
        with ThreadPoolExecutor(FLOOD + 6) as pool:
            jobs = [
                pool.submit(
                    hammer, pki, "onss-inspection", url, [SLOW_CALL], deadline, stop, floods
                )
                for _ in range(FLOOD)
            ]
            jobs += [
                pool.submit(hammer, pki, "riziv-medical", url, HOSTILE, deadline, stop, hostiles)
                for _ in range(4)
            ]
            jobs.append(pool.submit(idle, url, deadline, stop, idles))
            time.sleep(min(5.0, SECONDS / 4))  # the abuse is under way
            with client(pki, "famifund-east") as good:
                for _ in range(MAX_CALLS):
                    if time.monotonic() >= deadline:
                        break
                    started = time.perf_counter()
                    try:
                        ok = is_data_found(good.post(url, content=GOOD))
                    except httpx.HTTPError:
                        ok = False
                    latencies.append(time.perf_counter() - started)
                    errors += 0 if ok else 1
            stop.set()
            for job in jobs:
                job.result()
        time.sleep(3.0)  # the abusers' connections are gone
        rss_after = gateway.rss_kib()
        audit_after = sum(p.stat().st_size for p in folder.glob("gateway-audit.sqlite3*"))
        with client(pki, "famifund-east") as after:
            answers = [after.post(url, content=GOOD) for _ in range(100)]
        recovered = sum(is_data_found(answer) for answer in answers)
        if recovered < 100:
            failed = next(a for a in answers if not is_data_found(a))
            print(f"after the abuse, for example: HTTP {failed.status_code} {failed.text[-900:]}")
        p50, p90, p99 = (percentile(latencies, f) * 1000 for f in (0.5, 0.9, 0.99))
        growth = (rss_after - rss_before) / rss_before * 100
        audit_mb = (audit_after - audit_before) / 1e6
        rows = [
            (
                "well-behaved client",
                f"{len(latencies)} calls, p50 {p50:.0f} ms, p90 {p90:.0f} ms, "
                f"p99 {p99:.0f} ms, {errors} errors",
                "p90 < 1 s, no error",
                p90 < 1000 and errors == 0,
            ),
            ("slow-call flood (64 at once)", _tally(floods), "-", True),
            ("1 MB headers, bombs, long texts", _tally(hostiles), "-", True),
            ("idle connections from 127.0.0.3", f"{idles.get('opened', 0)} opened", "-", True),
            (
                "gateway RSS",
                f"{rss_before / 1024:.1f} -> {rss_after / 1024:.1f} MiB ({growth:+.1f}%)",
                "growth < 25%",
                growth < 25,
            ),
            ("audit growth", f"{audit_mb:.1f} MB", "< 50 MB", audit_mb < 50),
            ("after the abuse", f"{recovered}/100 DATA_FOUND", "100/100", recovered == 100),
        ]
        moment = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"\nAbuse benchmark, {SECONDS:.0f} s, {moment}")
        print("| what | measured | target | holds |")
        print("|---|---|---|---|")
        for what, measured, target, holds in rows:
            print(f"| {what} | {measured} | {target} | {'yes' if holds else '**no**'} |")
        del audit
        return 0 if all(holds for *_, holds in rows) else 1
    finally:
        if gateway is not None:
            gateway.stop()
        simulator.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _tally(counts: dict[str, int]) -> str:
    def name(code: str) -> str:
        return "no answer (connection refused or closed)" if code == "-1" else f"HTTP {code}"

    return ", ".join(f"{name(code)}: {n}" for code, n in sorted(counts.items())) or "none"


if __name__ == "__main__":
    sys.exit(main())
