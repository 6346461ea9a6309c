"""LocalTxSubmission: the server admits into the mempool, accepts or rejects with a placeholder reason."""

from __future__ import annotations

import pytest

from conformance.peer.agent import Negotiated
from conformance.peer.local_tx_submission import LocalTxSubmissionServer, placeholder_reason, submit
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.tx_submission import TxSubmissionInbound, TxSubmissionOutbound
from conformance.vectors import load_vectors
from conformance.wire.cbor import decode_item, encode_item

from .txlocal_loop import Loop

GOLDEN = golden_transactions()
V16 = 0x8000 | 16


@pytest.mark.parametrize("version", [V16, 0x8000 | 23])
def test_accepts_new_transactions_and_rejects_duplicates(version: int) -> None:
    negotiated = Negotiated("node-to-client", version)
    mempool = Mempool(GOLDEN[:1])
    client = submit([GOLDEN[1], GOLDEN[2], GOLDEN[1], GOLDEN[0]], negotiated)
    server = LocalTxSubmissionServer(mempool, negotiated)
    loop = Loop("local-tx-submission", client, server, version).start()
    assert [r.name for r in client.replies] == ["MsgAcceptTx", "MsgAcceptTx", "MsgRejectTx", "MsgRejectTx"]
    assert [t.tx for t in mempool] == GOLDEN[:3]
    reason, _ = decode_item(bytes(client.replies[2].fields["reason"]))
    assert reason == [[mempool.get(list(mempool)[1].txid).era, ["duplicate"]]]  # type: ignore[union-attr]
    assert loop.names[-1] == "MsgDone" and loop.session.done
    assert loop.finished == {"initiator": "done", "responder": "done"}
    loop.assert_clean()


def test_over_capacity_and_unsupported_are_rejected_with_their_reason() -> None:
    byron_vote = encode_item([0, [3, [1, 2]]])
    mempool = Mempool(capacity=30)
    client = submit([GOLDEN[0], byron_vote, GOLDEN[-1]])
    loop = Loop("local-tx-submission", client, LocalTxSubmissionServer(mempool), V16).start()
    reasons = [decode_item(bytes(r.fields["reason"]))[0] if r.fields else None for r in client.replies]
    assert reasons == [[[0, ["over-capacity"]]], [[0, ["unsupported"]]], None]
    loop.assert_clean()


def test_a_golden_reject_reason_can_replace_the_placeholder() -> None:
    golden = next(v.data for v in load_vectors() if v.id == "lts-consensus-applytxerr-conway")
    server = LocalTxSubmissionServer(Mempool(GOLDEN[:1]), reject_reason=lambda tx, admission: golden)
    client = submit(GOLDEN[:1])
    loop = Loop("local-tx-submission", client, server, V16).start()
    assert bytes(client.replies[0].fields["reason"]) == golden
    loop.assert_clean()


def test_the_placeholder_is_one_well_formed_item() -> None:
    from conformance.peer.mempool import Admission, RejectReason

    item, _ = decode_item(placeholder_reason(b"", Admission(None, RejectReason.MALFORMED)))
    assert item == [[0, ["malformed"]]]


def test_submitted_transactions_are_then_offered_over_tx_submission2() -> None:
    mempool = Mempool()
    Loop("local-tx-submission", submit(GOLDEN[:4]), LocalTxSubmissionServer(mempool), V16).start()
    n2n = Negotiated("node-to-node", 14)
    receiver = TxSubmissionInbound(Mempool(), n2n)
    Loop("tx-submission2", TxSubmissionOutbound(mempool, n2n), receiver, 14).start().assert_clean()
    assert [t.tx for t in receiver.mempool] == GOLDEN[:4]
