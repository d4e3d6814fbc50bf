"""One event loop for the tests that await a supplier or a pipeline outside a server.

In the gateway, suppliers are awaited on the reactor's asyncio loop; a pooled connection
belongs to the loop that opened it, so tests that reuse a supplier across calls must use the
same loop for all of them: this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

_T = TypeVar("_T")
_LOOP = asyncio.new_event_loop()


def run(awaitable: Awaitable[_T]) -> _T:
    """Await `awaitable` on the tests' loop and return its result (or raise its error)."""

    async def wrapped() -> _T:
        return await awaitable

    return _LOOP.run_until_complete(wrapped())
