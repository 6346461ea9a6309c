"""Local tx-submission (node-to-client 6), the tested peer as responder.

A golden Conway transaction is answered MsgAcceptTx or MsgRejectTx: a node with a ledger rejects it (its
inputs do not exist there), the reference peer admits it to its mempool once and rejects it as a
duplicate afterwards; either answer is conformant. A MsgSubmitTx whose transaction is no GenTx does not
decode, and the node closes the connection without an answer. No time limits apply to node-to-client
protocols; answers are awaited for ANSWER_WITHIN seconds (a bound, not a protocol limit).
"""

from __future__ import annotations

import pytest

from conformance.peer.connection import Connection
from conformance.peer.mempool import MalformedTx, golden_transactions, identify
from conformance.suite.case import N2C, Case
from conformance.wire import Message, codec
from conformance.wire.cbor import encode_item
from conformance.wire.mux import INITIATOR, SDU

LTX = "local-tx-submission"
ANSWER_WITHIN = 10.0
CLOSE_WITHIN = 5.0
CONWAY = 6


def golden_conway(count: int) -> list[bytes]:
    """The first `count` golden Conway GenTx whose id can be computed (real ledger transactions)."""
    found = []
    for tx in golden_transactions():
        try:
            if identify(tx).era == CONWAY:
                found.append(tx)
        except MalformedTx:
            continue
    return found[:count]


async def local(case: Case) -> Connection:
    connection = await case.connect(N2C)
    case.require(LTX)
    return connection


async def submitted(case: Case, connection: Connection, tx: bytes) -> Message:
    await connection.send(LTX, Message(LTX, "MsgSubmitTx", {"tx": tx}))
    return await case.expect(
        connection, LTX, ("MsgAcceptTx", "MsgRejectTx"), within=ANSWER_WITHIN, requirement="LTX-MSG-01"
    )


@pytest.mark.requirement("LTX-MSG-01", "LTX-AGENCY-01", "LTX-CODEC-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StBusy")
def test_a_golden_transaction_is_accepted_or_rejected(case: Case) -> None:
    async def body() -> None:
        connection = await local(case)
        await submitted(case, connection, golden_conway(1)[0])

    case.run(body)


@pytest.mark.requirement("LTX-MSG-01", "LTX-AGENCY-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StDone")
def test_several_transactions_in_turn_then_done(case: Case) -> None:
    """Three golden transactions, one answer each, then MsgDone: nothing more on local-tx-submission."""

    async def body() -> None:
        connection = await local(case)
        for tx in golden_conway(3):
            await submitted(case, connection, tx)
        await connection.send(LTX, Message(LTX, "MsgDone", {}))
        try:
            extra = await connection.receive(LTX, case.limit(1.0))
        except TimeoutError:
            return
        case.fail("LTX-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)


@pytest.mark.requirement("LTX-CODEC-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StIdle")
def test_a_transaction_that_is_no_gentx_closes_the_connection(case: Case) -> None:
    """MsgSubmitTx carrying a bare byte string where the GenTx `[era, #6.24(tx)]` belongs."""

    async def body() -> None:
        connection = await local(case)
        tx = golden_conway(1)[0]
        valid = codec(LTX).encode(Message(LTX, "MsgSubmitTx", {"tx": tx}))
        hostile = valid[: -len(tx)] + encode_item(b"\xaa\xbb")
        await connection.send_sdu(SDU(0, INITIATOR, codec(LTX).number or 6, hostile).encode())
        await case.expect_close(
            connection, within=CLOSE_WITHIN, requirement="LTX-CODEC-01", why="a MsgSubmitTx whose tx is no GenTx"
        )
        await case.probe(N2C)

    case.run(body)
