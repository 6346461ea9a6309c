"""Local tx monitor (node-to-client 9), the tested peer as responder: acquire a mempool snapshot, walk its
transactions, ask about them, size the mempool, release.

A golden transaction is submitted first (local tx-submission on the same connection) so that the
snapshot has something in it where the peer admits it; the walk is bounded by the count MsgReplyGetSizes
gives. Our Session checks that no transaction comes twice for one snapshot (LTM-NEXT-01), the sizes are
word32 (LTM-SIZES-01) and the slot a word64 (LTM-ACQUIRED-01). No time limits apply; answers are awaited
for ANSWER_WITHIN seconds (a bound, not a protocol limit).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.peer.connection import Connection
from conformance.peer.mempool import MalformedTx, golden_transactions, identify
from conformance.peer.txwire import MEASURES_SINCE, plain_version
from conformance.suite.case import N2C, Case
from conformance.wire import Message

LTM, LTX = "local-tx-monitor", "local-tx-submission"
ANSWER_WITHIN = 10.0
UNKNOWN_TXID = bytes.fromhex("8206" + "5820" + "ee" * 32)  # [6, 32-byte id]: an id no mempool holds
MORE_THAN_REPORTED = 5
"""How many MsgNextTx beyond the reported count a walk may take (the mempool may change meanwhile; the
snapshot does not, but a generous bound costs nothing)."""


def message(name: str, **fields: Any) -> Message:
    return Message(LTM, name, fields)


async def ask(case: Case, connection: Connection, request: Message, answer: str, requirement: str) -> Message:
    await connection.send(LTM, request)
    return await case.expect(connection, LTM, answer, within=ANSWER_WITHIN, requirement=requirement)


async def acquired(case: Case) -> Connection:
    """A connection with a golden transaction offered to the mempool and a snapshot acquired."""
    connection = await case.connect(N2C)
    case.require(LTM)
    if case.target.profile.offers(LTX):
        tx = next(t for t in golden_transactions() if _identifies(t))
        await connection.send(LTX, Message(LTX, "MsgSubmitTx", {"tx": tx}))
        await case.expect(
            connection, LTX, ("MsgAcceptTx", "MsgRejectTx"), within=ANSWER_WITHIN, requirement="LTX-MSG-01"
        )
    await ask(case, connection, message("MsgAcquire"), "MsgAcquired", "LTM-ACQUIRED-01")
    return connection


def _identifies(tx: bytes) -> bool:
    try:
        identify(tx)
    except MalformedTx:
        return False
    return True


async def next_tx(case: Case, connection: Connection) -> bytes | None:
    reply = await ask(case, connection, message("MsgNextTx"), "MsgReplyNextTx", "LTM-MSG-01")
    tx = reply.fields.get("tx")
    return None if tx is None else bytes(tx)


async def size_count(case: Case, connection: Connection) -> int:
    sizes = await ask(case, connection, message("MsgGetSizes"), "MsgReplyGetSizes", "LTM-SIZES-01")
    return int(sizes.fields["sizes"]["count"])


async def walk(case: Case, connection: Connection, count: int) -> list[bytes]:
    """MsgNextTx until the snapshot has none left (or `count` + MORE_THAN_REPORTED answers)."""
    txs: list[bytes] = []
    for _ in range(count + MORE_THAN_REPORTED):
        tx = await next_tx(case, connection)
        if tx is None:
            return txs
        txs.append(tx)
    case.fail("LTM-NEXT-01", f"{len(txs)} transactions handed out for a snapshot of {count}")


@pytest.mark.requirement("LTM-ACQUIRED-01", "LTM-NEXT-01", "LTM-SIZES-01", "LTM-MSG-01", "LTM-AGENCY-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StBusyNextTx")
def test_next_tx_until_none_then_release_and_done(case: Case) -> None:
    async def body() -> None:
        connection = await acquired(case)
        count = await size_count(case, connection)
        txs = await walk(case, connection, count)
        if len(txs) != count:
            case.note("LTM-NEXT-01", f"{len(txs)} transactions handed out; MsgReplyGetSizes counted {count}")
        await connection.send(LTM, message("MsgRelease"))
        await connection.send(LTM, message("MsgDone"))
        try:
            extra = await connection.receive(LTM, case.limit(1.0))
        except TimeoutError:
            return
        case.fail("LTM-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)


@pytest.mark.requirement("LTM-MSG-01", "LTM-CODEC-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StBusyHasTx")
def test_has_tx_for_a_handed_out_and_an_unknown_id(case: Case) -> None:
    async def body() -> None:
        connection = await acquired(case)
        tx = await next_tx(case, connection)
        if tx is not None:
            txid = identify(tx).txid
            known = await ask(case, connection, message("MsgHasTx", txid=txid), "MsgReplyHasTx", "LTM-MSG-01")
            if known.fields["has"] is not True:
                case.note("LTM-MSG-01", "MsgHasTx of a transaction of the snapshot was answered false")
        unknown = await ask(case, connection, message("MsgHasTx", txid=UNKNOWN_TXID), "MsgReplyHasTx", "LTM-MSG-01")
        if unknown.fields["has"] is not False:
            case.note("LTM-MSG-01", "MsgHasTx of an id no mempool holds was answered true")

    case.run(body)


@pytest.mark.requirement("LTM-SIZES-01", "LTM-VERSION-01", "LTM-MSG-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StBusyGetSizes")
def test_sizes_and_measures(case: Case) -> None:
    """MsgGetSizes (every version) and MsgGetMeasures (node-to-client v20 and later), twice each."""

    async def body() -> None:
        connection = await acquired(case)
        for _ in range(2):
            await ask(case, connection, message("MsgGetSizes"), "MsgReplyGetSizes", "LTM-SIZES-01")
        negotiated = connection.negotiated
        version = plain_version(negotiated.version) if negotiated is not None else None
        if version is not None and version >= MEASURES_SINCE:
            for _ in range(2):
                await ask(case, connection, message("MsgGetMeasures"), "MsgReplyGetMeasures", "LTM-MSG-01")

    case.run(body)


@pytest.mark.requirement("LTM-ACQUIRED-01", "LTM-NEXT-01", "LTM-CODEC-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StAcquiring")
def test_release_and_acquire_again_hands_out_the_transactions_again(case: Case) -> None:
    """A new snapshot is a new walk: transactions handed out before come again (no LTM-NEXT-01 across
    snapshots), and none twice within one."""

    async def body() -> None:
        connection = await acquired(case)
        first = await walk(case, connection, await size_count(case, connection))
        await connection.send(LTM, message("MsgRelease"))
        await ask(case, connection, message("MsgAcquire"), "MsgAcquired", "LTM-ACQUIRED-01")
        second = await walk(case, connection, await size_count(case, connection))
        if first and not second:
            case.note("LTM-NEXT-01", "a new snapshot handed out none of the transactions of the previous one")

    case.run(body)
