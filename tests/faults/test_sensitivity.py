"""The sensitivity run as a user runs it: faulty peers in processes of their own, the suite in another."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import faults
from conformance.faults.sensitivity import CAUGHT, ELSEWHERE, MISSED, judge

pytestmark = pytest.mark.timeout(300)


def record(requirement: str, outcome: str) -> dict[str, str]:
    return {"case": "c", "requirement": requirement, "outcome": outcome}


def test_a_fault_counts_as_caught_only_under_its_own_id() -> None:
    fault = faults.find("ka-wrong-cookie")
    assert judge(fault, [record("KA-COOKIE-01", "failed"), record("KA-RESP-01", "passed")]) == CAUGHT
    assert judge(fault, [record("KA-TIME-01", "failed"), record("KA-COOKIE-01", "passed")]) == ELSEWHERE
    assert judge(fault, [record("KA-COOKIE-01", "passed")]) == MISSED
    assert judge(fault, [record("KA-COOKIE-01", "xfail")]) == MISSED  # a profile cannot hide a fault


def test_two_faults_are_caught_with_their_exact_ids(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "sensitivity", "--report", str(tmp_path), "--no-baseline",
         "--fault", "ka-wrong-cookie", "--fault", "mux-unknown-protocol"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "sensitivity.json").read_text())
    assert summary["score"] == "2/2"
    assert {v["fault"]: v["detected"] for v in summary["verdicts"]} == {
        "ka-wrong-cookie": ["KA-COOKIE-01"],
        "mux-unknown-protocol": ["MUX-PROTO-01"],
    }
    assert "| ka-wrong-cookie | KA-COOKIE-01 | KA-COOKIE-01 | caught |" in (tmp_path / "sensitivity.md").read_text()
