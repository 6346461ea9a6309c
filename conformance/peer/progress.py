"""A one-line progress report for long runs: headers and blocks so far, and their rates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TextIO

Counts = Callable[[], Mapping[str, int]]


class Progress:
    """Rewrites one terminal line at most every `every` seconds: `12,000 headers (9,800/s) ...`.

    `counts` gives the running totals (e.g. {"headers": n, "blocks": m}); `now` is the clock (seconds),
    given by the caller so that the report is tested without waiting.
    """

    def __init__(self, counts: Counts, stream: TextIO, now: Callable[[], float], every: float = 1.0) -> None:
        self.counts = counts
        self.stream = stream
        self.now = now
        self.every = every
        self.started = now()
        self.last_shown = self.started
        self.last_counts: dict[str, int] = dict(counts())
        self.shown = False

    def tick(self) -> None:
        """Show the line if `every` seconds have passed since it was last shown."""
        now = self.now()
        if now - self.last_shown < self.every:
            return
        counts = dict(self.counts())
        elapsed = now - self.last_shown
        parts = [
            f"{value:,} {name} ({(value - self.last_counts.get(name, 0)) / elapsed:,.0f}/s)"
            for name, value in counts.items()
        ]
        self.stream.write("\r" + ", ".join(parts) + f" after {now - self.started:.0f} s")
        self.stream.flush()
        self.last_shown, self.last_counts, self.shown = now, counts, True

    def close(self) -> None:
        """End the progress line, so that what is printed next starts on a line of its own."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
