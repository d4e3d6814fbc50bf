"""R-28: fair shares and admission control (admission.py), with a hand-driven clock."""

from __future__ import annotations

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.admission import Admission
from selfemployed_gateway.settings import ClientLimits, LimitSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def detail(admission: Admission, client: str | None) -> str | None:
    refusal = admission.enter(client)
    if refusal is None:
        return None
    (information,) = refusal.fault.information
    assert refusal.fault.code is codes.INTERNAL_ERROR
    assert information.field_name == "detail"
    return information.field_value


def test_each_client_has_its_own_in_flight_share() -> None:
    admission = Admission(LimitSettings(client_in_flight=2, gateway_in_flight=10))
    assert [detail(admission, "a") for _ in range(3)] == [None, None, codes.TOO_MANY_FOR_CLIENT]
    assert detail(admission, "b") is None  # another client keeps its share
    admission.leave("a")
    assert detail(admission, "a") is None
    assert admission.client_in_flight("a") == 2


def test_the_gateway_limit_counts_every_caller() -> None:
    admission = Admission(LimitSettings(client_in_flight=2, gateway_in_flight=3))
    for client in ("a", "b", None):
        assert detail(admission, client) is None
    assert detail(admission, "c") == codes.TOO_MANY_FOR_SERVICE
    assert detail(admission, None) == codes.TOO_MANY_FOR_SERVICE
    admission.leave(None)
    assert detail(admission, "c") is None


def test_a_rate_is_a_token_bucket() -> None:
    clock = Clock()
    limits = LimitSettings(client_rate_per_second=2, client_burst=3)
    admission = Admission(limits, clock=clock)
    results = []
    for _ in range(4):
        results.append(detail(admission, "a"))
        if results[-1] is None:
            admission.leave("a")
    assert results == [None, None, None, codes.TOO_MANY_FOR_CLIENT]
    clock.now += 0.5  # one token back
    assert detail(admission, "a") is None
    assert detail(admission, "a") == codes.TOO_MANY_FOR_CLIENT


def test_overrides_per_client() -> None:
    limits = LimitSettings(
        client_in_flight=1,
        gateway_in_flight=10,
        clients={"big": ClientLimits(in_flight=3), "slow": ClientLimits(rate_per_second=0.5)},
    )
    admission = Admission(limits, clock=Clock())
    assert [detail(admission, "big") for _ in range(4)][-1] == codes.TOO_MANY_FOR_CLIENT
    assert detail(admission, "slow") is None
    admission.leave("slow")
    assert detail(admission, "slow") == codes.TOO_MANY_FOR_CLIENT  # bucket of 1, 0.5/s


def test_a_client_share_may_not_exceed_the_gateway() -> None:
    with pytest.raises(ValueError, match="exceeds gateway_in_flight"):
        LimitSettings(client_in_flight=20, gateway_in_flight=10)
    with pytest.raises(ValueError, match=r"clients\.big\.in_flight"):
        LimitSettings(
            client_in_flight=5, gateway_in_flight=10, clients={"big": ClientLimits(in_flight=11)}
        )


def test_reconfigured_limits_keep_what_is_in_flight() -> None:
    admission = Admission(LimitSettings(client_in_flight=5, gateway_in_flight=10))
    for _ in range(3):
        assert detail(admission, "a") is None
    admission.configure(LimitSettings(client_in_flight=3, gateway_in_flight=10))
    assert detail(admission, "a") == codes.TOO_MANY_FOR_CLIENT
