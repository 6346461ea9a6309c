"""Both tx-submission2 sides answer any valid message, in any state, with actions: never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance import wire
from conformance.peer.agent import Negotiated
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.tx_submission import TxSubmissionInbound, TxSubmissionOutbound

from .txlocal_loop import feed

GOLDEN = golden_transactions()
N2N = Negotiated("node-to-node", 14)
MESSAGES = st.lists(wire.codec("tx-submission2").strategy(14), max_size=8)


@given(MESSAGES, st.lists(st.sampled_from(["poll-1", "poll-2", "other"]), max_size=3))
def test_outbound(sent: list[wire.Message], timers: list[str]) -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN[:4]), N2N)
    feed(outbound, sent, timers)
    assert len(outbound.unacked) <= outbound.window
    assert isinstance(outbound.offer(GOLDEN[5]), list) and isinstance(outbound.stop(), list)


@given(MESSAGES)
def test_inbound(sent: list[wire.Message]) -> None:
    inbound = TxSubmissionInbound(Mempool(GOLDEN[:2]), N2N)
    feed(inbound, sent)
    assert len(inbound.unacked) <= inbound.window
