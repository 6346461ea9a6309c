"""The rendered page as headless Chromium (Debian's `chromium`) sees it: the DOM it builds from the file,
and a screenshot, with no network (the page must need none)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .page import read

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
TIMEOUT = 120
MISSING = "chromium is not installed (Debian: apt-get install chromium)"


def chromium() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(*args: str) -> str:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError(MISSING)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


def dump_dom(page: Path) -> str:
    """The DOM Chromium built from `page`, serialized."""
    return _run("--dump-dom", page.resolve().as_uri())


def screenshot(page: Path, png: Path, size: str = "1400,2600") -> Path:
    _run(f"--window-size={size}", f"--screenshot={png.resolve()}", page.resolve().as_uri())
    return png


def problems(dom: str, requirement: str) -> list[str]:
    """What a reader would miss in the DOM: the matrix with the failed requirement, and the failure's
    exchange with the violation line marked and links to its evidence."""
    page = read(dom)
    found = []
    matrices = [t for t in page.tables if t.id == "matrix"]
    if not matrices:
        return ["no compliance matrix (table#matrix)"]
    rows = {cells[0]: cells for _, cells in matrices[0].rows if cells}
    if rows.get(requirement, [""] * 4)[3:4] != ["failed"]:
        found.append(f"the matrix does not show {requirement} failed: {rows.get(requirement)}")
    if len(rows) < 100:
        found.append(f"the matrix has only {len(rows)} rows")
    exchanges = page.with_class("exchange")
    if not exchanges:
        return [*found, "no failing exchange (table.exchange)"]
    anchors = [cells for classes, cells in exchanges[0].rows if "anchor" in classes.split()]
    if len(anchors) != 1 or anchors[0][3] != "violation" or requirement not in anchors[0][5]:
        found.append(f"the exchange does not mark the violation of {requirement}: {anchors}")
    if not any(cells[5].startswith("Msg") for _, cells in exchanges[0].rows[1:]):
        found.append("the exchange shows no message")
    kinds = {Path(link).suffix for link in page.links}
    if not {".pcap", ".jsonl"} <= kinds:
        found.append("no link to the evidence files")
    if page.scripts:
        found.append("the page carries a script")
    return found
