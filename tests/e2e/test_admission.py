"""R-28 over mutual TLS: each institution keeps its share; beyond it, MSG00003 at once.

The refusal comes before the pipeline (no supplier call, no wait): HTTP 500 with Retry-After,
the R-28 information, audited and counted per client in /metrics.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import GatewayFactory, tls_context
from tests.support import wire
from tests.support.admin import metric
from tests.support.soap import career_request, customer, fault, payload, status

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
RIZIV = customer(cbe="0234567873")
SLOW = "64082006457"  # answered after 30 s: cut at the budget
MULTI = "65031510159"
CUT = "MSG00002 No answer from supplier within the time budget"


def outcome(response: httpx.Response) -> str:
    if response.status_code == 200:
        return str(status(payload(response.content))["code"])
    answer = fault(response.content)
    (detail,) = answer["details"]  # type: ignore[misc]
    information = detail["information"]
    return f"{detail['reasonCode']} {information[0][1]}" if information else detail["reasonCode"]


def test_a_client_over_its_in_flight_share_is_refused_at_once(
    gateway_with: GatewayFactory,
) -> None:
    """onss-inspection may have 3 exchanges in flight: of 12 slow calls at once, 3 wait out
    the 2 s budget (MSG00002), 9 are refused in well under a second; riziv-medical, calling
    meanwhile, is served normally."""
    env = {"SEG_SUPPLIER_TIMEOUT": "2", "SEG_LIMIT_CLIENT_IN_FLIGHT": "3"}
    callers = gateway_with(env=env)
    server = gateway_with.server(env=env)
    onss, riziv = callers("onss-inspection"), callers("riziv-medical")

    def slow_call(_: int) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = onss.post(career_request(ONSS, CONTEXT, SLOW))
        return response, time.monotonic() - started

    with ThreadPoolExecutor(12) as pool:
        slow = [pool.submit(slow_call, i) for i in range(12)]
        time.sleep(0.5)  # the slow calls are in flight
        other = riziv.post(
            career_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", MULTI, "2000-01-01")
        )
        results = [future.result() for future in slow]
    refused = [(r, s) for r, s in results if r.status_code == 500 and "retry later" in r.text]
    assert len(refused) == 9
    assert all(seconds < 1.0 for _, seconds in refused)
    for response, _ in refused:
        assert outcome(response) == (
            "MSG00003 Too many requests in progress for this client; retry later"
        )
        assert response.headers["Retry-After"] == "1"
        answer = fault(response.content)
        assert answer["faultcode"] == "soapenv:Server"
        assert answer["informationCustomer"] is True  # copied, as for every fault
    waited = [outcome(r) for r, _ in results if (r, _) not in refused]
    assert waited == [CUT] * 3
    assert outcome(other) == "MSG00000"
    admin = server.urls["admin"]
    counted = metric(
        admin, "seg_admission_refusals_total", client="onss-inspection", limit="client_in_flight"
    )
    assert counted == 9
    audited = metric(admin, "seg_requests_total", operation="consultCareer", outcome="MSG00003")
    assert audited == 9


def test_a_client_over_its_rate_is_refused(gateway_with: GatewayFactory) -> None:
    """A token bucket of 2 per second, burst 2: of 5 calls in a row, 2 answered, 3 refused."""
    env = {"SEG_LIMIT_CLIENT_RATE": "2", "SEG_LIMIT_CLIENT_BURST": "2"}
    onss = gateway_with(env=env)("onss-inspection")
    answers = [outcome(onss.post(career_request(ONSS, CONTEXT, MULTI))) for _ in range(5)]
    assert answers[:2] == ["MSG00000", "MSG00000"]
    assert (
        answers[2:] == ["MSG00003 Too many requests in progress for this client; retry later"] * 3
    )
    time.sleep(0.6)  # a token back
    assert outcome(onss.post(career_request(ONSS, CONTEXT, MULTI))) == "MSG00000"


def test_a_refusal_ends_its_connection(pki: DevPki, gateway_with: GatewayFactory) -> None:
    """Three requests pipelined on one keep-alive connection, a bucket of 1: the first is
    answered, the second refused (R-28) with `Connection: close`, and the gateway closes the
    connection, so the third is never read: a client that ignores Retry-After reconnects, and
    the per-peer rate of new connections bounds the refusals (audited rows) it can cause."""
    env = {"SEG_LIMIT_CLIENT_RATE": "0.2", "SEG_LIMIT_CLIENT_BURST": "1"}
    url = gateway_with.server(env=env).urls["soap"]
    body = career_request(ONSS, CONTEXT, MULTI).encode()
    one = (
        f"POST {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f'Content-Type: text/xml; charset=utf-8\r\nSOAPAction: ""\r\n'
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    started = time.monotonic()
    received = wire.raw(tls_context(pki, "onss-inspection"), url, one * 3, timeout=8)
    assert time.monotonic() - started < 5  # closed by the gateway, not by our time-out
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert [answer[:3] for answer in answers] == [b"200", b"500"]
    head, _, refusal = answers[1].partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head and b"\r\nRetry-After: 1" in head
    assert b"MSG00003" in refusal


def test_the_gateway_wide_limit_refuses_every_client(gateway_with: GatewayFactory) -> None:
    """gateway_in_flight = 2: with two slow calls in flight, any other call is refused."""
    env = {
        "SEG_SUPPLIER_TIMEOUT": "2",
        "SEG_LIMIT_CLIENT_IN_FLIGHT": "2",
        "SEG_LIMIT_GATEWAY_IN_FLIGHT": "2",
    }
    callers = gateway_with(env=env)
    onss, riziv = callers("onss-inspection"), callers("riziv-medical")
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(onss.post, career_request(ONSS, CONTEXT, SLOW)) for _ in range(2)]
        time.sleep(0.5)
        other = riziv.post(
            career_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", MULTI, "2000-01-01")
        )
        assert [outcome(f.result()) for f in slow] == [CUT, CUT]
    assert outcome(other) == ("MSG00003 Too many requests in progress for the service; retry later")
