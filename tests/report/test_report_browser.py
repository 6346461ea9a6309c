"""The page in headless Chromium: the matrix and the failing exchange are in the DOM it builds. Skipped when
Chromium is not installed; `tox -e browser` runs the same check and fails instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report import load_run, render

from . import browser
from .conftest import Evidence

pytestmark = [
    pytest.mark.skipif(browser.chromium() is None, reason=browser.MISSING),
    pytest.mark.timeout(300),
]


def test_chromium_shows_the_matrix_and_the_failing_exchange(tmp_path: Path, evidence: Evidence) -> None:
    folder = evidence.failing_run(tmp_path / "run")
    render([load_run(folder)], folder)
    dom = browser.dump_dom(folder / "report.html")
    assert browser.problems(dom, evidence.agency_requirement) == []


def test_the_check_sees_a_page_without_its_evidence(tmp_path: Path, evidence: Evidence) -> None:
    """The check can fail: a page whose failure has no transcript is reported as missing the exchange."""
    folder = evidence.failing_run(tmp_path / "run")
    for transcript in (folder / "evidence").glob("*/*"):
        transcript.unlink()
    render([load_run(folder)], folder)
    found = browser.problems(browser.dump_dom(folder / "report.html"), evidence.agency_requirement)
    assert found == ["no failing exchange (table.exchange)"]
