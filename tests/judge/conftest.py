"""Captures made once per test session by the reference peer (real loopback TCP), shared by the tests
that judge them as they are or rewrite them."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer import local_tx_submission
from conformance.peer.chain import ChainStore
from conformance.peer.chain_roles import follow_chain
from conformance.peer.defaults import default_behaviours
from conformance.peer.local_client import ScriptedClient
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.wire.message import Message

from .captures import keep_alive_capture, peer_pair, run

N2N, N2C = "node-to-node", "node-to-client"
GOLDEN = golden_transactions()


@pytest.fixture(scope="session")
def duplex_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Both default node stacks on one duplex connection: every node-to-node mini-protocol in both
    roles (chain-sync with 10 requests in flight, block-fetch, tx-submission2 both ways, keep-alive and
    peer-sharing both ways)."""
    directory = tmp_path_factory.mktemp("duplex")
    served = default_behaviours(
        N2N, "responder", chain=ChainStore.synthetic(300), mempool=Mempool(), keep_alive_interval=0.05
    )
    following = default_behaviours(
        N2N, "initiator", chain=ChainStore.synthetic(20), mempool=Mempool(GOLDEN), headers=300, depth=10
    )
    keys = [("chain-sync", "initiator"), ("block-fetch", "initiator"), ("peer-sharing", "initiator")]
    return run(
        peer_pair(
            directory,
            served,
            following,
            lambda c: all(k in c.finished for k in keys) and c.behaviours[("keep-alive", "initiator")].answers >= 1,
            server={"peer_sharing": 1},
            peer_sharing=1,
        )
    )


def _scripted(protocol: str, names: list[tuple[str, dict[str, object]]]) -> dict[tuple[str, str], object]:
    requests = [Message(protocol, name, fields) for name, fields in names]
    return {(protocol, "initiator"): lambda n: ScriptedClient(protocol, requests, n)}


@pytest.fixture(scope="session")
def n2c_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Every node-to-client mini-protocol on one connection over TCP."""
    directory = tmp_path_factory.mktemp("n2c")
    served = default_behaviours(N2C, "responder", chain=ChainStore.synthetic(60), mempool=Mempool(GOLDEN[:2]))
    following = {
        **_scripted(
            "local-state-query",
            [("MsgAcquireVolatileTip", {}), ("MsgQuery", {"query": b"\x81\x02"}), ("MsgRelease", {})],
        ),
        **_scripted("local-tx-monitor", [("MsgAcquire", {}), ("MsgGetSizes", {}), ("MsgRelease", {})]),
        ("local-tx-submission", "initiator"): lambda n: local_tx_submission.submit(GOLDEN[2:4], n),
        ("local-chain-sync", "initiator"): follow_chain(headers=60, depth=5)[("local-chain-sync", "initiator")],
    }
    return run(
        peer_pair(
            directory,
            served,
            following,
            lambda c: all(k in c.finished for k in following),
            server={"mode": N2C},
            mode=N2C,
        )
    )


@pytest.fixture(scope="session")
def keep_alive_pcaps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keep_alive_capture(tmp_path_factory.mktemp("keep-alive"))
