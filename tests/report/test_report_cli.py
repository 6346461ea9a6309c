"""`ouroboros-conformance report DIR... [--out OUT]`: exit 0 when no MUST failed, 1 when one did, 2 on a
usage error, with the folder that is not a run folder named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main

from .conftest import Evidence
from .runfolder import record, write_run


def passing(folder: Path, label: str = "clean") -> Path:
    return write_run(folder, label, [record("t.py::t", "KA-COOKIE-01", "passed")])


def test_exit_0_when_no_must_failed_and_the_report_lands_in_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = passing(tmp_path / "run")
    assert main(["report", str(folder)]) == 0
    assert (folder / "report.html").is_file() and (folder / "summary.md").is_file()
    assert "no MUST requirement failed" in capsys.readouterr().out


def test_exit_1_when_a_must_failed(tmp_path: Path, evidence: Evidence, capsys: pytest.CaptureFixture[str]) -> None:
    folder = evidence.failing_run(tmp_path / "run")
    out = tmp_path / "out"
    assert main(["report", str(folder), "--out", str(out)]) == 1
    assert (out / "report.html").is_file() and not (folder / "report.html").exists()
    assert "a MUST requirement failed" in capsys.readouterr().out


def test_several_runs_default_to_report_in_the_working_folder(
    tmp_path: Path, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = evidence.failing_run(tmp_path / "a", label="A"), passing(tmp_path / "b", "B")
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(first), str(second)]) == 1
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<th>A</th><th>B</th><th>all runs</th>" in html


def test_exit_2_names_the_folder_that_is_not_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = passing(tmp_path / "good")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(good), str(empty)]) == 2
    error = capsys.readouterr().err
    assert f"{empty}: not a run folder: no run.json" in error and str(good) + ":" not in error
    assert not (tmp_path / "report").exists()


def test_exit_2_on_usage_errors_from_the_installed_command(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "conformance.cli", "report"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "DIR" in result.stderr
    absent = [*command, str(tmp_path / "absent")]
    result = subprocess.run(absent, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "no such folder" in result.stderr
