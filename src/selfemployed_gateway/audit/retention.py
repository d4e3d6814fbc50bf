"""Retention applied by the gateway itself (R-73, issue #13): nobody has to remember a cron.

Every `audit.purge_interval_seconds` (and once at start-up), the exchanges received more than
`audit.retention_days` ago by the gateway's clock (the clock that stamped them) are deleted,
in a thread of its own, never on the event loop. Each run is logged and counted
(`seg_audit_purged_total`); a failed run is logged and counted too, and the next run tries
again. `selfemployed-gateway audit purge` stays, for a purge now.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from datetime import timedelta

from selfemployed_gateway.audit.trail import AuditStore
from selfemployed_gateway.clock import Clock
from selfemployed_gateway.errors import AuditError
from selfemployed_gateway.metrics import GatewayMetrics

log = logging.getLogger("selfemployed_gateway.audit.retention")


class Retention:
    def __init__(
        self,
        store: AuditStore,
        clock: Clock,
        metrics: GatewayMetrics,
        writer: Executor,
        days: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.writer = writer
        self.days = days  # a reload may change it

    async def apply(self) -> int:
        """Delete what is past retention now; returns how many exchanges."""
        cutoff = self.clock.now() - timedelta(days=self.days)
        loop = asyncio.get_running_loop()
        deleted = await loop.run_in_executor(self.writer, self.store.purge, cutoff)
        self.metrics.audit_purged.inc(deleted)
        log.info(
            "audit retention applied",
            extra={"purged": deleted, "before": cutoff.isoformat(), "retention_days": self.days},
        )
        return deleted

    async def run(self, interval_seconds: float) -> None:
        """`apply` now and every `interval_seconds`, until cancelled."""
        while True:
            try:
                await self.apply()
            except AuditError as error:
                self.metrics.audit_purge_failures.inc()
                log.error("audit retention failed; next try later", extra={"error": str(error)})
            await asyncio.sleep(interval_seconds)
