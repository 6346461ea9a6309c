"""Node-to-client peers for the suite's tests: the reference peer on a Unix socket as a process of its
own, and a reference peer with one fault on a thread (its behaviours are the node-to-client defaults with
some replaced), each with a short socket path (a Unix socket path is limited to about 100 bytes)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from conformance.peer.agent import BehaviourFactory
from conformance.peer.chain import ChainStore
from conformance.peer.defaults import default_behaviours
from conformance.peer.handshake import N2C
from conformance.peer.mempool import Mempool
from conformance.peer.node import PeerConfig

from .harness import PeerOnThread, SuiteRun, reference_peer, run_suite

SCALE = 0.05
"""Node-to-client protocols have no time limits; the scale shortens the suite's short waits (after MsgDone)."""


@contextlib.contextmanager
def short_socket() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="n2c-") as folder:
        yield Path(folder) / "peer.sock"


def reference_run(report: Path, module: str) -> SuiteRun:
    """The suite's `module` (a -k filter) against `ouroboros-conformance serve --socket PATH`."""
    with short_socket() as path, reference_peer("--socket", str(path), "--time-scale", str(SCALE)) as where:
        return run_suite(report, "--peer-socket", where["socket"], "--time-scale", str(SCALE), "-k", module)


def faulty_run(
    report: Path,
    module: str,
    replaced: Mapping[tuple[str, str], BehaviourFactory] | None = None,
    *,
    chain: ChainStore | None = None,
    mempool: Mempool | None = None,
    **config: Any,
) -> SuiteRun:
    """The suite's `module` against a reference peer on a thread whose behaviours `replaced` override."""
    behaviours = {**default_behaviours(N2C, "responder", chain=chain, mempool=mempool), **(replaced or {})}
    config = {"time_scale": SCALE, **config}
    with short_socket() as path, PeerOnThread(PeerConfig(mode=N2C, behaviours=behaviours, **config), unix_path=path):
        return run_suite(report, "--peer-socket", str(path), "--time-scale", str(config["time_scale"]), "-k", module)
