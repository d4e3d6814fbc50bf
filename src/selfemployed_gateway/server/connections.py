"""Bounds on the SOAP listener's connections: in all, per peer, in age and in requests.

Every connection costs a descriptor, TLS state and buffers; without bounds, 1,100 idle TCP
connections under a 1,024-descriptor limit starved the well-behaved client and the admin
listener alike. A connection over `max_connections` (in all) or `max_per_peer` (from one IP
address) is closed as soon as it is accepted, before any TLS work. A connection lives at most
`max_age_seconds` and serves at most `max_requests` requests, then closes (the response that
reaches the limit says `Connection: close`; an idle connection at its age is closed): a
certificate revoked by a CRL reload stops working on open connections within that age.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# Peers whose connection rate is remembered; beyond, the table starts afresh (a bound).
_RATE_TABLE = 4096


@dataclass
class ConnectionBudget:
    max_connections: int = 1024
    max_per_peer: int = 64
    max_age_seconds: float = 300.0
    max_requests: int = 1000
    # New connections per second from one address (a token bucket of twice that): a client
    # that reconnects in a loop costs a TLS handshake each time; keep-alive clients never
    # come near it.
    new_per_second_per_peer: float = 20.0
    clock: Callable[[], float] = time.monotonic
    open: int = 0
    per_peer: Counter[str] = field(default_factory=Counter)
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict)

    def admit(self, peer: str) -> bool:
        """Count a new connection from `peer`, or say it must be closed at once."""
        if self.open >= self.max_connections or self.per_peer[peer] >= self.max_per_peer:
            return False
        if not self._take_token(peer):
            return False
        self.open += 1
        self.per_peer[peer] += 1
        return True

    def _take_token(self, peer: str) -> bool:
        rate, size = self.new_per_second_per_peer, 2 * self.new_per_second_per_peer
        now = self.clock()
        if peer not in self._tokens and len(self._tokens) >= _RATE_TABLE:
            self._tokens.clear()
        tokens, updated = self._tokens.get(peer, (size, now))
        tokens = min(size, tokens + (now - updated) * rate)
        if tokens < 1:
            self._tokens[peer] = (tokens, now)
            return False
        self._tokens[peer] = (tokens - 1, now)
        return True

    def release(self, peer: str) -> None:
        self.open -= 1
        self.per_peer[peer] -= 1
        if self.per_peer[peer] <= 0:
            del self.per_peer[peer]
