"""`ouroboros-conformance script FILE`: load a scenario, run it against a peer, print the result.

Exit codes: 0 every step passed and the remote broke no rule; 1 an expectation failed or the remote
broke a rule; 2 a usage or format error (a malformed scenario, a bad address, no connection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

from .errors import ScenarioError
from .loader import load
from .result import ScenarioResult
from .runner import run
from .surface import Opener


def address(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets: [::1]:3001) -> (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


def script(
    file: Path,
    *,
    peer: str | None = None,
    listen: str | None = None,
    magic: int | None = None,
    transcript: Path | None = None,
    as_json: bool = False,
    opener: Opener | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run one scenario file; return the exit code. `opener` defaults to the reference peer."""
    try:
        scenario = load(file)
        if (peer is None) == (listen is None):
            raise ScenarioError("give exactly one of --peer HOST:PORT (we connect) or --listen HOST:PORT (we listen)")
        role = "initiator" if peer is not None else "responder"
        if role != scenario.role:
            flag = "--listen" if scenario.role == "responder" else "--peer"
            raise ScenarioError(f"{file}: the scenario's role is {scenario.role}: run it with {flag}")
        where = address(peer if peer is not None else str(listen))
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    if opener is None:
        from .dial import open_peer

        opener = open_peer
    result = asyncio.run(run(scenario, opener, magic=magic, address=where, transcript_dir=transcript))
    _report(result, transcript, as_json, out)
    return result.exit_code


def _report(result: ScenarioResult, transcript: Path | None, as_json: bool, out: TextIO) -> None:
    document = json.dumps(result.as_dict(), default=str)
    if transcript is not None:
        transcript.mkdir(parents=True, exist_ok=True)
        (transcript / f"{result.scenario}.result.json").write_text(document + "\n", encoding="utf-8")
    print(document if as_json else result.summary(), file=out)


def magic(text: str) -> int:
    """A network magic for argparse: decimal or 0x-hex, within 32 bits."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a network magic: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"a network magic is within 0..4294967295, not {value}")
    return value


def run_from_args(args: argparse.Namespace) -> int:
    """The `script` subcommand's entry (conformance/cli.py registers it)."""
    return script(
        args.file, peer=args.peer, listen=args.listen, magic=args.magic, transcript=args.transcript, as_json=args.json
    )
