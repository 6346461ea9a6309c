"""The hostile-input cases against the reference peer (it closes on every damaged message and survives,
at --time-scale 0.05 so that the truncation-then-silence case runs) and against a peer that waits for the
rest of a truncated message fifty times longer than its time limit allows (KA-TIME-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer.defaults import default_behaviours
from conformance.peer.handshake import N2N
from conformance.peer.node import PeerConfig

from .harness import PeerOnThread, SuiteRun, reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)
SCALE = "0.05"
FAST = "0.02"  # against a peer at scale 1: its limits are 50 times longer than the suite expects


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    report = tmp_path_factory.mktemp("hostile") / "report"
    with reference_peer("--port", "0", "--time-scale", SCALE) as where:
        address = f"{where['host']}:{where['port']}"
        return run_suite(report, "--peer", address, "--time-scale", SCALE, "-k", "test_hostile")


def test_the_reference_peer_closes_on_hostile_input_and_survives(reference_run: SuiteRun) -> None:
    assert reference_run.returncode == 0, reference_run.output
    assert reference_run.records and {r["outcome"] for r in reference_run.records} == {"passed"}, reference_run.records
    assert {"KA-CODEC-01", "CS-CODEC-01", "HS-CODEC-01", "KA-RESP-01", "KA-TIME-01"} <= {
        r["requirement"] for r in reference_run.records
    }
    assert len({r["case"] for r in reference_run.records}) == 12


def test_a_peer_that_waits_too_long_for_the_rest_of_a_message_fails_ka_time_01(tmp_path: Path) -> None:
    with PeerOnThread(PeerConfig(time_scale=1.0, behaviours=default_behaviours(N2N, "responder"))) as peer:
        run = run_suite(
            tmp_path / "report", "--peer", peer.address, "--time-scale", FAST, "-k", "test_hostile and silence"
        )
    assert run.returncode == 1, run.output
    assert run.failed() == {"KA-TIME-01"}, run.records
    assert all("stayed open" in r["message"] for r in run.records if r["outcome"] == "failed"), run.records
