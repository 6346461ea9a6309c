"""The sensitivity run: the suite against every faulty peer of the zoo, and against the conformant one.

A fault is caught when the suite reports its requirement id as failed (non-strict for a SHOULD); a
failure under another id only is "elsewhere" and counts as a miss, as does silence. The conformant
reference peer, run through the whole suite in both roles (`self-test`), must have no failure at all:
every failure there is a false alarm. Each run is separate processes (a faulty `serve` or `connect
--reconnect`, and a pytest process of the suite), `--jobs` of them at once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conformance.peer.node import MAINNET_MAGIC
from conformance.suite import command as suite

from . import load_all
from .model import Fault

CAUGHT, ELSEWHERE, MISSED, BROKEN = "caught", "elsewhere", "missed", "error"
FAULT_RUN_TIMEOUT = 300.0


@dataclass(frozen=True)
class Verdict:
    fault: str
    expected: str
    detected: tuple[str, ...]
    verdict: str
    seconds: float
    detail: str = ""


def detected(records: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """Requirement ids the suite reported broken (failed, or non-strict for a SHOULD)."""
    return tuple(sorted({r["requirement"] for r in records if r["outcome"] in ("failed", "non-strict")}))


def judge(fault: Fault, records: Sequence[dict[str, Any]]) -> str:
    found = detected(records)
    if fault.breaks in found:
        return CAUGHT
    return ELSEWHERE if found else MISSED


def run_fault(fault: Fault, report: Path, scale: float) -> Verdict:
    """One fault: its faulty peer in a process, the suite's cases for it in another."""
    started = time.monotonic()
    report.mkdir(parents=True, exist_ok=True)
    try:
        code = (
            _run_responder(fault, report, scale) if fault.role == "responder" else _run_initiator(fault, report, scale)
        )
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as error:
        return Verdict(fault.name, fault.breaks, (), BROKEN, time.monotonic() - started, str(error))
    results = report / "results.json"
    records = json.loads(results.read_text(encoding="utf-8")) if results.exists() else []
    detail = "" if records else f"the suite wrote no results (exit code {code})"
    verdict = judge(fault, records) if records else BROKEN
    return Verdict(fault.name, fault.breaks, detected(records), verdict, round(time.monotonic() - started, 2), detail)


def _run_responder(fault: Fault, report: Path, scale: float) -> int:
    with tempfile.TemporaryDirectory(prefix="fault-") as scratch:
        n2c = fault.mode == "node-to-client"
        where = ["--socket", str(Path(scratch) / "node.socket")] if n2c else ["--port", "0", "--peer-sharing", "1"]
        with suite.running(suite.serve_command(scale, "--fault", fault.name, *where)) as peer:
            address = suite.listening(peer, f"the faulty peer {fault.name}")
            command = suite.suite_arguments(
                report, role="responder", socket=address.get("socket"), magic=MAINNET_MAGIC, time_scale=scale,
                peer=f"{address['host']}:{address['port']}" if "port" in address else None,
                profile=None, label=fault.name, keyword=fault.cases,
            )  # fmt: skip
            return subprocess.run(command, cwd=suite.CASES, capture_output=True, timeout=FAULT_RUN_TIMEOUT).returncode


def _run_initiator(fault: Fault, report: Path, scale: float) -> int:
    command = suite.suite_arguments(
        report, role="initiator", listen="127.0.0.1:0", magic=MAINNET_MAGIC, time_scale=scale, profile=None,
        label=fault.name, keyword=fault.cases,
    )  # fmt: skip
    with suite.listening_suite(command, report, output=subprocess.DEVNULL) as (where, process):
        with suite.running(suite.dial_command(where, scale, FAULT_RUN_TIMEOUT, "--fault", fault.name)):
            return process.wait(FAULT_RUN_TIMEOUT)


