"""The one command-line entry point: decode, encode, vectors check, serve, connect, script, run, self-test,
sensitivity, report, dissector, judge."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from . import golden, wire
from .data import DataMissing
from .faults import sensitivity
from .peer import commands as peer_commands
from .suite import command as suite_commands
from .vectors import load_vectors


def _decode(args: argparse.Namespace) -> int:
    try:
        data = bytes.fromhex(args.hex)
    except ValueError as exc:
        print(f"error: not hex: {exc}", file=sys.stderr)
        return 1
    try:
        codec = wire.codec(args.protocol)
        message = codec.decode(data, args.state, args.version)
    except (KeyError, wire.DecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(codec.to_json(message)))
    return 0


def _version(text: str) -> int:
    """A version number in decimal or 0x-hex (node-to-client keys are often written 0x8010)."""
    try:
        version = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a version number: {text!r}") from None
    if version < 0:
        raise argparse.ArgumentTypeError(f"not a version number: {text!r}")
    return version


def _encode(args: argparse.Namespace) -> int:
    try:
        codec = wire.codec(args.protocol)
        document = json.loads(args.json)
        if "message" not in document:
            print('error: the JSON needs a "message" name and its "fields"', file=sys.stderr)
            return 1
        message = codec.from_json(document)
        print(codec.encode(message).hex())
    except (KeyError, ValueError, TypeError, wire.EncodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _vectors_check(args: argparse.Namespace) -> int:
    try:
        vectors = load_vectors(args.dir)
    except DataMissing as exc:  # checking nothing is an error, never a pass
        print(f"error: nothing to check: {exc}", file=sys.stderr)
        return 2
    rows: Counter[tuple[str, str]] = Counter()
    failed: list[tuple[str, list[str]]] = []
    for vector in vectors:
        problems = golden.check(vector)
        key = (vector.file.removesuffix(".yaml"), "fail" if problems else "pass")
        rows[key] += 1
        rows[(vector.file.removesuffix(".yaml"), vector.source)] += 1
        if vector.real:
            rows[(vector.file.removesuffix(".yaml"), "real")] += 1
        if problems:
            failed.append((vector.id, problems))
    files = sorted({file for file, _ in rows})
    header = f"{'file':<22}{'vectors':>8}{'ours':>6}{'external':>10}{'real':>6}{'pass':>6}{'fail':>6}"
    print(header)
    print("-" * len(header))
    for file in files:
        total = rows[(file, "ours")] + rows[(file, "external")]
        print(
            f"{file:<22}{total:>8}{rows[(file, 'ours')]:>6}{rows[(file, 'external')]:>10}"
            f"{rows[(file, 'real')]:>6}{rows[(file, 'pass')]:>6}{rows[(file, 'fail')]:>6}"
        )
    passed = sum(rows[(f, "pass")] for f in files)
    print("-" * len(header))
    print(f"{'total':<22}{passed + len(failed):>8}{'':>28}{passed:>6}{len(failed):>6}")
    for vector_id, problems in failed:
        for problem in problems:
            print(f"FAIL {vector_id}: {problem}")
    return 1 if failed else 0


def _add_script(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `script` subcommand: run a scenario file (conformance/peer/scenario, docs/scenarios.md)."""
    from .peer.scenario import command

    script = commands.add_parser("script", help="run a scenario file (docs/scenarios.md) against a peer")
    script.add_argument("file", type=Path, help="a scenario YAML file, e.g. peers/scenarios/keep-alive-echo.yaml")
    where = script.add_mutually_exclusive_group()
    where.add_argument("--peer", metavar="HOST:PORT", help="connect to this peer (scenarios with role initiator)")
    where.add_argument("--listen", metavar="HOST:PORT", help="listen here for one peer (role responder)")
    script.add_argument("--magic", type=command.magic, default=None, help="network magic (default: the scenario's)")
    script.add_argument("--transcript", type=Path, default=None, metavar="DIR", help="write transcripts and the result")
    script.add_argument("--json", action="store_true", help="print the result as one JSON document")
    script.set_defaults(run=command.run_from_args)


def _add_report(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `report` subcommand: run folders of the suite into one compliance report (conformance/report)."""
    from .report import command

    command.add_command(commands)


def _add_judge(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `judge` subcommand: every violation in a capture (conformance/judge, docs/judge.md)."""
    from .judge import command

    command.add_command(commands)


def _add_dissector(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `dissector` subcommand: write the Wireshark plugin generated from the wire declarations."""

    def run(args: argparse.Namespace) -> int:
        from . import dissector

        try:
            print(dissector.write(args.write))
        except OSError as exc:
            print(f"error: cannot write the plugin: {exc}", file=sys.stderr)
            return 1
        return 0

    dissector = commands.add_parser("dissector", help="write the Wireshark Lua plugin (docs/wireshark.md)")
    dissector.add_argument("--write", type=Path, required=True, metavar="DIR", help="folder to write ouroboros.lua in")
    dissector.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ouroboros-conformance", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser("decode", help="decode one message from hex to JSON")
    decode.add_argument("protocol", help=", ".join(wire.PROTOCOLS))
    decode.add_argument("hex")
    decode.add_argument("--state", default=None, help="the protocol state the message was received in")
    decode.add_argument(
        "--version",
        type=_version,
        default=None,
        help="the negotiated version (node-to-client as 16 or 32784); default: accept the shapes of any version",
    )
    decode.set_defaults(run=_decode)
    encode = commands.add_parser("encode", help='encode {"message": ..., "fields": {...}} to hex')
    encode.add_argument("protocol", help=", ".join(wire.PROTOCOLS))
    encode.add_argument("json")
    encode.set_defaults(run=_encode)
    vectors = commands.add_parser("vectors", help="golden vectors")
    vector_commands = vectors.add_subparsers(dest="vectors_command", required=True)
    check = vector_commands.add_parser("check", help="decode and re-encode every golden vector")
    check.add_argument("--dir", type=Path, default=None, help="a folder of vector files (default: the golden vectors)")
    check.set_defaults(run=_vectors_check)
    peer_commands.add_commands(commands)
    _add_script(commands)
    suite_commands.add_commands(commands)
    sensitivity.add_commands(commands)
    _add_report(commands)
    _add_dissector(commands)
    _add_judge(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
