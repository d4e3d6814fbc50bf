"""Fair shares and admission control (R-28): each institution keeps its share.

Per client, a limit on exchanges in flight and an optional rate (a token bucket); for the
whole gateway, a limit on exchanges in flight. An exchange beyond a limit is refused at once,
before the pipeline (no supplier call, no queueing into the time budget): MSG00003 with the
R-28 information. Defaults come from `[limits]`, overrides per client from
`[limits.clients.<id>]`. A caller whose certificate names no client is counted against the
gateway's limit only (the pipeline then refuses it, R-11).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.rates import TokenBuckets
from selfemployed_gateway.records import GatewayFault, information
from selfemployed_gateway.settings import LimitSettings


@dataclass(frozen=True)
class Refusal:
    """Why an exchange was not admitted: `scope` names the limit, for the metrics."""

    scope: str  # "client_in_flight", "client_rate" or "gateway_in_flight"
    fault: GatewayFault


CLIENT_REFUSAL = GatewayFault(
    codes.INTERNAL_ERROR, information(codes.DETAIL, codes.TOO_MANY_FOR_CLIENT)
)
SERVICE_REFUSAL = GatewayFault(
    codes.INTERNAL_ERROR, information(codes.DETAIL, codes.TOO_MANY_FOR_SERVICE)
)


class Admission:
    """Counts exchanges in flight per client and in all; one instance per gateway process,
    used from the event loop only (no lock needed)."""

    def __init__(self, limits: LimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.in_flight = 0
        self._per_client: dict[str, int] = {}
        self._buckets = TokenBuckets(clock)

    def configure(self, limits: LimitSettings) -> None:
        """SIGHUP: new limits; exchanges in flight stay counted."""
        self.limits = limits
        self._buckets.clear()

    def enter(self, client_id: str | None) -> Refusal | None:
        """Admit one exchange of `client_id` (then `leave` it), or say why not."""
        if self.in_flight >= self.limits.gateway_in_flight:
            return Refusal("gateway_in_flight", SERVICE_REFUSAL)
        if client_id is not None:
            if self._per_client.get(client_id, 0) >= self._in_flight_limit(client_id):
                return Refusal("client_in_flight", CLIENT_REFUSAL)
            if not self._take_token(client_id):
                return Refusal("client_rate", CLIENT_REFUSAL)
            self._per_client[client_id] = self._per_client.get(client_id, 0) + 1
        self.in_flight += 1
        return None

    def leave(self, client_id: str | None) -> None:
        self.in_flight -= 1
        if client_id is not None:
            left = self._per_client.get(client_id, 1) - 1
            if left:
                self._per_client[client_id] = left
            else:
                self._per_client.pop(client_id, None)

    def client_in_flight(self, client_id: str) -> int:
        return self._per_client.get(client_id, 0)

    def explain(self, refusal: Refusal, client_id: str | None, trail: DecisionTrail) -> None:
        """The refusal as the deciding step of the exchange's trail (R-28, issue #18)."""
        if refusal.scope == "gateway_in_flight":
            limit = self.limits.gateway_in_flight
            trail.answered(
                "admission",
                "R-28",
                because=f"the gateway had {self.in_flight} exchanges in flight, its limit "
                f"(limits.gateway_in_flight) is {limit}: retry after Retry-After",
                limit=refusal.scope,
                in_flight=self.in_flight,
                maximum=limit,
            )
            return
        assert client_id is not None  # client limits are only asked for a known client
        if refusal.scope == "client_in_flight":
            limit = self._in_flight_limit(client_id)
            trail.answered(
                "admission",
                "R-28",
                because=f"{client_id} had {self.client_in_flight(client_id)} exchanges in "
                f"flight, its share is {limit}: retry after Retry-After",
                client=client_id,
                limit=refusal.scope,
                in_flight=self.client_in_flight(client_id),
                maximum=limit,
            )
            return
        rate, burst = self._rate(client_id) or (0.0, 0.0)
        trail.answered(
            "admission",
            "R-28",
            because=f"{client_id} called faster than its rate of {rate:g} a second (bursts "
            f"of {burst:g}): retry after Retry-After",
            client=client_id,
            limit=refusal.scope,
            rate_per_second=rate,
            burst=burst,
        )

    def _in_flight_limit(self, client_id: str) -> int:
        override = self.limits.clients.get(client_id)
        if override is not None and override.in_flight is not None:
            return override.in_flight
        return self.limits.client_in_flight

    def _rate(self, client_id: str) -> tuple[float, float] | None:
        """(tokens per second, bucket size) of the client, or None without a rate."""
        override = self.limits.clients.get(client_id)
        rate = self.limits.client_rate_per_second
        burst = self.limits.client_burst
        if override is not None:
            rate = override.rate_per_second if override.rate_per_second is not None else rate
            burst = override.burst if override.burst is not None else burst
        if rate is None:
            return None
        return rate, float(burst if burst is not None else max(1, math.ceil(rate)))

    def _take_token(self, client_id: str) -> bool:
        rate = self._rate(client_id)
        return rate is None or self._buckets.take(client_id, *rate)
