"""TxSubmission2 in both roles, run against each other on real bytes under a Session's eye."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.peer.agent import Finish, Negotiated, Send
from conformance.peer.mempool import Mempool, golden_transactions, identify
from conformance.peer.tx_submission import TxSubmissionInbound, TxSubmissionOutbound
from conformance.wire.message import Message

from .txlocal_loop import Loop

N2N = Negotiated("node-to-node", 14)
GOLDEN = golden_transactions()


def pair(sender_txs: list[bytes], **inbound: object) -> tuple[Loop, TxSubmissionOutbound, TxSubmissionInbound]:
    window = int(inbound.get("window", 10))  # type: ignore[call-overload]
    outbound = TxSubmissionOutbound(Mempool(sender_txs), N2N, window=window)
    receiver = TxSubmissionInbound(Mempool(), N2N, **inbound)  # type: ignore[arg-type]
    loop = Loop("tx-submission2", outbound, receiver, 14, window=window)
    return loop, outbound, receiver


def fields(loop: Loop, name: str) -> list[dict[str, object]]:
    return [dict(m.fields) for _, m in loop.trace if m.name == name]


def test_empty_mempool_nonblocking_request_is_answered_at_once_with_an_empty_list() -> None:
    loop, outbound, receiver = pair([])
    loop.start()
    assert loop.names == ["MsgInit", "MsgRequestTxIds"]
    assert fields(loop, "MsgRequestTxIds")[0] == {"blocking": True, "ack": 0, "req": 3}
    assert outbound.held == 3 and loop.timers["initiator"], "a blocking request is held, polling the mempool"
    loop.act("initiator", outbound.offer(GOLDEN[1]))
    # one id announced; the inbound side asks for more without blocking; nothing new: an empty reply at once
    assert loop.names[2:6] == ["MsgReplyTxIds", "MsgRequestTxIds", "MsgReplyTxIds", "MsgRequestTxs"]
    assert fields(loop, "MsgRequestTxIds")[1] == {"blocking": False, "ack": 0, "req": 3}
    assert list(fields(loop, "MsgReplyTxIds")[1]["txids"]) == []  # type: ignore[call-overload]
    assert [t.tx for t in receiver.mempool] == [GOLDEN[1]]
    assert fields(loop, "MsgRequestTxIds")[-1] == {"blocking": True, "ack": 1, "req": 3}
    loop.assert_clean()


def test_a_held_blocking_request_is_released_by_a_poll_of_the_shared_mempool() -> None:
    loop, outbound, receiver = pair([])
    loop.start()
    loop.fire("initiator")  # nothing yet: it asks to be woken again
    assert outbound.held == 3 and len(loop.timers["initiator"]) == 1
    outbound.mempool.add(GOLDEN[2])  # e.g. from local-tx-submission
    loop.fire("initiator")
    assert [t.tx for t in receiver.mempool] == [GOLDEN[2]]
    assert outbound.on_timer("poll-1") == []  # a stale timer does nothing
    loop.assert_clean()


@pytest.mark.parametrize(("window", "max_ids", "max_txs"), [(10, 3, 2), (4, 5, 1), (1, 1, 1), (10, 10, 10), (20, 7, 3)])
def test_every_transaction_crosses_within_the_window(window: int, max_ids: int, max_txs: int) -> None:
    loop, outbound, receiver = pair(GOLDEN, window=window, max_ids=max_ids, max_txs=max_txs)
    loop.start()
    assert [t.txid for t in receiver.mempool] == [t.txid for t in outbound.mempool]
    outstanding, peak = 0, 0
    for _sender, message in loop.trace:
        if message.name == "MsgRequestTxIds":
            outstanding -= message.fields["ack"]
            assert outstanding >= 0 and outstanding + message.fields["req"] <= window
            assert message.fields["req"] <= max_ids
            assert message.fields["blocking"] == (outstanding == 0)
        elif message.name == "MsgReplyTxIds":
            outstanding += len(message.fields["txids"])
            peak = max(peak, outstanding)
        elif message.name == "MsgRequestTxs":
            assert 1 <= len(message.fields["txids"]) <= max_txs
    assert peak == min(window, len(GOLDEN))
    assert loop.names[-1] == "MsgRequestTxIds" and outbound.held is not None
    loop.act("initiator", outbound.stop())
    assert loop.names[-1] == "MsgDone" and loop.session.done
    assert loop.finished == {"initiator": "done", "responder": "done"}
    loop.assert_clean()


def test_sizes_announced_are_the_sizes_sent() -> None:
    loop, outbound, _ = pair(GOLDEN[:5])
    loop.start()
    announced = [e["size"] for f in fields(loop, "MsgReplyTxIds") for e in f["txids"]]  # type: ignore[attr-defined]
    assert announced == [t.size for t in outbound.mempool]
    loop.assert_clean()


def test_stop_before_a_blocking_request_answers_it_with_done() -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN), N2N)
    stopped = outbound.stop()
    assert stopped == []
    loop = Loop("tx-submission2", outbound, TxSubmissionInbound(Mempool(), N2N), 14).start()
    assert loop.names == ["MsgInit", "MsgRequestTxIds", "MsgDone"]
    assert loop.session.done
    loop.assert_clean()


def test_a_transaction_the_sender_dropped_is_left_out_and_acknowledged() -> None:
    loop, outbound, receiver = pair(GOLDEN[:3], max_ids=3)
    loop.take("initiator", outbound.start())
    loop.pump(limit=4)
    assert loop.names == ["MsgInit", "MsgRequestTxIds", "MsgReplyTxIds", "MsgRequestTxIds"]
    # after the first announcement, before the bodies are asked for, the sender drops one
    first = outbound.mempool.after(0, 1)[0]
    assert outbound.mempool.remove(first.txid)
    loop.pump()
    assert first.txid not in receiver.mempool
    assert len(receiver.mempool) == 2
    loop.assert_clean()


def test_ids_the_receiver_already_holds_are_not_requested() -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN[:4]), N2N)
    receiver = TxSubmissionInbound(Mempool(GOLDEN[:2]), N2N)
    loop = Loop("tx-submission2", outbound, receiver, 14).start()
    requested = [t for f in fields(loop, "MsgRequestTxs") for t in f["txids"]]  # type: ignore[attr-defined]
    assert [bytes(t) for t in requested] == [t.txid for t in list(outbound.mempool)[2:]]
    assert len(receiver.mempool) == 4
    loop.assert_clean()


@pytest.mark.parametrize(
    ("fault", "requirement"),
    [
        ("ack_too_many", "TX-ACK-01"),
        ("over_window", "TX-WINDOW-01"),
        ("blocking_with_unacked", "TX-BLOCK-01"),
        ("nonblocking_when_idle", "TX-BLOCK-02"),
        ("request_unannounced", "TX-REQTX-01"),
    ],
)
def test_each_fault_switch_breaks_its_rule(fault: str, requirement: str) -> None:
    loop, outbound, _ = pair(GOLDEN, **{fault: True})
    loop.start()
    assert loop.requirements == [requirement]
    reason = loop.finished["initiator"]
    assert reason is not None and reason.startswith("ProtocolError"), reason


def test_the_outbound_side_refuses_what_the_node_refuses() -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN[:2]), N2N)
    outbound.start()

    def request(**f: object) -> list[object]:
        fresh = TxSubmissionOutbound(Mempool(GOLDEN[:2]), N2N)
        return list(fresh.on_message(Message("tx-submission2", "MsgRequestTxIds", dict(f))))

    assert request(blocking=True, ack=0, req=0) == [Finish("ProtocolErrorRequestedNothing")]
    assert request(blocking=False, ack=0, req=0) == [Finish("ProtocolErrorRequestedNothing")]
    assert request(blocking=False, ack=0, req=1) == [Finish("ProtocolErrorRequestNonBlocking")]
    assert request(blocking=True, ack=1, req=1) == [Finish("ProtocolErrorAckedTooManyTxids")]
    assert request(blocking=True, ack=0, req=11) == [Finish("ProtocolErrorRequestedTooManyTxids 11 10")]
    unrequested = Message("tx-submission2", "MsgRequestTxs", {"txids": [GOLDEN[0][:2]]})
    assert outbound.on_message(unrequested) == [Finish("ProtocolErrorRequestedUnavailableTx")]
    assert outbound.on_message(unrequested) == []  # finished: nothing more


def test_offer_announces_in_arrival_order() -> None:
    outbound = TxSubmissionOutbound(Mempool(), N2N)
    loop = Loop("tx-submission2", outbound, TxSubmissionInbound(Mempool(), N2N, max_ids=5), 14).start()
    for tx in GOLDEN[:6]:
        loop.act("initiator", outbound.offer(tx))
    assert [t.tx for t in loop.sides["responder"].mempool] == GOLDEN[:6]
    assert all(isinstance(a, Send) for a in outbound.offer(GOLDEN[0])) and outbound.offer(GOLDEN[0]) == []
    loop.assert_clean()


@pytest.mark.parametrize(
    ("fault", "requirement", "error"),
    [
        ("reply_too_many", "TX-REPLY-02", "ProtocolErrorTxIdsNotRequested"),
        ("send_unrequested", "TX-REPLYTX-01", "ProtocolErrorTxNotRequested"),
    ],
)
def test_each_outbound_fault_switch_breaks_its_rule(fault: str, requirement: str, error: str) -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN), N2N, **{fault: True})  # type: ignore[arg-type]
    loop = Loop("tx-submission2", outbound, TxSubmissionInbound(Mempool(), N2N), 14).start()
    assert loop.requirements == [requirement]
    assert loop.finished["responder"] == error


def test_a_wrong_announced_size_is_a_warning() -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN[3:6]), N2N, wrong_size=True)
    loop = Loop("tx-submission2", outbound, TxSubmissionInbound(Mempool(), N2N), 14).start()
    assert loop.session.violations == []
    assert [w.requirement for w in loop.session.warnings] == ["TX-SIZE-01"]
    assert len(loop.sides["responder"].mempool) == 3


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("offer"), st.integers(0, len(GOLDEN) - 1)),
        st.tuples(st.just("add"), st.integers(0, len(GOLDEN) - 1)),
        st.tuples(st.just("remove"), st.integers(0, len(GOLDEN) - 1)),
        st.tuples(st.just("poll"), st.just(0)),
    ),
    max_size=30,
)


@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 5), OPERATIONS)
def test_any_interleaving_of_arrivals_keeps_the_session_clean(
    window: int, max_ids: int, max_txs: int, operations: list[tuple[str, int]]
) -> None:
    outbound = TxSubmissionOutbound(Mempool(), N2N, window=window)
    receiver = TxSubmissionInbound(Mempool(), N2N, window=window, max_ids=max_ids, max_txs=max_txs)
    loop = Loop("tx-submission2", outbound, receiver, 14, window=window).start()
    for operation, index in operations:
        if operation == "offer":
            loop.act("initiator", outbound.offer(GOLDEN[index]))
        elif operation == "add":
            outbound.mempool.add(GOLDEN[index])
        elif operation == "remove":
            outbound.mempool.remove(identify(GOLDEN[index]).txid)
        elif loop.timers["initiator"]:
            loop.fire("initiator")
    while loop.timers["initiator"] and outbound.mempool.after(outbound.last_ticket):
        loop.fire("initiator")
    loop.assert_clean()
    # everything still in the sender's mempool has crossed; nothing crossed that was never there
    assert {t.key for t in outbound.mempool} <= {t.key for t in receiver.mempool}
    assert {t.key for t in receiver.mempool} <= {identify(tx).key for tx in GOLDEN}
    loop.act("initiator", outbound.stop())
    assert loop.session.done


def test_an_id_named_twice_in_one_request_is_answered_twice_then_is_unavailable() -> None:
    outbound = TxSubmissionOutbound(Mempool(GOLDEN[:2]), N2N)
    outbound.start()
    (reply,) = outbound.on_message(Message("tx-submission2", "MsgRequestTxIds", {"blocking": True, "ack": 0, "req": 2}))
    first = reply.message.fields["txids"][0]["txid"]  # type: ignore[union-attr]
    (answer,) = outbound.on_message(Message("tx-submission2", "MsgRequestTxs", {"txids": [first, first]}))
    assert answer.message.fields["txs"] == [GOLDEN[0], GOLDEN[0]]  # type: ignore[union-attr]
    again = outbound.on_message(Message("tx-submission2", "MsgRequestTxs", {"txids": [first]}))
    assert again == [Finish("ProtocolErrorRequestedUnavailableTx")]
