"""The tx-submission2 cases (the tested peer as the tx server) against the reference peer (no false alarm)
and against inbound sides that break one rule each (caught, with exactly that rule's id)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.peer.mempool import Mempool
from conformance.peer.node import PeerConfig
from conformance.peer.tx_submission import TxSubmissionInbound

from .harness import PeerOnThread, reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)
SCALE = "0.05"
CASES = "test_tx_submission.py::"
RULES = "test_the_server_requests_obey_the_window_ack_and_blocking_rules"
DONE = "test_done_in_place_of_a_blocking_reply_ends_the_protocol"
TIMED = "test_the_server_disconnects_a_client_that_holds_a_timed_state_too_long"


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with reference_peer("--port", "0", "--time-scale", SCALE) as where:
        yield f"{where['host']}:{where['port']}"


def test_the_reference_peer_passes_every_tx_submission_case(peer: str, tmp_path: Path) -> None:
    run = run_suite(tmp_path / "report", "--peer", peer, "--time-scale", SCALE, "-k", "test_tx_submission.py")
    assert run.returncode == 0, run.output
    assert run.records and {r["outcome"] for r in run.records} == {"passed"}, run.records
    assert {r["case"].removeprefix(CASES) for r in run.records} == {RULES, DONE, TIMED}


def failed_cases(
    tmp_path: Path, config: PeerConfig, select: str = "test_tx_submission.py"
) -> tuple[int, set[tuple[str, str]]]:
    with PeerOnThread(config) as server:
        run = run_suite(tmp_path / "report", "--peer", server.address, "--time-scale", SCALE, "-k", select)
    failed = {(r["case"].removeprefix(CASES), r["requirement"]) for r in run.records if r["outcome"] == "failed"}
    return run.returncode, failed


@pytest.mark.parametrize(
    ("fault", "requirement", "cases"),
    [
        ("over_window", "TX-WINDOW-01", {RULES, DONE, TIMED}),
        ("request_unannounced", "TX-REQTX-01", {RULES, DONE}),
    ],
)
def test_an_inbound_side_that_breaks_one_request_rule_is_caught(
    tmp_path: Path, fault: str, requirement: str, cases: set[str]
) -> None:
    """The reference inbound side with one fault switched on (and our own sending check off for it)."""
    config = PeerConfig(
        time_scale=float(SCALE),
        behaviours={("tx-submission2", "responder"): lambda n: TxSubmissionInbound(Mempool(), n, **{fault: True})},
        disabled_rules=frozenset({requirement}),
    )
    returncode, failed = failed_cases(tmp_path, config)
    assert returncode == 1
    assert failed == {(case, requirement) for case in cases}


def test_a_server_that_waits_far_longer_than_10_s_fails_tx_time_01(tmp_path: Path) -> None:
    """A peer whose limits are 2000 times the suite's (time scale 100 against 0.05) never closes in time."""
    config = PeerConfig(
        time_scale=100.0,
        behaviours={("tx-submission2", "responder"): lambda n: TxSubmissionInbound(Mempool(), n)},
    )
    returncode, failed = failed_cases(tmp_path, config, "test_tx_submission.py and timed_state")
    assert returncode == 1
    assert failed == {(TIMED, "TX-TIME-01")}
