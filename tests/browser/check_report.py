"""Open a rendered report in headless Chromium and check that the matrix and a failure's evidence show.

Run by `tox -e browser` (not part of the default test run): it makes a run folder with one MUST failure, its
evidence recorded by the reference peer over loopback, renders it, and reads the DOM Chromium builds.

    python tests/browser/check_report.py [--keep DIR] [--screenshot PNG]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the `report` test helpers

from report import browser  # noqa: E402
from report.runfolder import agency_evidence, failing_run, keep_alive_evidence  # noqa: E402

from conformance.report import load_run, render  # noqa: E402


def check(work: Path, screenshot: Path | None) -> int:
    agency, requirements = agency_evidence(work / "made" / "agency")
    keep_alive = keep_alive_evidence(work / "made" / "keep-alive")
    folder = failing_run(work / "run", agency, requirements[0], keep_alive)
    render([load_run(folder)], folder)
    page = folder / "report.html"
    if browser.chromium() is None:
        print(f"error: {browser.MISSING}", file=sys.stderr)
        return 2
    found = browser.problems(browser.dump_dom(page), requirements[0])
    if screenshot is not None:
        print(f"screenshot: {browser.screenshot(page, screenshot)}")
    print(f"page: {page}")
    for problem in found:
        print(f"FAIL {problem}")
    print("the matrix and the failing exchange are shown" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="make the run folder here and keep it")
    parser.add_argument("--screenshot", type=Path, default=None, help="also write a PNG of the page")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return check(args.keep, args.screenshot)
    with tempfile.TemporaryDirectory(prefix="report-browser-") as work:
        return check(Path(work), args.screenshot)


if __name__ == "__main__":
    sys.exit(main())
