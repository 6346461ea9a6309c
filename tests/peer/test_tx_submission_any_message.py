"""Both tx-submission2 sides answer any valid message, in any state, with actions: never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance import wire
from conformance.peer.agent import Finish, Negotiated, Send
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


REQUESTS = st.lists(
    st.tuples(st.booleans(), st.integers(0, 2), st.integers(0, 11), st.lists(st.integers(0, 3), max_size=4)),
    max_size=12,
)


@given(REQUESTS)
def test_outbound_under_plausible_requests(requests: list[tuple[bool, int, int, list[int]]]) -> None:
    """Requests that name the ids it announced (in any number, again, acked or not) never crash it."""
    outbound = TxSubmissionOutbound(Mempool(GOLDEN[:8]), N2N)
    outbound.start()
    announced: list[bytes] = []
    for blocking, ack, req, picks in requests:
        for action in outbound.on_message(
            wire.Message("tx-submission2", "MsgRequestTxIds", {"blocking": blocking, "ack": ack, "req": req})
        ):
            if isinstance(action, Send) and action.message.name == "MsgReplyTxIds":
                announced += [bytes(e["txid"]) for e in action.message.fields["txids"]]
        if announced:
            txids = [announced[i % len(announced)] for i in picks]
            actions = outbound.on_message(wire.Message("tx-submission2", "MsgRequestTxs", {"txids": txids}))
            assert all(isinstance(a, (Send, Finish)) for a in actions)
        assert len(outbound.unacked) <= outbound.window
