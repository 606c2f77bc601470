"""Time is injected: the engine asks a clock, tests move a fake one."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time (aware, UTC)."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        """The current fake time."""
        return self._now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        self._now += dt.timedelta(**delta)

    def set(self, when: dt.datetime) -> None:
        """Jump the clock to a given time."""
        self._now = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
