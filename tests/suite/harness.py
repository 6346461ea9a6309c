"""Running the conformance suite the way a user does, against real peers, from the project's tests.

`reference_peer(...)` starts the reference peer (`ouroboros-conformance serve`) as a process of its own
and yields its address; `PeerOnThread` runs a reference peer with any configuration (behaviours with a
fault switched on, rules disabled) on an event loop in a thread of this process, so a test can point the
suite at a peer that is wrong in one known way; `run_suite(...)` runs the suite as a separate pytest
process and returns its exit code, its output and the records of results.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.peer import node

SUITE_TIMEOUT = 240.0


@dataclass
class SuiteRun:
    returncode: int
    output: str
    records: list[dict[str, Any]]
    report: Path

    def outcomes(self, requirement: str) -> set[str]:
        return {r["outcome"] for r in self.records if r["requirement"] == requirement}

    def failed(self) -> set[str]:
        """Requirement ids with a failed record."""
        return {r["requirement"] for r in self.records if r["outcome"] == "failed"}

    def by_case(self, fragment: str) -> list[dict[str, Any]]:
        return [r for r in self.records if fragment in r["case"]]


def run_suite(report: Path, *args: str, timeout: float = SUITE_TIMEOUT) -> SuiteRun:
    """`pytest --pyargs conformance.suite.cases ARGS --conformance-report REPORT` in a new process."""
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(report.parent),
        "--pyargs", "conformance.suite.cases", "--conformance-report", str(report), "-q", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=report.parent)
    results = report / "results.json"
    records = json.loads(results.read_text()) if results.exists() else []
    return SuiteRun(done.returncode, done.stdout + done.stderr, records, report)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def reference_peer(*args: str, timeout: float = 20.0) -> Iterator[dict[str, Any]]:
    """`ouroboros-conformance serve ARGS` as a process; yields its {"listening": ...} address."""
    command = [sys.executable, "-m", "conformance", "serve", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"serve did not start: {process.stderr.read() if process.stderr else ''}")
        yield json.loads(line)["listening"]
    finally:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class PeerOnThread:
    """A reference peer with any `PeerConfig`, served on an event loop in a thread of this process:
    `with PeerOnThread(config) as peer:` then `peer.address` ("127.0.0.1:PORT") or `peer.path`."""

    def __init__(self, config: node.PeerConfig, *, unix_path: Path | None = None) -> None:
        self.config = config
        self.unix_path = unix_path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: node.Server | None = None

    def _call(self, coroutine: Any, timeout: float = 20.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> PeerOnThread:
        self.thread.start()
        if self.unix_path is not None:
            self.server = self._call(node.serve_unix(str(self.unix_path), self.config))
        else:
            self.server = self._call(node.serve("127.0.0.1", 0, self.config))
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    @property
    def violations(self) -> list[Any]:
        """What the suite's side broke, as this peer judged it (a conformant suite breaks nothing)."""
        assert self.server is not None
        return [v for c in self.server.connections for v in c.violations]

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self._call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
