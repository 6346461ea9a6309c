"""The node-to-client behaviours answer any valid message, in any state, with actions: never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance import wire
from conformance.peer.agent import Negotiated
from conformance.peer.local_client import ScriptedClient
from conformance.peer.local_state_query import LocalStateQueryServer
from conformance.peer.local_tx_monitor import LocalTxMonitorServer
from conformance.peer.local_tx_submission import LocalTxSubmissionServer
from conformance.peer.mempool import Mempool, golden_transactions

from .test_local_state_query_peer import CHAIN
from .txlocal_loop import feed

GOLDEN = golden_transactions()
VERSIONS = st.sampled_from([0x8000 | v for v in range(16, 24)])


def messages(protocol: str, version: int) -> st.SearchStrategy[list[wire.Message]]:
    return st.lists(wire.codec(protocol).strategy(version), max_size=8)


@given(VERSIONS.flatmap(lambda v: st.tuples(st.just(v), messages("local-tx-submission", v))))
def test_local_tx_submission_server(case: tuple[int, list[wire.Message]]) -> None:
    version, sent = case
    mempool = Mempool(GOLDEN[:2])
    feed(LocalTxSubmissionServer(mempool, Negotiated("node-to-client", version)), sent)
    assert mempool.size <= mempool.capacity


@given(VERSIONS.flatmap(lambda v: st.tuples(st.just(v), messages("local-state-query", v))))
def test_local_state_query_server(case: tuple[int, list[wire.Message]]) -> None:
    version, sent = case
    feed(LocalStateQueryServer(CHAIN, Negotiated("node-to-client", version)), sent)


@given(VERSIONS.flatmap(lambda v: st.tuples(st.just(v), messages("local-tx-monitor", v))))
def test_local_tx_monitor_server(case: tuple[int, list[wire.Message]]) -> None:
    version, sent = case
    feed(LocalTxMonitorServer(Mempool(GOLDEN[:3]), Negotiated("node-to-client", version)), sent, ["poll-1", "x"])


@given(
    st.sampled_from(["local-tx-submission", "local-state-query", "local-tx-monitor"]).flatmap(
        lambda p: st.tuples(st.just(p), messages(p, 0x8000 | 20), messages(p, 0x8000 | 20))
    )
)
def test_scripted_client(case: tuple[str, list[wire.Message], list[wire.Message]]) -> None:
    protocol, script, replies = case
    feed(ScriptedClient(protocol, script), replies)
