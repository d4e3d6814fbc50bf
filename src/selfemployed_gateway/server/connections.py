"""Bounds on the SOAP listener's connections: in all, per peer, in age and in requests.

Every connection costs a descriptor, TLS state and buffers; without bounds, 1,100 idle TCP
connections under a 1,024-descriptor limit starved the well-behaved client and the admin
listener alike. A connection over `max_connections` (in all) or `max_per_peer` (from one IP
address), or beyond the peer's rate of new connections, is closed as soon as it is accepted,
before any TLS object exists (`channel.AdmittingTLSFactory`). A connection lives at most
`max_age_seconds` and serves at most `max_requests` requests, then closes (the response that
reaches the limit says `Connection: close`; an idle connection at its age is closed): a
certificate revoked by a CRL reload stops working on open connections within that age.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from selfemployed_gateway.rates import TokenBuckets


@dataclass
class ConnectionBudget:
    """The bounds come from `[gateway]` (settings.GatewaySettings, where the defaults are)."""

    max_connections: int
    max_per_peer: int
    max_age_seconds: float
    max_requests: int
    # New connections per second from one address (a token bucket of twice that): a client
    # that reconnects in a loop costs a TLS handshake each time; keep-alive clients never
    # come near it.
    new_per_second_per_peer: float
    open: int = 0
    per_peer: Counter[str] = field(default_factory=Counter)
    new_connections: TokenBuckets = field(default_factory=TokenBuckets)

    def admit(self, peer: str) -> bool:
        """Count a new connection from `peer`, or say it must be closed at once."""
        if self.open >= self.max_connections or self.per_peer[peer] >= self.max_per_peer:
            return False
        rate = self.new_per_second_per_peer
        if not self.new_connections.take(peer, rate, 2 * rate):
            return False
        self.open += 1
        self.per_peer[peer] += 1
        return True

    def release(self, peer: str) -> None:
        self.open -= 1
        self.per_peer[peer] -= 1
        if self.per_peer[peer] <= 0:
            del self.per_peer[peer]
