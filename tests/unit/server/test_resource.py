"""The consult resource hands each POST to the exchange handler and writes what it answers;
a handler that fails (a bug of ours) still gets the request finished, with a plain 500."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest
from twisted.web import server
from twisted.web.test.requesthelper import DummyRequest

from selfemployed_gateway.metrics import GatewayMetrics
from selfemployed_gateway.server.resource import ConsultResource
from selfemployed_gateway.soap.endpoint import IncomingCall, SoapAnswer


class Handler:
    def __init__(self, outcome: SoapAnswer | BaseException) -> None:
        self.outcome = outcome
        self.calls: list[IncomingCall] = []

    async def handle(self, call: IncomingCall) -> SoapAnswer:
        self.calls.append(call)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def post(outcome: SoapAnswer | BaseException) -> tuple[DummyRequest, Handler, GatewayMetrics]:
    """POST one body through a ConsultResource on a fresh loop, run until answered."""
    loop = asyncio.new_event_loop()
    handler = Handler(outcome)
    metrics = GatewayMetrics("final")
    consult = ConsultResource(
        handler,  # type: ignore[arg-type]
        metrics,
        contract=None,  # type: ignore[arg-type]
        path="/SelfEmployedService/v2/consult",
        loop=loop,
    )
    request: Any = DummyRequest([b""])
    request.method = b"POST"
    request.content = io.BytesIO(b"<soapenv:Envelope/>")
    request.transport = None  # no TLS here: no client certificate
    request.requestHeaders.setRawHeaders(b"soapaction", [b'"consultCareer"'])
    try:
        assert consult.render(request) == server.NOT_DONE_YET
        loop.run_until_complete(asyncio.sleep(0.01))
    finally:
        loop.close()
    return request, handler, metrics


def test_the_answer_of_the_exchange_is_written_and_the_request_finished() -> None:
    answer = SoapAnswer(status=200, body=b"<answer/>")
    request, handler, metrics = post(answer)
    assert [call.body for call in handler.calls] == [b"<soapenv:Envelope/>"]
    assert handler.calls[0].soap_action == '"consultCareer"'
    assert (request.responseCode, b"".join(request.written), request.finished) == (
        200,
        b"<answer/>",
        1,
    )
    assert metrics.registry.get_sample_value("seg_requests_in_flight") == 0


def test_a_failing_exchange_still_finishes_the_request_with_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "selfemployed_gateway.server.resource"):
        request, _, metrics = post(RuntimeError("a bug of ours"))
    assert (request.responseCode, request.written, request.finished) == (500, [], 1)
    assert [r.getMessage() for r in caplog.records] == ["unanswered request"]
    assert "a bug of ours" in caplog.text
    assert metrics.registry.get_sample_value("seg_requests_in_flight") == 0
