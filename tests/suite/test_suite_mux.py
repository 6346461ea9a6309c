"""The mux cases against the reference peer (no false alarm, at --time-scale 0.05 so that the keep-alive
time limit case runs) and against peers with one fault each: a peer whose time limits are fifty times
longer than the suite expects (HS-TIME-01, KA-TIME-01), and one that reassembles split SDUs but echoes
the wrong cookie (KA-COOKIE-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer.defaults import default_behaviours
from conformance.peer.handshake import N2N
from conformance.peer.node import PeerConfig

from .harness import PeerOnThread, SuiteRun, reference_peer, run_suite
from .test_suite_keep_alive import wrong_cookie_peer

pytestmark = pytest.mark.timeout(300)
SCALE = "0.05"
FAST = "0.02"  # against a peer at scale 1: its limits are 50 times longer than the suite expects


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    report = tmp_path_factory.mktemp("mux") / "report"
    with reference_peer("--port", "0", "--time-scale", SCALE, "--peer-sharing", "1") as where:
        return run_suite(report, "--peer", f"{where['host']}:{where['port']}", "--time-scale", SCALE, "-k", "test_mux")


def test_the_reference_peer_passes_every_mux_case(reference_run: SuiteRun) -> None:
    assert reference_run.returncode == 0, reference_run.output
    assert reference_run.records and {r["outcome"] for r in reference_run.records} == {"passed"}, reference_run.records


def test_the_mux_cases_exercise_their_requirements(reference_run: SuiteRun) -> None:
    exercised = {r["requirement"] for r in reference_run.records}
    assert {
        "MUX-PROTO-01", "MUX-MODE-01", "MUX-SDU-01", "MUX-SDU-02", "MUX-INGRESS-01",
        "CS-BYTES-01", "KA-TIME-01", "HS-TIME-01", "CS-PIPE-01", "BF-BYTES-01", "TX-BYTES-01", "PS-BYTES-01",
    } <= exercised  # fmt: skip
    assert len({r["case"] for r in reference_run.records}) == 20


def test_a_peer_with_longer_time_limits_fails_hs_time_01_and_ka_time_01(tmp_path: Path) -> None:
    """The peer waits 10 s and 97 s where the suite, at --time-scale 0.02, expects 0.2 s and 1.94 s."""
    with PeerOnThread(PeerConfig(time_scale=1.0, behaviours=default_behaviours(N2N, "responder"))) as peer:
        run = run_suite(tmp_path / "report", "--peer", peer.address, "--time-scale", FAST, "-k", "test_mux and silent")
    assert run.returncode == 1, run.output
    assert run.failed() == {"HS-TIME-01", "KA-TIME-01"}, run.records
    assert all("stayed open" in r["message"] for r in run.records if r["outcome"] == "failed"), run.records


def test_split_and_coalesced_keepalive_answers_are_checked(tmp_path: Path) -> None:
    with PeerOnThread(wrong_cookie_peer()) as peer:
        run = run_suite(tmp_path / "report", "--peer", peer.address, "-k", "test_mux and (small_sdus or two_protocols)")
    assert run.returncode == 1, run.output
    assert run.failed() == {"KA-COOKIE-01"}, run.records
    assert len({r["case"] for r in run.records if r["outcome"] == "failed"}) == 4
