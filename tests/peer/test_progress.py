"""The progress line of long runs: shown at most once per interval, with totals and rates."""

from __future__ import annotations

import io

from conformance.peer.progress import Progress


def test_the_line_shows_totals_and_rates_once_per_interval() -> None:
    clock = [100.0]
    totals = {"headers": 0, "blocks": 0}
    out = io.StringIO()
    progress = Progress(lambda: totals, out, lambda: clock[0], every=1.0)
    totals.update(headers=500, blocks=100)
    clock[0] = 100.5
    progress.tick()
    assert out.getvalue() == ""  # not yet a second
    clock[0] = 102.0
    progress.tick()
    assert out.getvalue() == "\r500 headers (250/s), 100 blocks (50/s) after 2 s"
    totals.update(headers=1500, blocks=1100)
    clock[0] = 103.0
    progress.tick()
    assert out.getvalue().endswith("\r1,500 headers (1,000/s), 1,100 blocks (1,000/s) after 3 s")
    progress.close()
    assert out.getvalue().endswith("\n")


def test_a_run_that_never_showed_a_line_prints_nothing_at_the_end() -> None:
    out = io.StringIO()
    progress = Progress(lambda: {"headers": 1}, out, lambda: 0.0)
    progress.tick()
    progress.close()
    assert out.getvalue() == ""
