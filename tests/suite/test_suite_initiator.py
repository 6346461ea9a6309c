"""The initiator-role cases (the suite listens; the tested peer connects to it, once per case) against the
reference peer as a reconnecting initiator (`connect --reconnect`, no false alarm, at two time scales) and
against reference initiators wrong in exactly one way (each caught, by exactly the broken rule's id)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.peer import keep_alive, tx_submission
from conformance.peer.agent import Action
from conformance.peer.chain_sync import ChainSyncClient
from conformance.peer.defaults import default_behaviours
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.node import PeerConfig
from conformance.peer.reconnect import Reconnected, reconnect
from conformance.wire import Message

from .harness import SUITE_TIMEOUT, SuiteRun, free_port, run_suite

pytestmark = pytest.mark.timeout(300)
HEADERS = "20"
"""Headers the reference initiator follows on each connection (its chain-sync and block-fetch clients)."""


def _listening(port: int, within: float = 60.0) -> None:
    """Wait until the suite listens on `port` (it starts listening when its first case starts)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"the suite never listened on {port}")


def _suite(report: Path, port: int, scale: float, args: Sequence[str]) -> tuple[threading.Thread, dict[str, SuiteRun]]:
    out: dict[str, SuiteRun] = {}
    command = ["--role", "initiator", "--listen", f"127.0.0.1:{port}", "--time-scale", str(scale), *args]
    thread = threading.Thread(target=lambda: out.update(run=run_suite(report, *command)), daemon=True)
    thread.start()
    return thread, out


def run_with_reference(report: Path, scale: float, *args: str) -> tuple[SuiteRun, dict[str, Any]]:
    """The suite against `python -m conformance connect --reconnect` (a process of its own)."""
    port = free_port()
    thread, out = _suite(report, port, scale, args)
    _listening(port)
    command = [
        sys.executable, "-m", "conformance", "connect", f"127.0.0.1:{port}", "--reconnect", "120",
        "--headers", HEADERS, "--txs", "21", "--peer-sharing", "1", "--time-scale", str(scale),
    ]  # fmt: skip
    initiator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        thread.join(SUITE_TIMEOUT)
        stdout, stderr = initiator.communicate(timeout=30)  # it stops 3 s after the suite stopped listening
    finally:
        if initiator.poll() is None:
            initiator.kill()
            initiator.wait(10)
    summary = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    summary["returncode"], summary["stderr"] = initiator.returncode, stderr
    return out["run"], summary


@contextlib.contextmanager
def initiator_on_thread(port: int, config: PeerConfig) -> Iterator[dict[str, Reconnected]]:
    """A reconnecting reference initiator with `config`, on an event loop in a thread of this process."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    out: dict[str, Reconnected] = {}

    def main() -> None:
        out["result"] = loop.run_until_complete(reconnect("127.0.0.1", port, config, seconds=120, stop=stop))

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()


def run_with_faulty(
    report: Path, behaviours: dict[Any, Any], *args: str, scale: float = 0.05, **config: Any
) -> tuple[SuiteRun, Reconnected]:
    port = free_port()
    thread, out = _suite(report, port, scale, args)
    _listening(port)
    peer = PeerConfig(initiator_only=True, time_scale=scale, behaviours=behaviours, **config)
    with initiator_on_thread(port, peer) as result:
        thread.join(SUITE_TIMEOUT)
    return out["run"], result["result"]


def initiator_behaviours(**replace: Any) -> dict[Any, Any]:
    """The reference initiator's behaviours (as `connect --headers 20 --txs 21`), some replaced."""
    behaviours = dict(
        default_behaviours("node-to-node", "initiator", headers=int(HEADERS), depth=10, mempool=golden_mempool())
    )
    behaviours.update(replace)
    return behaviours


def golden_mempool() -> Mempool:
    return Mempool(golden_transactions())


# -- the reference initiator: no false alarm ---------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.05, 1.0])
def test_the_reference_initiator_passes_every_initiator_case(tmp_path: Path, scale: float) -> None:
    run, initiator = run_with_reference(tmp_path / "report", scale, "-k", "initiator")
    assert run.returncode == 0, run.output
    outcomes = {(r["case"], r["requirement"]): r["outcome"] for r in run.records}
    assert run.records and set(outcomes.values()) <= {"passed", "informational"}, run.records
    not_run = {r["case"] for r in run.records if r["outcome"] == "informational"}
    expected = {"test_initiator_keep_alive.py::test_client_keeps_asking_within_97_s"} if scale == 1.0 else set()
    assert not_run == expected, run.records  # only what waits longer than 30 s at this scale
    assert initiator["returncode"] == 0 and initiator["violations"] == [], initiator  # and the suite broke nothing
    assert initiator["connections"] >= len({r["case"] for r in run.records}), initiator
