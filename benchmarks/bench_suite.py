"""The whole suite against the reference peer: wall time and cases per second, per role.

    python benchmarks/bench_suite.py                     # writes benchmarks/results/suite.json and suite.md
    python benchmarks/bench_suite.py --time-scale 0.05   # the self-test's scale (the default)

Why: the issue's target is the whole default suite under 60 s on a 2-core machine (h2spec runs about
70 cases/s). `self-test` is the measured command, as a user runs it: the reference peer in processes of
its own, the suite in another, both roles, the reports rendered. Case counts come from each role's
run.json; the per-role time is the suite's own (pytest start-up included in the total only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "self-test", "--report", str(report),
             "--time-scale", repr(args.time_scale)],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        wall = time.perf_counter() - started
        roles = {}
        for role in ("responder", "initiator"):
            run = json.loads((report / role / "run.json").read_text())
            records = json.loads((report / role / "results.json").read_text())
            cases = run["cases"]["total"]
            roles[role] = {
                "cases": cases,
                "records": len(records),
                "failed": sum(r["outcome"] == "failed" for r in records),
                "suite_seconds": run["duration"],
                "cases_per_second": round(cases / run["duration"], 1) if run["duration"] else None,
            }
    total_cases = sum(r["cases"] for r in roles.values())
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "time_scale": args.time_scale,
        "exit_code": done.returncode,
        "wall_seconds": round(wall, 2),
        "cases": total_cases,
        "cases_per_second_overall": round(total_cases / wall, 1),
        "roles": roles,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "suite.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# The suite against the reference peer (`ouroboros-conformance self-test`)",
        "",
        f"{result['date']}, Python {result['python']}, {result['cpus']} CPUs, --time-scale {args.time_scale},"
        f" exit code {done.returncode}.",
        "",
        "| role of the peer under test | cases | records | failed | suite time (s) | cases/s |",
        "|---|---|---|---|---|---|",
    ]
    for role, figures in roles.items():
        lines.append(
            f"| {role} | {figures['cases']} | {figures['records']} | {figures['failed']} |"
            f" {figures['suite_seconds']} | {figures['cases_per_second']} |"
        )
    lines += [
        "",
        f"Whole command (two reference peers started, both roles, reports rendered): {result['wall_seconds']} s"
        f" for {total_cases} cases, {result['cases_per_second_overall']} cases/s. Target: under 60 s.",
    ]
    (RESULTS_DIR / "suite.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
