"""SupplierHttp's connection slots (suppliers/http.py; R-65 time budget).

At most `max_connections` calls are at INASTI at once; a call waiting for a free connection
spends its own time budget while it waits, and a call cut at the budget gives its connection
back.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.suppliers import SupplierError
from selfemployed_gateway.suppliers.http import HttpAnswer, SupplierHttp
from tests.support.aio import run

URL = "http://inasti.test/SelfEmployedService"


def supplier_http(handler: object, max_connections: int, timeout: float = 2.0) -> SupplierHttp:
    settings = SupplierSettings(url=URL, timeout_seconds=timeout, max_connections=max_connections)
    return SupplierHttp(URL, settings, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


class SlowSupplier:
    """Answers after `seconds`, counting the calls it holds at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.now = 0
        self.peak = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.now -= 1
        return httpx.Response(200, content=b"<answer/>")


async def concurrently(http: SupplierHttp, calls: int) -> list[HttpAnswer | SupplierError]:
    async def one() -> HttpAnswer | SupplierError:
        try:
            return await http.post("consultCareer", b"<request/>")
        except SupplierError as error:
            return error

    return list(await asyncio.gather(*(one() for _ in range(calls))))


@pytest.mark.parametrize("max_connections", [1, 3])
def test_at_most_max_connections_calls_at_once(max_connections: int) -> None:
    supplier = SlowSupplier(0.02)
    http = supplier_http(supplier, max_connections)
    answers = run(concurrently(http, 10))
    run(http.aclose())
    assert answers == [HttpAnswer(200, b"<answer/>")] * 10
    assert supplier.peak == max_connections


def test_waiting_for_a_connection_spends_the_budget_and_frees_it_when_cut() -> None:
    """One connection, answers in 0.6 s, budget 1 s: of two simultaneous calls the second
    waits 0.6 s for the connection and is cut at 1 s (MSG00002 time budget); afterwards the
    connection serves again."""
    http = supplier_http(SlowSupplier(0.6), max_connections=1, timeout=1.0)
    first, second = run(concurrently(http, 2))
    assert first == HttpAnswer(200, b"<answer/>")
    assert isinstance(second, SupplierError)
    assert second.details == codes.SUPPLIER_TIME_BUDGET
    assert run(http.post("consultCareer", b"<request/>")) == HttpAnswer(200, b"<answer/>")
    run(http.aclose())


def test_a_tls_alert_while_reading_is_msg00002_with_the_reason_for_the_log() -> None:
    """TLS 1.3: INASTI judges our certificate after the handshake, its alert arrives as a bare
    ssl.SSLError on the first read (httpcore does not map it); it was MSG00003 (issue #14)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")

    http = supplier_http(refuse, max_connections=1)
    with pytest.raises(SupplierError) as raised:
        run(http.post("consultCareer", b"<request/>"))
    assert raised.value.details == codes.SUPPLIER_UNEXPECTED_RETURN_CODE
    assert "TLSV1_ALERT_UNKNOWN_CA" in raised.value.cause