def false_alarms(report: Path, scale: float) -> tuple[list[dict[str, Any]], int, float]:
    """The conformant reference peer through the whole suite in both roles: (failures, records, seconds)."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "conformance", "self-test", "--report", str(report), "--time-scale", repr(scale)],
        capture_output=True, timeout=900,
    )  # fmt: skip
    failures: list[dict[str, Any]] = []
    total = 0
    for role in ("responder", "initiator"):
        results = report / role / "results.json"
        records = json.loads(results.read_text(encoding="utf-8")) if results.exists() else []
        total += len(records)
        failures += [r for r in records if r["outcome"] in ("failed", "non-strict", "xfail")]
        if not records:
            failures.append({"case": f"self-test {role}", "requirement": "-", "outcome": "failed",
                             "message": "no results: the self-test did not run"})  # fmt: skip
    return failures, total, round(time.monotonic() - started, 2)


def table(verdicts: Sequence[Verdict]) -> list[str]:
    lines = ["| fault | breaks | detected | verdict |", "|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v.fault} | {v.expected} | {', '.join(v.detected) or '-'} | {v.verdict} |")
    return lines


README_BEGIN = "<!-- fault-zoo:begin (ouroboros-conformance sensitivity --update-readme README.md) -->"
README_END = "<!-- fault-zoo:end -->"


def readme_section(summary: dict[str, Any]) -> str:
    """The README's fault table and score, from a sensitivity run's summary (never typed by hand)."""
    by_name = {v["fault"]: v for v in summary["verdicts"]}
    lines = [
        README_BEGIN,
        f"Score of the last full run: **{summary['score']}** faults caught with their exact requirement id, "
        f"**{summary['false_alarms']}** false alarms against the reference peer "
        f"({summary['wall_seconds']} s, {summary['jobs']} jobs, --time-scale {summary['time_scale']:g}).",
        "",
        "| fault | role | breaks | what it does | verdict |",
        "|---|---|---|---|---|",
    ]
    for fault in load_all():
        verdict = by_name.get(fault.name, {}).get("verdict", "not run")
        lines.append(f"| {fault.name} | {fault.role} | {fault.breaks} | {fault.description} | {verdict} |")
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(readme: Path, summary: dict[str, Any]) -> None:
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"{readme} has no fault-zoo section markers")
    head, _, rest = text.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    readme.write_text(head + readme_section(summary) + tail, encoding="utf-8")


def run(report: Path, *, jobs: int, scale: float, names: Sequence[str] = (), baseline: bool = True) -> int:
    report = report.resolve()  # the suite's processes run in the cases' folder
    faults = [f for f in load_all() if not names or f.name in names]
    unknown = sorted(set(names) - {f.name for f in faults})
    if unknown:
        raise ValueError(f"no such fault: {', '.join(unknown)}")
    started = time.monotonic()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        verdicts = list(pool.map(lambda f: run_fault(f, report / "faults" / f.name, scale), faults))
    alarms, baseline_records, baseline_seconds = false_alarms(report / "baseline", scale) if baseline else ([], 0, 0.0)
    wall = round(time.monotonic() - started, 1)
    caught = sum(v.verdict == CAUGHT for v in verdicts)
    summary = {
        "score": f"{caught}/{len(verdicts)}",
        "caught": caught,
        "faults": len(verdicts),
        "false_alarms": len(alarms),
        "baseline_records": baseline_records,
        "baseline_seconds": baseline_seconds,
        "wall_seconds": wall,
        "time_scale": scale,
        "jobs": jobs,
        "verdicts": [asdict(v) for v in verdicts],
        "false_alarm_records": alarms,
    }
    report.mkdir(parents=True, exist_ok=True)
    (report / "sensitivity.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    lines = [
        "# Sensitivity: the suite against the fault zoo",
        "",
        f"Score: **{caught}/{len(verdicts)}** faults caught with their exact requirement id; "
        f"false alarms against the conformant reference peer: **{len(alarms)}**"
        + (f" ({baseline_records} records)" if baseline else " (not run)")
        + f". Wall time {wall} s with {jobs} jobs at --time-scale {scale:g}.",
        "",
        *table(verdicts),
    ]
    (report / "sensitivity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    for v in verdicts:
        if v.detail:
            print(f"{v.fault}: {v.detail}", file=sys.stderr)
    for alarm in alarms:
        print(f"false alarm: {alarm['case']} {alarm['requirement']}: {alarm['message']}", file=sys.stderr)
    return 0 if caught == len(verdicts) and not alarms else 1


def run_from_args(args: argparse.Namespace) -> int:
    try:
        code = run(Path(args.report).resolve(), jobs=args.jobs, scale=args.time_scale, names=args.fault or (),
                   baseline=not args.no_baseline)  # fmt: skip
        if args.update_readme is not None:
            summary = json.loads((Path(args.report) / "sensitivity.json").read_text(encoding="utf-8"))
            update_readme(args.update_readme, summary)
        return code
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("sensitivity", help="the suite against every faulty peer of the zoo, and a score")
    parser.add_argument("--report", default="reports/out/sensitivity", metavar="DIR")
    parser.add_argument("--jobs", type=int, default=2, help="faults run at once")
    parser.add_argument("--time-scale", type=float, default=suite.SELF_TEST_SCALE)
    parser.add_argument("--fault", action="append", metavar="NAME", help="only this fault (repeatable)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the false-alarm run of the reference peer")
    parser.add_argument("--update-readme", type=Path, metavar="README", help="rewrite its fault table and score")
    parser.set_defaults(run=run_from_args)
