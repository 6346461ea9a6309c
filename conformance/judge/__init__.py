"""Judge a capture: every violation of both sides of real Ouroboros connections, read from a pcap.

`judge_capture(path)` streams the capture (capture.py), reassembles each TCP direction (tcp.py), cuts
SDUs (sdus.py), and runs the project's own mux checker, demultiplexer and sessions on them (bearer.py);
report.py renders the result; command.py is the `judge` subcommand (docs/judge.md).
"""

from __future__ import annotations

from .bearer import Options
from .capture import CaptureError
from .findings import ConnectionReport, Ending, Finding
from .judge import JudgeResult, judge_capture

__all__ = ["CaptureError", "ConnectionReport", "Ending", "Finding", "JudgeResult", "Options", "judge_capture"]
