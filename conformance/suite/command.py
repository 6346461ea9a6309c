"""`ouroboros-conformance run` and `self-test`: the suite as a command (pytest underneath), then the report.

`run` tests one peer in one role. `self-test` is the product's main job on a fresh machine: it starts the
reference peer (node-to-node on TCP, node-to-client on a Unix socket), runs the whole suite against it as
a responder, then listens and lets a reconnecting reference initiator run the initiator cases, and renders
both runs into one report. Exit codes: 0 no MUST failed, 1 one did, 2 usage errors or an unreachable peer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conformance.data import DataMissing, profiles_dir

from . import cases
from .grading import must_failed

EXIT_OK, EXIT_MUST_FAILED, EXIT_USAGE = 0, 1, 2
CASES = Path(cases.__file__).parent
"""The cases' folder: pytest's rootdir, so that case names read test_MODULE.py::test_NAME."""
SELF_TEST_SCALE = 0.05
"""The self-test's --time-scale: every protocol limit 20 times shorter, so timeout cases take seconds."""
LISTEN_WAIT = 60.0
"""Seconds the self-test waits for the suite's listener (pytest starting up) before giving up."""


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def profile_path(text: str | None) -> str | None:
    """A --peer-profile value: a file, or the name of a profile shipped in peers/profiles/."""
    if text is None or Path(text).exists():
        return text
    try:
        shipped = profiles_dir() / f"{text}.yaml"
    except DataMissing:
        return text
    return str(shipped) if shipped.exists() else text


def suite_arguments(
    report: Path,
    *,
    role: str,
    peer: str | None = None,
    socket: str | None = None,
    listen: str | None = None,
    magic: int,
    time_scale: float,
    profile: str | None,
    label: str | None = None,
    keyword: str | None = None,
) -> list[str]:
    """The pytest command line of one suite run (a separate process: one run, one fresh interpreter)."""
    arguments = [
        sys.executable, "-m", "pytest", "--pyargs", "conformance.suite.cases",
        "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(CASES),
        "--strict-markers", "-v", "--no-header", "-rfEs",
        "--role", role, "--magic", str(magic), "--time-scale", repr(time_scale),
        "--conformance-report", str(report),
        "--junitxml", str(report / "junit.xml"), "--alluredir", str(report / "allure-results"),
    ]  # fmt: skip
    for option, value in (("--peer", peer), ("--peer-socket", socket), ("--listen", listen)):
        if value:
            arguments += [option, value]
    if profile:
        arguments += ["--peer-profile", profile]
    if label:
        arguments += ["--conformance-label", label]
    if keyword:
        arguments += ["-k", keyword]
    return arguments


