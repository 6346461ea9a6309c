"""The README's main job: `ouroboros-conformance self-test`, the reference peer against the whole suite in
both roles. It must pass every MUST case (zero false alarms); its report stays in reports/out/ (ignored)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_peer_passes_the_whole_suite_in_both_roles() -> None:
    out = ROOT / "reports" / "out"
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "self-test", "--report", str(out)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    for role in ("responder", "initiator"):
        records = json.loads((out / role / "results.json").read_text())
        assert records, role
        failed = [r for r in records if r["outcome"] in ("failed", "non-strict", "xfail")]
        assert failed == [], failed  # a false alarm against a conformant peer is the worst defect
        run = json.loads((out / role / "run.json").read_text())
        assert run["role"] == role and run["cases"]["failed"] == 0
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()
