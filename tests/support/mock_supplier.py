"""httpx MockTransport handlers standing in for INASTI in supplier-adapter tests."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from selfemployed_gateway.simulator.answers import SimulatorAnswer
from selfemployed_gateway.suppliers import SupplierError

Handler = Callable[[httpx.Request], httpx.Response]


def serving(
    answer: Callable[[bytes], SimulatorAnswer], seen: list[httpx.Request] | None = None
) -> Handler:
    """Answers each request with the simulator's pure answer to its body (delays ignored);
    records the requests in `seen` when given."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        simulated = answer(request.read())
        headers = {"Content-Type": simulated.content_type}
        return httpx.Response(simulated.status, content=simulated.body, headers=headers)

    return handle


def fixed(body: bytes, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, content=body)


def raising(error: Exception) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return handle


def failure_of(call: Callable[[], object]) -> SupplierError:
    """The SupplierError `call` raises (the test fails if it raises none)."""
    with pytest.raises(SupplierError) as caught:
        call()
    return caught.value
