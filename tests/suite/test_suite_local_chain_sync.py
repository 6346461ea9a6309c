"""The local chain-sync cases against the reference peer (no false alarm), against a peer whose blocks are
not `[blockTag, block]` (CS-BLOCK-01), and against one that finds no intersection, not even origin
(CS-INTERSECT-01)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from conformance.peer.chain import ChainStore
from conformance.peer.local_chain_sync import LocalChainSyncServer
from conformance.wire import Message
from conformance.wire.cbor import encode_item

from .harness import SuiteRun
from .n2c_peers import faulty_run, reference_run

pytestmark = pytest.mark.timeout(300)
MODULE = "test_local_chain_sync"
LCS = ("local-chain-sync", "responder")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return reference_run(tmp_path_factory.mktemp("local-chain-sync") / "report", MODULE)


def test_the_reference_peer_passes_every_local_chain_sync_case(reference: SuiteRun) -> None:
    assert reference.returncode == 0, reference.output
    assert reference.records and {r["outcome"] for r in reference.records} == {"passed"}, reference.records
    assert {"CS-INTERSECT-01", "CS-BLOCK-01", "CS-AWAIT-01", "CS-PIPE-01"} <= {
        r["requirement"] for r in reference.records
    }


class BlockTag99(LocalChainSyncServer):
    """A faulty server: every block it rolls forward to is `[99, [0]]`, a block tag no era has."""

    def payload_at(self, index: int) -> Any:
        return encode_item([99, [0]])


class FindsNothing(LocalChainSyncServer):
    """A faulty server: no point of any MsgFindIntersect is on its chain, not even origin."""

    def _intersect(self, points: Iterable[Any]) -> Message:
        return Message(self.protocol, "MsgIntersectNotFound", {"tip": self.chain.tip()})


def test_a_server_with_malformed_blocks_fails_cs_block_01(tmp_path: Path) -> None:
    chain = ChainStore.synthetic(50)
    replaced = {LCS: lambda negotiated: BlockTag99(chain, negotiated)}
    run = faulty_run(
        tmp_path / "report",
        f"{MODULE} and whole_blocks",
        replaced,
        chain=chain,
        disabled_rules=frozenset({"CS-BLOCK-01"}),
    )
    assert run.returncode == 1, run.output
    assert run.failed() == {"CS-BLOCK-01"}, run.records


def test_a_server_that_finds_no_intersection_fails_cs_intersect_01(tmp_path: Path) -> None:
    chain = ChainStore.synthetic(50)
    replaced = {LCS: lambda negotiated: FindsNothing(chain, negotiated)}
    run = faulty_run(tmp_path / "report", f"{MODULE} and intersect_at", replaced, chain=chain)
    assert run.returncode == 1, run.output
    assert run.failed() == {"CS-INTERSECT-01"}, run.records
    assert len({r["case"] for r in run.records if r["outcome"] == "failed"}) == 2
