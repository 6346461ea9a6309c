"""One suite run read back from its folder: run.json, results.json and the evidence folders they name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .schema import SchemaError, check_record, check_run_info


class RunFolderError(Exception):
    """`folder` is not a readable run folder; the message says which file and why."""

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(f"{folder}: not a run folder: {reason}")
        self.folder = folder
        self.reason = reason


@dataclass(frozen=True)
class CaseCounts:
    total: int
    passed: int
    failed: int
    skipped: int
    xfailed: int


@dataclass(frozen=True)
class RunInfo:
    """run.json: who was tested, how, when, and how the cases ended."""

    label: str
    peer: str
    role: str
    profile: str | None
    implementation: str | None
    magic: int
    time_scale: float
    started: str
    duration: float
    tool_version: str
    cases: CaseCounts
    unreachable: str | None = None  # why the peer under test could not be reached, when it could not


@dataclass(frozen=True)
class Record:
    """One item of results.json: one case's verdict on one requirement."""

    case: str
    protocol: str
    requirement: str
    severity: str
    outcome: str
    message: str
    evidence: str | None
    duration: float


@dataclass(frozen=True)
class Run:
    """A run folder, its description and its records (in the order results.json lists them)."""

    folder: Path
    info: RunInfo
    records: tuple[Record, ...]

    @property
    def label(self) -> str:
        return self.info.label

    def evidence_folder(self, record: Record) -> Path | None:
        """The record's evidence folder, when it names one that exists."""
        if record.evidence is None:
            return None
        folder = self.folder / record.evidence
        return folder if folder.is_dir() else None

    def transcripts(self) -> list[Path]:
        """Every transcript (JSONL) of every case of the run, in name order."""
        return sorted((self.folder / "evidence").glob("*/*.jsonl"))


def _json(folder: Path, name: str) -> Any:
    path = folder / name
    if not path.is_file():
        raise RunFolderError(folder, f"no {name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(folder, f"{name} is not readable JSON: {exc}") from None


def load_run(folder: Path | str) -> Run:
    """Read a run folder; RunFolderError when a file is missing or breaks the contract."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(folder, "no such folder")
    info = _json(folder, "run.json")
    results = _json(folder, "results.json")
    try:
        check_run_info(info)
        if not isinstance(results, list):
            raise SchemaError("results.json must be a JSON list")
        for record in results:
            check_record(record)
    except SchemaError as exc:
        raise RunFolderError(folder, str(exc)) from None
    counts = CaseCounts(**info["cases"])
    run_info = RunInfo(**{**info, "cases": counts, "time_scale": float(info["time_scale"])})
    records = tuple(Record(**{**record, "duration": float(record["duration"])}) for record in results)
    return Run(folder, run_info, records)
