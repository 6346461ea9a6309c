"""`ouroboros-conformance run`: exit codes 0 / 1 / 2 against real peers, and the report folder it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import PeerOnThread, free_port, reference_peer
from .test_suite_keep_alive import wrong_cookie_peer

pytestmark = pytest.mark.timeout(300)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args], capture_output=True, text=True, timeout=240
    )


def test_a_conformant_peer_exits_0_with_every_report_file(tmp_path: Path) -> None:
    report = tmp_path / "out"
    with reference_peer("--port", "0") as where:
        done = run("--peer", f"{where['host']}:{where['port']}", "--report", str(report), "-k", "keep_alive")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("results.json", "run.json", "junit.xml", "report.html", "summary.md"):
        assert (report / name).is_file(), name
    assert any((report / "allure-results").iterdir())
    records = json.loads((report / "results.json").read_text())
    assert records and all(r["outcome"] == "passed" for r in records)
    evidence = report / records[0]["evidence"]
    assert sorted(p.suffix for p in evidence.iterdir()) == [".jsonl", ".pcap"]
    assert json.loads((report / "run.json").read_text())["cases"]["passed"] == 4


def test_a_broken_must_exits_1(tmp_path: Path) -> None:
    with PeerOnThread(wrong_cookie_peer()) as peer:
        done = run("--peer", peer.address, "--report", str(tmp_path / "out"), "-k", "keep_alive")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "KA-COOKIE-01" in done.stdout


def test_an_unreachable_peer_exits_2_and_says_so(tmp_path: Path) -> None:
    done = run("--peer", f"127.0.0.1:{free_port()}", "--report", str(tmp_path / "out"), "-k", "keep_alive")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not be reached" in done.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ((), "give --peer"),
        (("--role", "initiator"), "needs --listen"),
        (("--peer", "127.0.0.1:1", "--time-scale", "0"), "must be positive"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], complaint: str) -> None:
    done = run(*args, "--report", str(tmp_path / "out"))
    assert done.returncode == 2 and complaint in done.stderr, done.stderr
