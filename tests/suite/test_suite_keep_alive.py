"""The keep-alive cases against the reference peer (no false alarm) and against a peer that echoes the
wrong cookie (caught, with KA-COOKIE-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import faults
from conformance.peer.node import PeerConfig

from .harness import PeerOnThread, reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)


def wrong_cookie_peer() -> PeerConfig:
    """The reference peer answering every MsgKeepAlive with the cookie plus one: the zoo's ka-wrong-cookie."""
    fault = faults.find("ka-wrong-cookie")
    return faults.configure(fault, PeerConfig(behaviours=faults.behaviours(fault, "node-to-node", "responder")))


def test_the_reference_peer_passes_every_keep_alive_case(tmp_path: Path) -> None:
    with reference_peer("--port", "0") as where:
        run = run_suite(tmp_path / "report", "--peer", f"{where['host']}:{where['port']}", "-k", "keep_alive")
    assert run.returncode == 0, run.output
    assert run.records and {r["outcome"] for r in run.records} == {"passed"}, run.records
    assert {"KA-COOKIE-01", "KA-RESP-01", "KA-TIME-01", "KA-AGENCY-01"} <= {r["requirement"] for r in run.records}


def test_a_server_that_echoes_the_wrong_cookie_fails_ka_cookie_01(tmp_path: Path) -> None:
    config = wrong_cookie_peer()
    with PeerOnThread(config) as peer:
        run = run_suite(tmp_path / "report", "--peer", peer.address, "-k", "keep_alive")
    assert run.returncode == 1, run.output
    assert "KA-COOKIE-01" in run.failed(), run.records
    assert run.failed() == {"KA-COOKIE-01"}, run.records  # nothing else is blamed
