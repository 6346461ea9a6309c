"""Local chain-sync (node-to-client 5), the tested peer as responder: intersections, following whole
blocks, and reaching the tip.

MsgRollForward carries a whole block here, `#6.24([blockTag, block])`, which our Session checks
(CS-BLOCK-01). Node-to-client protocols have no time limits; answers are awaited for ANSWER_WITHIN seconds
(a bound, not a protocol limit). The chain the peer serves is learnt from the tips of its answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.peer.connection import Connection
from conformance.suite.case import N2C, Case
from conformance.wire import Message

LCS = "local-chain-sync"
ANSWER_WITHIN = 10.0
BLOCKS = 10
UNKNOWN = [{"slot": 2**62 + i, "hash": bytes([0xEE - i]) * 32} for i in range(2)]
"""Points no chain has: slots far in the future, made-up hashes."""


async def local(case: Case) -> Connection:
    connection = await case.connect(N2C)
    case.require(LCS)
    return connection


async def intersect(case: Case, connection: Connection, points: list[Any], *, requirement: str) -> Message:
    await connection.send(LCS, Message(LCS, "MsgFindIntersect", {"points": points}))
    return await case.expect(
        connection, LCS, ("MsgIntersectFound", "MsgIntersectNotFound"), within=ANSWER_WITHIN, requirement=requirement
    )


async def next_message(case: Case, connection: Connection, *, requirement: str) -> Message:
    await connection.send(LCS, Message(LCS, "MsgRequestNext", {}))
    return await case.expect(
        connection,
        LCS,
        ("MsgRollForward", "MsgRollBackward", "MsgAwaitReply"),
        within=ANSWER_WITHIN,
        requirement=requirement,
    )


def same_point(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return int(a["slot"]) == int(b["slot"]) and bytes(a["hash"]) == bytes(b["hash"])


@pytest.mark.requirement("CS-INTERSECT-01", "CS-INTERSECT-02", "CS-TIP-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StIntersect")
def test_intersect_at_origin(case: Case) -> None:
    """Every chain starts at origin: found, and the next answer rolls back to it."""

    async def body() -> None:
        connection = await local(case)
        found = await intersect(case, connection, [None], requirement="CS-INTERSECT-01")
        if found.name != "MsgIntersectFound":
            case.fail("CS-INTERSECT-01", "an intersection at origin was not found")
        back = await next_message(case, connection, requirement="CS-INTERSECT-02")
        case.check(
            "CS-INTERSECT-02",
            back.name == "MsgRollBackward" and back.fields["point"] is None,
            f"after the intersection at origin the server sent {back.name} {back.fields.get('point')}",
        )

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-TIP-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StIntersect")
def test_intersect_at_a_known_point_after_unknown_ones(case: Case) -> None:
    """Unknown points, then the peer's tip, then origin: the first point on its chain is the tip."""

    async def body() -> None:
        connection = await local(case)
        first = await intersect(case, connection, [None], requirement="CS-INTERSECT-01")
        tip = first.fields["tip"]["point"]
        found = await intersect(case, connection, [*UNKNOWN, tip, None], requirement="CS-INTERSECT-01")
        if found.name != "MsgIntersectFound":
            case.fail("CS-INTERSECT-01", f"the peer's own tip {tip} was not found")
        # the tip may have moved on between the two requests; origin is always on the chain
        case.check(
            "CS-INTERSECT-01",
            same_point(found.fields["point"], tip) or found.fields["point"] is None,
            f"found {found.fields['point']}; the first known point listed was {tip}",
        )

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-TIP-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StIntersect")
def test_only_unknown_points_are_not_found(case: Case) -> None:
    async def body() -> None:
        connection = await local(case)
        reply = await intersect(case, connection, UNKNOWN, requirement="CS-INTERSECT-01")
        case.check("CS-INTERSECT-01", reply.name == "MsgIntersectNotFound", f"unknown points answered {reply.name}")

    case.run(body)


@pytest.mark.requirement("CS-BLOCK-01", "CS-PIPE-01", "CS-TIP-01", "CS-AGENCY-01", "CS-INTERSECT-02")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StCanAwait")
def test_follow_whole_blocks_from_origin_pipelined(case: Case) -> None:
    """MsgFindIntersect at origin and BLOCKS pipelined MsgRequestNext: a rollback to origin, then blocks."""

    async def body() -> None:
        connection = await local(case)
        await intersect(case, connection, [None], requirement="CS-INTERSECT-01")
        for _ in range(BLOCKS):
            await connection.send(LCS, Message(LCS, "MsgRequestNext", {}))
        names = []
        for _ in range(BLOCKS):
            reply = await case.expect(
                connection,
                LCS,
                ("MsgRollForward", "MsgRollBackward", "MsgAwaitReply"),
                within=ANSWER_WITHIN,
                requirement="CS-AGENCY-01",
            )
            names.append(reply.name)
            if reply.name == "MsgAwaitReply":
                break  # a short chain: the rest of the requests wait for new blocks
        case.check("CS-INTERSECT-02", names[0] == "MsgRollBackward", f"the first answer was {names[0]}")

    case.run(body)


@pytest.mark.requirement("CS-AWAIT-01", "CS-INTERSECT-01", "CS-INTERSECT-02", "CS-ROLLBACK-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StMustReply")
def test_at_the_tip_the_server_awaits(case: Case) -> None:
    """Intersect at the tip, take the rollback to it, ask again: MsgAwaitReply (or the new blocks of a
    growing chain, then MsgAwaitReply)."""

    async def body() -> None:
        connection = await local(case)
        first = await intersect(case, connection, [None], requirement="CS-INTERSECT-01")
        tip = first.fields["tip"]["point"]
        await intersect(case, connection, [tip, None], requirement="CS-INTERSECT-01")
        back = await next_message(case, connection, requirement="CS-INTERSECT-02")
        case.check("CS-INTERSECT-02", back.name == "MsgRollBackward", f"after the intersection: {back.name}")
        for _ in range(BLOCKS):
            reply = await next_message(case, connection, requirement="CS-AWAIT-01")
            if reply.name == "MsgAwaitReply":
                return
        case.fail("CS-AWAIT-01", f"{BLOCKS} answers after the tip without MsgAwaitReply")

    case.run(body)


@pytest.mark.requirement("CS-AGENCY-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StDone")
def test_done_ends_the_protocol(case: Case) -> None:
    async def body() -> None:
        connection = await local(case)
        await intersect(case, connection, [None], requirement="CS-INTERSECT-01")
        await connection.send(LCS, Message(LCS, "MsgDone", {}))
        try:
            extra = await connection.receive(LCS, case.limit(1.0))
        except TimeoutError:
            return
        case.fail("CS-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)
