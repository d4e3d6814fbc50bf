"""A circuit breaker in front of INASTI (R-22, R-65, R-70): fail fast while it is down.

After `failures` consecutive calls without an answer (time-outs, transport errors, an HTTP
status without INASTI's SOAP Fault) spanning at least `window_seconds` without a success,
the circuit opens. A SOAP Fault or an unusable body (`SupplierError.answered`) is MSG00002 for
that call, but INASTI did answer: like any answer it ends the streak, so that the failing
files of a few persons (one garbled, one faulted) never suspend the service for everybody.
The span matters: a burst of calls for one slow file, cut at the budget together, is many
failures in a few milliseconds while INASTI answers everybody else; the abuse benchmark
showed such a burst opening the circuit for every client. INASTI down fails every call for
the whole window. Once open, for `cooldown_seconds` every call fails at once with
MSG00002 "Calls to supplier suspended after repeated failures" ([decision], codes.py), without
touching INASTI or holding a connection slot. Then the circuit is half-open: one call goes
through as a probe (the others still fail fast); its success closes the circuit, its failure
opens it again for another cool-down. Any answer INASTI gives (data, no data, SES00005/6, a
SOAP Fault, an unusable body) is a success. The same breaker outlives configuration reloads
(the state is INASTI's, not ours).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

from selfemployed_gateway import codes
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    DatePeriod,
    Operation,
)
from selfemployed_gateway.suppliers import Supplier

_Answer = TypeVar("_Answer", CareerAnswer, ContributionsAnswer)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """The state machine; used from the event loop only."""

    def __init__(
        self,
        failures: int,
        cooldown_seconds: float,
        window_seconds: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] | None = None,
    ) -> None:
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds
        self.window_seconds = window_seconds
        self.state = CircuitState.CLOSED
        self._streak_started = 0.0
        self._clock = clock
        self._on_change = on_change
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    def configure(self, failures: int, cooldown_seconds: float, window_seconds: float) -> None:
        self.failures, self.cooldown_seconds = failures, cooldown_seconds
        self.window_seconds = window_seconds

    def admit(self) -> None:
        """Before a call: raise the fast MSG00002 unless this call may go to INASTI."""
        if self.state is CircuitState.OPEN:
            if self._clock() - self._opened_at < self.cooldown_seconds:
                raise _suspended()
            self._change(CircuitState.HALF_OPEN)
        if self.state is CircuitState.HALF_OPEN:
            if self._probing:
                raise _suspended()
            self._probing = True

    def succeeded(self) -> None:
        self._consecutive = 0
        self._probing = False
        if self.state is not CircuitState.CLOSED:
            self._change(CircuitState.CLOSED)

    def failed(self) -> None:
        now = self._clock()
        if self._consecutive == 0:
            self._streak_started = now
        self._consecutive += 1
        probe_failed = self.state is CircuitState.HALF_OPEN
        self._probing = False
        streak = (
            self._consecutive >= self.failures and now - self._streak_started >= self.window_seconds
        )
        if probe_failed or streak:
            self._opened_at = self._clock()
            if self.state is not CircuitState.OPEN:
                self._change(CircuitState.OPEN)

    def cancelled(self) -> None:
        """A call that ended without an answer of INASTI nor a failure (cancelled)."""
        self._probing = False

    def _change(self, state: CircuitState) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(state)


def _suspended() -> SupplierError:
    return SupplierError(codes.SUPPLIER_SUSPENDED, "circuit open")


class GuardedSupplier:
    """A `Supplier` behind a `CircuitBreaker`."""

    def __init__(self, supplier: Supplier, breaker: CircuitBreaker) -> None:
        self.supplier = supplier
        self.breaker = breaker
        self.operations: frozenset[Operation] = supplier.operations

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        return await self._guarded(lambda: self.supplier.consult_career(ssin, period))

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        return await self._guarded(
            lambda: self.supplier.consult_contributions(ssin, begin_quarter, end_quarter)
        )

    def is_reachable(self) -> bool:
        return self.supplier.is_reachable()

    async def aclose(self) -> None:
        await self.supplier.aclose()

    async def _guarded(self, call: Callable[[], Awaitable[_Answer]]) -> _Answer:
        self.breaker.admit()
        try:
            answer = await call()
        except SupplierError as error:
            # A SOAP Fault or an unusable body is INASTI answering, about this file: it is
            # up. Only no answer at all (time-out, no connection, a status without INASTI's
            # SOAP Fault) counts towards opening the circuit.
            if error.answered:
                self.breaker.succeeded()
            else:
                self.breaker.failed()
            raise
        except BaseException:
            self.breaker.cancelled()
            raise
        self.breaker.succeeded()
        return answer
