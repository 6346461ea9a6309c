"""Compliance reports from suite run folders: the matrix of requirements by runs, failures with their wire
evidence, and coverage against the protocol tables (HTML and Markdown).

    runs = [load_run(folder) for folder in folders]
    render(runs, out)          # out/report.html, out/summary.md
    code = exit_code(runs)     # 0: no MUST failed, 1: one did
"""

from __future__ import annotations

from .render import exit_code, render
from .run import Record, Run, RunFolderError, RunInfo, load_run
from .schema import SchemaError, check_record, check_run_info

__all__ = [
    "Record",
    "Run",
    "RunFolderError",
    "RunInfo",
    "SchemaError",
    "check_record",
    "check_run_info",
    "exit_code",
    "load_run",
    "render",
]
