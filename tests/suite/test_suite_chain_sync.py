"""The chain-sync cases against the reference peer (no false alarm) and against chain-sync servers that are
wrong in known ways (caught, each in its own cases, with exactly its rule's id)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.peer.agent import Action, Negotiated, Send
from conformance.peer.chain import ChainFault, ChainStore
from conformance.peer.chain_sync import ChainSyncServer
from conformance.peer.node import PeerConfig
from conformance.wire import Message

from .harness import PeerOnThread, reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)
SCALE = "0.05"
CASES = "test_chain_sync.py::"


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with reference_peer("--port", "0", "--time-scale", SCALE, "--chain-length", "300") as where:
        yield f"{where['host']}:{where['port']}"


def test_the_reference_peer_passes_every_chain_sync_case(peer: str, tmp_path: Path) -> None:
    run = run_suite(tmp_path / "report", "--peer", peer, "--time-scale", SCALE, "-k", "test_chain_sync.py")
    assert run.returncode == 0, run.output
    assert run.records and {r["outcome"] for r in run.records} == {"passed"}, run.records
    assert {r["requirement"] for r in run.records} == {
        "CS-AGENCY-01", "CS-AWAIT-01", "CS-HEADER-01", "CS-HEADER-02", "CS-INTERSECT-01", "CS-INTERSECT-02",
        "CS-PIPE-01", "CS-ROLLBACK-01", "CS-TIME-01", "CS-TIP-01",
    }  # fmt: skip


class FaultyServer(ChainSyncServer):
    """A chain-sync server with fault switches, each breaking one rule:

    - found_anything: MsgIntersectFound names the first listed point even when none is on its chain
      (CS-INTERSECT-01);
    - never_await: at the tip it keeps silent instead of MsgAwaitReply (CS-TIME-01, StCanAwait);
    - no_rollback_first: after MsgIntersectFound it rolls forward at once (CS-INTERSECT-02, a SHOULD);
    - last_listed: MsgIntersectFound names the last listed point on its chain, not the first (CS-INTERSECT-01).
    """

    def __init__(self, chain: ChainStore, negotiated: Negotiated, faults: frozenset[str]) -> None:
        super().__init__(chain, negotiated)
        self.faults = faults

    def _intersect(self, points: Iterable[Any]) -> Message:
        listed = list(points)
        reply = super()._intersect(listed[::-1] if "last_listed" in self.faults else listed)
        if "found_anything" in self.faults and reply.name == "MsgIntersectNotFound" and listed:
            self.cursor = self.rollback_to = -1
            return Message(self.protocol, "MsgIntersectFound", {"point": listed[0], "tip": self.chain.tip()})
        if "no_rollback_first" in self.faults and reply.name == "MsgIntersectFound":
            self.rollback_to = None
        return reply

    def _next(self, *, can_await: bool) -> list[Action]:
        actions = super()._next(can_await=can_await)
        if "never_await" in self.faults and any(
            isinstance(a, Send) and a.message.name == "MsgAwaitReply" for a in actions
        ):
            return []
        return actions


def faulty_run(tmp_path: Path, chain: ChainStore, faults: Sequence[str]) -> dict[str, set[tuple[str, str]]]:
    config = PeerConfig(
        time_scale=float(SCALE),
        behaviours={("chain-sync", "responder"): lambda n: FaultyServer(chain, n, frozenset(faults))},
        disabled_rules=frozenset({"CS-INTERSECT-02"}),
    )
    with PeerOnThread(config) as server:
        run = run_suite(
            tmp_path / "report", "--peer", server.address, "--time-scale", SCALE, "-k", "test_chain_sync.py"
        )
    by_outcome: dict[str, set[tuple[str, str]]] = {}
    for record in run.records:
        by_outcome.setdefault(record["outcome"], set()).add((record["case"].removeprefix(CASES), record["requirement"]))
    by_outcome["returncode"] = {(str(run.returncode), "")}
    return by_outcome


def test_each_server_fault_is_caught_in_its_own_cases_with_its_id(tmp_path: Path) -> None:
    """Wrong intersections, a silent tip, a header that links elsewhere and a missing first rollback, on one
    peer: each case fails (or, for the SHOULD, is graded non-strict) on exactly the rule it exercises."""
    chain = ChainStore.synthetic(300, fault=ChainFault("link", 60))
    outcomes = faulty_run(tmp_path, chain, ["found_anything", "last_listed", "never_await", "no_rollback_first"])
    assert outcomes["returncode"] == {("1", "")}
    pipelined = {(f"test_pipelined_requests_are_answered_in_order[depth-{d}]", "CS-HEADER-02") for d in (1, 10, 100)}
    assert outcomes["failed"] == pipelined | {
        ("test_headers_form_a_chain", "CS-HEADER-02"),
        ("test_intersect_at_unknown_points_only", "CS-INTERSECT-01"),
        ("test_intersect_at_several_points_finds_the_first_on_its_chain", "CS-INTERSECT-01"),
        ("test_at_the_tip_a_request_gets_await_reply", "CS-TIME-01"),
        ("test_a_message_without_agency_closes_the_connection[done-while-awaiting]", "CS-TIME-01"),
    }, outcomes
    non_strict = outcomes["non-strict"]
    assert {requirement for _, requirement in non_strict} == {"CS-INTERSECT-02"}, outcomes
    assert {"test_intersect_at_origin", "test_intersect_at_a_known_point"} <= {case for case, _ in non_strict}
