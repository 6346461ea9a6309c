"""The block-fetch cases against the reference peer (no false alarm) and against block-fetch servers that are
wrong in known ways (caught, each in its own cases, with exactly its rule's id)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.peer.agent import Action, Send
from conformance.peer.block_fetch import BlockFetchServer
from conformance.peer.chain import ChainFault, ChainStore
from conformance.peer.chain_roles import serve_chain
from conformance.peer.node import PeerConfig
from conformance.wire import Message

from .harness import PeerOnThread, reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)
SCALE = "0.05"
CASES = "test_block_fetch.py::"


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with reference_peer("--port", "0", "--time-scale", SCALE, "--chain-length", "300") as where:
        yield f"{where['host']}:{where['port']}"


def test_the_reference_peer_passes_every_block_fetch_case(peer: str, tmp_path: Path) -> None:
    run = run_suite(tmp_path / "report", "--peer", peer, "--time-scale", SCALE, "-k", "test_block_fetch.py")
    assert run.returncode == 0, run.output
    assert run.records and {r["outcome"] for r in run.records} == {"passed"}, run.records
    assert {r["requirement"] for r in run.records} == {
        "BF-RANGE-02", "BF-RANGE-03", "BF-ORDER-01", "BF-BATCH-01", "BF-TIME-01", "MUX-SDU-03"
    }  # fmt: skip


class FaultyServer(BlockFetchServer):
    """A block-fetch server with fault switches, each breaking one rule:

    - skip_last: every batch leaves out the block at its last point (BF-RANGE-03);
    - empty_batch: a range it does not have gets an empty batch instead of MsgNoBlocks (BF-RANGE-03).
    """

    def __init__(self, chain: ChainStore, faults: frozenset[str]) -> None:
        super().__init__(chain)
        self.faults = faults

    def on_message(self, message: Message) -> list[Action]:
        actions = list(super().on_message(message))
        names = [a.message.name for a in actions if isinstance(a, Send)]
        if "skip_last" in self.faults and "MsgBatchDone" in names:
            del actions[names.index("MsgBatchDone") - 1]
        if "empty_batch" in self.faults and names == ["MsgNoBlocks"]:
            actions = [Send(Message(self.protocol, "MsgStartBatch")), Send(Message(self.protocol, "MsgBatchDone"))]
        return actions


def failed_cases(tmp_path: Path, chain: ChainStore, faults: frozenset[str]) -> tuple[int, set[tuple[str, str]]]:
    behaviours = dict(serve_chain(chain))
    behaviours[("block-fetch", "responder")] = lambda n: FaultyServer(chain, faults)
    config = PeerConfig(time_scale=float(SCALE), behaviours=behaviours, disabled_rules=frozenset({"BF-RANGE-03"}))
    with PeerOnThread(config) as server:
        run = run_suite(
            tmp_path / "report", "--peer", server.address, "--time-scale", SCALE, "-k", "test_block_fetch.py"
        )
    failed = {(r["case"].removeprefix(CASES), r["requirement"]) for r in run.records if r["outcome"] == "failed"}
    return run.returncode, failed


def test_incomplete_batches_and_empty_batches_fail_bf_range_03(tmp_path: Path) -> None:
    returncode, failed = failed_cases(tmp_path, ChainStore.synthetic(300), frozenset({"skip_last", "empty_batch"}))
    assert returncode == 1
    assert failed == {
        ("test_a_range_streams_every_block_of_it", "BF-RANGE-03"),
        ("test_a_single_block", "BF-RANGE-03"),
        ("test_an_unknown_range_gets_no_blocks[both-ends-unknown]", "BF-RANGE-03"),
        ("test_an_unknown_range_gets_no_blocks[upper-end-unknown]", "BF-RANGE-03"),
        ("test_blocks_match_the_chain_sync_headers", "BF-RANGE-03"),
    }


def test_a_block_whose_body_does_not_match_its_header_fails_bf_range_02(tmp_path: Path) -> None:
    returncode, failed = failed_cases(tmp_path, ChainStore.synthetic(300, fault=ChainFault("body", 40)), frozenset())
    assert returncode == 1
    assert failed == {("test_blocks_match_the_chain_sync_headers", "BF-RANGE-02")}
