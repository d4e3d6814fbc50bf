"""The one clock of the gateway: "today", "now" and "the current quarter" come from here.

Tests and acceptance environments freeze it (`gateway.clock`, `SEG_CLOCK`); production uses
the system clock. Dates are Belgian dates: the BCSS works in Europe/Brussels (R-32, R-36).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock frozen at one instant (naive instants are read as Brussels time)."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=BRUSSELS)
        self.instant = instant.astimezone(UTC)

    @classmethod
    def parse(cls, text: str) -> FixedClock:
        return cls(datetime.fromisoformat(text))

    def now(self) -> datetime:
        return self.instant


def today(clock: Clock) -> date:
    """The system date in Brussels."""
    return clock.now().astimezone(BRUSSELS).date()


def clock_from_setting(value: str | None) -> Clock:
    return SystemClock() if value is None else FixedClock.parse(value)


def wire_timestamp(instant: datetime) -> str:
    """UTC with milliseconds, as BCSS writes timestampReceive/timestampReply."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"
