"""`ouroboros-conformance report DIR... [--out OUT]`: render run folders into one report.

Exit 0 when no MUST requirement failed, 1 when one did, 2 on a usage error (a folder that is not a run
folder is named, with the reason).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .render import HTML_NAME, MARKDOWN_NAME, exit_code, render
from .run import RunFolderError, load_run

DEFAULT_OUT = Path("report")
"""Where several runs are rendered when --out is not given (a single run renders into its own folder)."""


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = commands.add_parser(
        "report",
        help="render run folders into one compliance report (report.html, summary.md)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a run folder written by the suite")
    report.add_argument(
        "--out", type=Path, default=None, help=f"output folder (default: DIR for one run, ./{DEFAULT_OUT} for several)"
    )
    report.set_defaults(run=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    try:
        runs = [load_run(folder) for folder in args.dirs]
    except RunFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else (args.dirs[0] if len(args.dirs) == 1 else DEFAULT_OUT)
    try:
        render(runs, out)
    except OSError as exc:
        print(f"error: cannot write the report to {out}: {exc}", file=sys.stderr)
        return 2
    code = exit_code(runs)
    print(out / HTML_NAME)
    print(out / MARKDOWN_NAME)
    print("a MUST requirement failed" if code else "no MUST requirement failed")
    return code
