"""Local state query (node-to-client 7), the tested peer as responder: acquire and release, failures,
re-acquire, and the era-independent queries.

The era-independent queries (`Ouroboros.Consensus.Ledger.Query`): `[1]` GetSystemStart, `[2]`
GetChainBlockNo, `[3]` GetChainPoint; anything under `[0, ...]` needs the peer's ledger and is left out.
A point with a slot far past any tip is not on the chain: MsgFailure PointNotOnChain (1). No time limits
apply; answers are awaited for ANSWER_WITHIN seconds (a bound, not a protocol limit).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.peer.connection import Connection
from conformance.peer.txwire import IMMUTABLE_TIP_SINCE, plain_version
from conformance.suite.case import N2C, Case
from conformance.wire import Message
from conformance.wire.cbor import encode_item

LSQ, LCS = "local-state-query", "local-chain-sync"
ANSWER_WITHIN = 10.0
POINT_NOT_ON_CHAIN = 1
UNKNOWN_POINT = {"slot": 2**62, "hash": b"\xee" * 32}
QUERIES = {"system-start": [1], "chain-block-no": [2], "chain-point": [3]}


def message(name: str, **fields: Any) -> Message:
    return Message(LSQ, name, fields)


async def local(case: Case) -> Connection:
    connection = await case.connect(N2C)
    case.require(LSQ)
    return connection


async def acquire(case: Case, connection: Connection, request: Message, *, requirement: str) -> Message:
    await connection.send(LSQ, request)
    return await case.expect(
        connection, LSQ, ("MsgAcquired", "MsgFailure"), within=ANSWER_WITHIN, requirement=requirement
    )


async def acquired(case: Case, connection: Connection, request: Message) -> None:
    reply = await acquire(case, connection, request, requirement="LSQ-MSG-01")
    if reply.name != "MsgAcquired":
        case.fail("LSQ-MSG-01", f"{request.name} {request.fields or ''} failed: {reply.fields}")


async def query(case: Case, connection: Connection, item: list[int]) -> Message:
    await connection.send(LSQ, message("MsgQuery", query=encode_item(item)))
    return await case.expect(connection, LSQ, "MsgResult", within=ANSWER_WITHIN, requirement="LSQ-MSG-01")


@pytest.mark.requirement("LSQ-MSG-01", "LSQ-AGENCY-01", "LSQ-CODEC-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StAcquiring")
def test_acquire_the_volatile_tip_release_and_done(case: Case) -> None:
    async def body() -> None:
        connection = await local(case)
        await acquired(case, connection, message("MsgAcquireVolatileTip"))
        await connection.send(LSQ, message("MsgRelease"))
        await acquired(case, connection, message("MsgAcquireVolatileTip"))
        await connection.send(LSQ, message("MsgRelease"))
        await connection.send(LSQ, message("MsgDone"))
        try:
            extra = await connection.receive(LSQ, case.limit(1.0))
        except TimeoutError:
            return
        case.fail("LSQ-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)


@pytest.mark.requirement("LSQ-FAILURE-01", "LSQ-MSG-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StAcquiring")
def test_acquiring_a_point_not_on_the_chain_fails(case: Case) -> None:
    """MsgAcquire of a point past the tip: MsgFailure PointNotOnChain, and StIdle again after it."""

    async def body() -> None:
        connection = await local(case)
        reply = await acquire(case, connection, message("MsgAcquire", point=UNKNOWN_POINT), requirement="LSQ-MSG-01")
        if reply.name != "MsgFailure":
            case.fail("LSQ-MSG-01", "a point past the tip was acquired")
        failure = reply.fields["failure"]
        case.check("LSQ-FAILURE-01", failure == POINT_NOT_ON_CHAIN, f"failure {failure}, not PointNotOnChain (1)")
        await acquired(case, connection, message("MsgAcquireVolatileTip"))

    case.run(body)


@pytest.mark.requirement("LSQ-MSG-01", "LSQ-CODEC-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StAcquiring")
def test_acquire_a_known_point(case: Case) -> None:
    """The tip that local chain-sync announces is a point the state can be acquired at."""

    async def body() -> None:
        connection = await local(case)
        case.require(LCS)
        await connection.send(LCS, Message(LCS, "MsgFindIntersect", {"points": [None]}))
        found = await case.expect(
            connection,
            LCS,
            ("MsgIntersectFound", "MsgIntersectNotFound"),
            within=ANSWER_WITHIN,
            requirement="CS-INTERSECT-01",
        )
        tip = found.fields["tip"]["point"]
        if tip is None:
            case.unsupported("the peer's chain is empty: no point to acquire")
        await acquired(case, connection, message("MsgAcquire", point=tip))
        await query(case, connection, QUERIES["chain-point"])

    case.run(body)


@pytest.mark.requirement("LSQ-MSG-01", "LSQ-FAILURE-01", "LSQ-VERSION-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StAcquired")
def test_re_acquire(case: Case) -> None:
    """Re-acquire the volatile tip, then a point not on the chain (failure: StIdle), then acquire again."""

    async def body() -> None:
        connection = await local(case)
        await acquired(case, connection, message("MsgAcquireVolatileTip"))
        await acquired(case, connection, message("MsgReAcquireVolatileTip"))
        reply = await acquire(case, connection, message("MsgReAcquire", point=UNKNOWN_POINT), requirement="LSQ-MSG-01")
        case.check("LSQ-MSG-01", reply.name == "MsgFailure", "a point past the tip was re-acquired")
        if reply.name == "MsgAcquired":
            await connection.send(LSQ, message("MsgRelease"))
        negotiated = connection.negotiated
        version = plain_version(negotiated.version) if negotiated is not None else None
        if version is not None and version >= IMMUTABLE_TIP_SINCE:
            await acquired(case, connection, message("MsgAcquireImmutableTip"))
            await acquired(case, connection, message("MsgReAcquireImmutableTip"))
        else:
            await acquired(case, connection, message("MsgAcquireVolatileTip"))

    case.run(body)


@pytest.mark.requirement("LSQ-MSG-01", "LSQ-CODEC-01", "LSQ-AGENCY-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StQuerying")
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_an_era_independent_query_is_answered(case: Case, name: str) -> None:
    async def body() -> None:
        connection = await local(case)
        await acquired(case, connection, message("MsgAcquireVolatileTip"))
        await query(case, connection, QUERIES[name])
        await query(case, connection, QUERIES[name])  # StAcquired again: the same state answers twice
        await connection.send(LSQ, message("MsgRelease"))

    case.run(body)
