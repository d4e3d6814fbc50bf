"""Token buckets by key: a rate with room for a burst, for clients (R-28) and peer addresses.

Each key starts with a full bucket of `size` tokens, refilled at `per_second`; a take that
finds less than one token is refused. The table of keys is bounded: past `max_keys` it starts
afresh (every bucket full again), so that a flood of new keys cannot grow it without end.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBuckets:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 4096) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)

    def take(self, key: str, per_second: float, size: float) -> bool:
        """One token from `key`'s bucket, or False when it has none left."""
        now = self._clock()
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            self._buckets.clear()
        tokens, updated = self._buckets.get(key, (size, now))
        tokens = min(size, tokens + (now - updated) * per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True

    def clear(self) -> None:
        self._buckets.clear()
