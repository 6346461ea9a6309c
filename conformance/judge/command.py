"""The `judge` subcommand: exit 0 when no MUST rule was broken, 1 when one was, 2 on unreadable input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance.peer.scenario.command import magic

from . import report
from .bearer import Options
from .capture import CaptureError
from .judge import judge_capture


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a port: {text}")
    return value


def run_from_args(args: argparse.Namespace) -> int:
    try:
        result = judge_capture(args.file, Options(magic=args.magic, port=args.port))
    except CaptureError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.terminal(result))
    if args.report is not None:
        report.write(result, args.report)
    return 1 if result.must_broken else 0


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    judge = commands.add_parser("judge", help="judge every Ouroboros connection in a pcap or pcapng (docs/judge.md)")
    judge.add_argument("file", type=Path, help="a pcap or pcapng capture of node-to-node or node-to-client TCP traffic")
    judge.add_argument("--magic", type=magic, default=None, help="the network magic the node runs")
    judge.add_argument("--report", type=Path, default=None, metavar="DIR", help="write DIR/judge.json and DIR/judge.md")
    judge.add_argument("--port", type=port, default=None, help="the node's port (names the responder without a SYN)")
    judge.set_defaults(run=run_from_args)