def verdict(report: Path, pytest_code: int) -> int:
    """The run's exit code from what it wrote (results.json, run.json) and pytest's own code."""
    run_file, results_file = report / "run.json", report / "results.json"
    if not run_file.exists() or not results_file.exists():
        print(f"error: the suite wrote no results (pytest exit code {pytest_code})", file=sys.stderr)
        return EXIT_USAGE
    run = json.loads(run_file.read_text(encoding="utf-8"))
    records = json.loads(results_file.read_text(encoding="utf-8"))
    if run.get("unreachable") and not any(r["outcome"] == "passed" for r in records):
        print(f"error: the peer under test could not be reached: {run['unreachable']}", file=sys.stderr)
        return EXIT_USAGE
    if not records:
        print("error: no case ran (check -k and the peer options)", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_MUST_FAILED if must_failed(records) else EXIT_OK


def render(reports: Sequence[Path], out: Path) -> None:
    """The HTML page and the Markdown summary of one or several runs (conformance.report)."""
    from conformance.report import load_run
    from conformance.report import render as render_runs

    render_runs([load_run(path) for path in reports], out)
    print(f"report: {out / 'report.html'} and {out / 'summary.md'}")


def run_from_args(args: argparse.Namespace) -> int:
    role = args.role
    if role == "responder" and not (args.peer or args.peer_socket):
        return _fail("give --peer HOST:PORT and/or --peer-socket PATH (or --role initiator with --listen)")
    if role == "initiator" and not args.listen:
        return _fail("--role initiator needs --listen HOST:PORT")
    if args.time_scale <= 0:
        return _fail("--time-scale must be positive")
    report = Path(args.report).resolve()
    report.mkdir(parents=True, exist_ok=True)
    command = suite_arguments(
        report,
        role=role,
        peer=args.peer,
        socket=args.peer_socket,
        listen=args.listen,
        magic=args.magic,
        time_scale=args.time_scale,
        profile=profile_path(args.peer_profile),
        label=args.label,
        keyword=args.k,
    )
    code = subprocess.call(command, cwd=CASES)
    result = verdict(report, code)
    if result != EXIT_USAGE:
        render([report], report)
    return result


# -- self-test: the reference peer against the suite, in both roles ------------------------------------


@contextmanager
def running(
    arguments: list[str], *, output: int | None = subprocess.PIPE, cwd: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A process that is stopped (terminated, then killed) when the block ends. `output`: PIPE (a `serve`
    whose first line `listening` reads), DEVNULL, or None for our own terminal."""
    process = subprocess.Popen(arguments, stdout=output, stderr=output, text=True, cwd=cwd)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def listening(process: subprocess.Popen[str], what: str) -> dict[str, Any]:
    """The {"listening": ...} line a `serve` process prints first."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        error = process.stderr.read() if process.stderr else ""
        raise RuntimeError(f"{what} did not start: {error.strip()}")
    return dict(json.loads(line)["listening"])


def serve_command(scale: float, *more: str) -> list[str]:
    """The reference peer as a responder process (`serve`), with the run's time scale."""
    return [sys.executable, "-m", "conformance", "serve", "--time-scale", repr(scale), *more]


def dial_command(where: dict[str, Any], scale: float, seconds: float, *more: str) -> list[str]:
    """The reference peer as the tested initiator: `connect --reconnect` to the suite's listener, following
    20 headers, offering 21 golden transactions and peer sharing on each connection."""
    return [
        sys.executable, "-m", "conformance", "connect", f"{where['host']}:{where['port']}",
        "--reconnect", str(int(seconds)), "--headers", "20", "--txs", "21", "--peer-sharing", "1",
        "--time-scale", repr(scale), *more,
    ]  # fmt: skip


@contextmanager
def listening_suite(
    command: list[str], report: Path, *, output: int | None
) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    """An initiator-role suite process (`command`), running until the block ends; yields where it listens
    (the plugin writes REPORT/listening.json once it does) and the process. RuntimeError if it never listens."""
    marker = report / "listening.json"
    marker.unlink(missing_ok=True)  # an earlier run's address is no address
    with running(command, output=output, cwd=CASES) as suite:
        deadline = time.monotonic() + LISTEN_WAIT
        while time.monotonic() < deadline and suite.poll() is None:
            if marker.exists():
                try:
                    where = dict(json.loads(marker.read_text(encoding="utf-8")))
                except ValueError:
                    where = {}  # written in this instant: read it again
                if where:
                    yield where, suite
                    return
            time.sleep(0.05)
        raise RuntimeError("the suite did not start listening for the initiator")


def self_test_from_args(args: argparse.Namespace) -> int:
    out = Path(args.report).resolve()
    scale = args.time_scale
    responder_report, initiator_report = out / "responder", out / "initiator"
    for folder in (responder_report, initiator_report):
        folder.mkdir(parents=True, exist_ok=True)
    profile = profile_path("reference")
    codes = []
    with tempfile.TemporaryDirectory(prefix="conformance-") as scratch:
        socket = str(Path(scratch) / "node.socket")
        with (
            running(serve_command(scale, "--port", "0", "--peer-sharing", "1")) as n2n,
            running(serve_command(scale, "--socket", socket)) as n2c,
        ):
            tcp = listening(n2n, "the reference peer (node-to-node)")
            listening(n2c, "the reference peer (node-to-client)")
            print(f"== the reference peer as responder: {tcp['host']}:{tcp['port']} and {socket}", flush=True)
            command = suite_arguments(
                responder_report, role="responder", peer=f"{tcp['host']}:{tcp['port']}", socket=socket,
                magic=args.magic, time_scale=scale, profile=profile, label="reference-peer responder",
                keyword=args.k,
            )  # fmt: skip
            codes.append(verdict(responder_report, subprocess.call(command, cwd=CASES)))
        print("== the reference peer as initiator", flush=True)
        command = suite_arguments(
            initiator_report, role="initiator", listen="127.0.0.1:0", magic=args.magic, time_scale=scale,
            profile=profile, label="reference-peer initiator", keyword=args.k,
        )  # fmt: skip
        try:
            with listening_suite(command, initiator_report, output=None) as (where, suite):
                with running(dial_command(where, scale, 600, "--magic", str(args.magic))):
                    code = suite.wait()
            codes.append(verdict(initiator_report, code))
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            codes.append(EXIT_USAGE)
    if any(code == EXIT_USAGE for code in codes):
        return EXIT_USAGE
    render([responder_report, initiator_report], out)
    return max(codes)


def add_commands(commands: Any) -> None:
    run = commands.add_parser("run", help="run the conformance suite against a peer and write the reports")
    run.add_argument("--peer", metavar="HOST:PORT", help="the node-to-node responder under test")
    run.add_argument("--peer-socket", metavar="PATH", help="the node-to-client responder under test (Unix socket)")
    run.add_argument("--listen", metavar="HOST:PORT", help="with --role initiator: where the initiator connects")
    run.add_argument("--role", choices=("responder", "initiator"), default="responder", help="of the peer under test")
    run.add_argument("--magic", type=int, default=764824073, help="network magic (default mainnet)")
    run.add_argument("--peer-profile", metavar="FILE", help="a profile file, or the name of one in peers/profiles")
    run.add_argument("--time-scale", type=float, default=1.0, help="multiplies every protocol time limit")
    run.add_argument("--report", default="conformance-report", metavar="DIR", help="where the reports go")
    run.add_argument("--label", help="the run's name in the report matrix")
    run.add_argument("-k", metavar="EXPR", help="only the cases whose names match (pytest -k)")
    run.set_defaults(run=run_from_args)
    self_test = commands.add_parser(
        "self-test", help="the reference peer against the whole suite, in both roles, with the reports"
    )
    self_test.add_argument("--report", default="reports/out", metavar="DIR", help="where the reports go")
    self_test.add_argument("--time-scale", type=float, default=SELF_TEST_SCALE, help="protocol time scale")
    self_test.add_argument("--magic", type=int, default=764824073)
    self_test.add_argument("-k", metavar="EXPR", help="only the cases whose names match (pytest -k)")
    self_test.set_defaults(run=self_test_from_args)
