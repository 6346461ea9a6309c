"""Clocks for the time limits: the real monotonic one, and one that tests move by hand."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time in seconds, monotonically."""

    def now(self) -> float: ...


class MonotonicClock:
    """The process's monotonic clock, for live sessions."""

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to, so unit tests check time limits without sleeping."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward; time never runs backwards."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        self._now += seconds
        return self._now
