"""Chain-sync (node-to-node, headers), the tested peer as responder: intersections, following, pipelining,
rollbacks, the tip, agency and MsgDone.

Our Session judges every reply (agency, intersection among the listed points, the first reply after an
intersection, tips, rollbacks, header wrapping, time limits); the reference client checks that the headers
hash and link into one chain, reported against CS-HEADER-02 (headers along a chain).
"""

from __future__ import annotations

import hashlib

import pytest

from conformance.peer.chain import ChainPoint, as_point, header_info
from conformance.peer.connection import Connection, ConnectionClosed
from conformance.protocol import Violation
from conformance.suite.case import Case
from conformance.wire import DecodeError

from .n2n_chain import (
    CS,
    SHORT_WAIT,
    find_intersect,
    follow,
    grace,
    learn_chain,
    message,
    request_next,
    tip_number,
    tip_point,
)

FOLLOW_ALL = 2_000
"""Headers the chain check follows from the origin (the whole chain when it is shorter)."""
PIPELINED = 200
"""Headers the pipelining cases follow at each depth."""


def bogus_point(label: str) -> ChainPoint:
    """A point on no chain: a hash nobody can produce a header for."""
    return ChainPoint(123_456, hashlib.blake2b(label.encode(), digest_size=32).digest())


def render(point: ChainPoint | None) -> str:
    return "origin" if point is None else f"{point.slot}@{point.hash[:4].hex()}"


async def rolls_back_to(case: Case, connection: Connection, point: ChainPoint | None) -> None:
    """After MsgIntersectFound at `point`: the next reply goes back to it (CS-INTERSECT-02, a SHOULD our
    Session judges), and the first header after that links to where the client now stands."""
    reply = await request_next(case, connection)
    if reply.name == "MsgRollBackward":
        point = as_point(reply.fields["point"])
        reply = await request_next(case, connection)
    if reply.name != "MsgRollForward":
        return  # at the tip: nothing follows the point yet
    try:
        info = header_info(reply.fields["header"])
    except (DecodeError, KeyError, TypeError, ValueError) as error:
        case.fail("CS-HEADER-01", f"the header after the intersection cannot be read: {error}")
    if point is not None:
        case.check(
            "CS-HEADER-02",
            info.prev_hash == point.hash,
            f"the header after {render(point)} links to {info.prev_hash.hex()[:16] if info.prev_hash else 'nothing'}",
        )


@pytest.mark.requirement("CS-INTERSECT-01", "CS-INTERSECT-02", "CS-TIME-01", "CS-TIP-01")
@pytest.mark.area("StIntersect")
def test_intersect_at_origin(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        found = await find_intersect(case, connection, [None])
        if found.name != "MsgIntersectFound":
            case.fail("CS-INTERSECT-01", "MsgIntersectNotFound for the origin, which is on every chain")
        case.check("CS-INTERSECT-01", found.fields["point"] is None, f"found {found.fields['point']} for origin")
        await rolls_back_to(case, connection, None)

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-INTERSECT-02", "CS-HEADER-02", "CS-ROLLBACK-01")
@pytest.mark.area("StIntersect")
def test_intersect_at_a_known_point(case: Case) -> None:
    """Points learnt on one connection intersect on a new one, and the chain goes on from there."""

    async def body() -> None:
        learner = await case.connect()
        case.require(CS)
        chain = await learn_chain(case, learner, 20)
        await learner.close()
        if len(chain.points) < 2:
            case.unsupported(f"the peer's chain has {len(chain.points)} blocks; this case needs 2")
        point = chain.points[len(chain.points) // 2]
        connection = await case.connect()
        found = await find_intersect(case, connection, [point])
        if found.name != "MsgIntersectFound":
            case.fail("CS-INTERSECT-01", f"MsgIntersectNotFound for {render(point)}, a point it served")
        case.check("CS-INTERSECT-01", as_point(found.fields["point"]) == point, f"found {found.fields['point']}")
        await rolls_back_to(case, connection, point)

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-TIP-01")
@pytest.mark.area("StIntersect")
def test_intersect_at_unknown_points_only(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        points = [bogus_point("one"), bogus_point("two")]
        reply = await find_intersect(case, connection, points)
        case.check(
            "CS-INTERSECT-01",
            reply.name == "MsgIntersectNotFound",
            f"{reply.name} {reply.fields.get('point')} for points on no chain",
        )

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-INTERSECT-02", "CS-HEADER-02")
@pytest.mark.area("StIntersect")
def test_intersect_at_several_points_finds_the_first_on_its_chain(case: Case) -> None:
    """Points are listed best first; the server names the first one on its chain."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        chain = await learn_chain(case, connection, 40)
        if len(chain.points) < 3:
            case.unsupported(f"the peer's chain has {len(chain.points)} blocks; this case needs 3")
        best, worse = chain.points[-2], chain.points[1]
        found = await find_intersect(case, connection, [bogus_point("newer"), best, worse, None])
        if found.name != "MsgIntersectFound":
            case.fail("CS-INTERSECT-01", f"MsgIntersectNotFound although {render(best)} is on its chain")
        case.check(
            "CS-INTERSECT-01",
            as_point(found.fields["point"]) == best,
            f"found {render(as_point(found.fields['point']))}; the best point on its chain is {render(best)}",
        )
        await rolls_back_to(case, connection, as_point(found.fields["point"]))

    case.run(body)


@pytest.mark.requirement("CS-ROLLBACK-01", "CS-INTERSECT-02", "CS-HEADER-02", "CS-TIP-01")
@pytest.mark.area("StCanAwait")
def test_rollback_to_an_earlier_point(case: Case) -> None:
    """Having followed to a later point, an intersection further back rolls the client back to it."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        chain = await learn_chain(case, connection, 50)
        if len(chain.points) < 4:
            case.unsupported(f"the peer's chain has {len(chain.points)} blocks; this case needs 4")
        earlier = chain.points[len(chain.points) // 3]
        found = await find_intersect(case, connection, [earlier])
        if found.name != "MsgIntersectFound":
            case.fail("CS-INTERSECT-01", f"MsgIntersectNotFound for {render(earlier)}, a point it served")
        reply = await request_next(case, connection)
        if reply.name == "MsgRollBackward":
            back = as_point(reply.fields["point"])
            case.check(
                "CS-ROLLBACK-01",
                back == earlier,
                f"rolled back to {render(back)}; the intersection was {render(earlier)}",
            )
            reply = await request_next(case, connection)
        if reply.name == "MsgRollForward":
            info = header_info(reply.fields["header"])
            case.check(
                "CS-HEADER-02",
                info.prev_hash == earlier.hash,
                f"after the rollback to {render(earlier)} the next header links elsewhere",
            )

    case.run(body)


@pytest.mark.requirement("CS-AWAIT-01", "CS-INTERSECT-02", "CS-TIME-01", "CS-TIP-01")
@pytest.mark.area("StCanAwait")
def test_at_the_tip_a_request_gets_await_reply(case: Case) -> None:
    """Once the client is at the tip (an intersection at the tip the server announced), a request gets
    MsgAwaitReply, once, within the StCanAwait limit; a live chain may grow meanwhile, so a few more rolls
    are allowed before it."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        found = await find_intersect(case, connection, [None])
        await find_intersect(case, connection, [tip_point(found)])
        for _ in range(5):
            reply = await request_next(case, connection)
            if reply.name == "MsgAwaitReply":
                return
        case.note("CS-AWAIT-01", "the chain grew faster than we followed it: no MsgAwaitReply seen")

    case.run(body)


@pytest.mark.requirement("CS-PIPE-01", "CS-HEADER-01", "CS-HEADER-02", "CS-TIP-01", "CS-TIME-01")
@pytest.mark.area("pipelining")
@pytest.mark.parametrize("depth", [1, 10, 100], ids=["depth-1", "depth-10", "depth-100"])
def test_pipelined_requests_are_answered_in_order(case: Case, depth: int) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        found = await find_intersect(case, connection, [None])
        wanted = min(PIPELINED, tip_number(found) + 1)
        chain = await follow(case, connection, found, headers=PIPELINED, depth=depth)
        case.check("CS-HEADER-02", not chain.client.problems, chain.problems())
        case.check(
            "CS-PIPE-01",
            chain.client.received >= wanted,
            f"{chain.client.received} headers for {wanted} requests in flight at depth {depth}",
        )

    case.run(body)


@pytest.mark.requirement("CS-HEADER-01", "CS-HEADER-02", "CS-TIP-01")
@pytest.mark.area("StCanAwait")
def test_headers_form_a_chain(case: Case) -> None:
    """Every header hashes to the point the next one links to, block numbers and slots grow, and the
    header at the tip hashes to the tip's point (checked by the reference client)."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        chain = await learn_chain(case, connection, FOLLOW_ALL, depth=100)
        case.check("CS-HEADER-02", not chain.client.problems, chain.problems())
        if not chain.headers:
            case.unsupported("the peer's chain is empty")

    case.run(body)


@pytest.mark.requirement("CS-AGENCY-01")
@pytest.mark.area("agency")
@pytest.mark.parametrize("fault", ["await-from-the-client", "done-while-awaiting"])
def test_a_message_without_agency_closes_the_connection(case: Case, fault: str) -> None:
    """MsgAwaitReply sent by the client in StIdle, or MsgDone while the server holds agency in StMustReply:
    the peer closes the connection, and a new one still works."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        found = await find_intersect(case, connection, [None])
        if fault == "await-from-the-client":
            await connection.send(CS, message("MsgAwaitReply"), check=False)
        else:
            await find_intersect(case, connection, [tip_point(found)])
            for _ in range(5):
                reply = await request_next(case, connection)
                if reply.name == "MsgAwaitReply":
                    break
            else:
                case.unsupported("the chain grows too fast to reach StMustReply")
            await connection.send(CS, message("MsgDone"), check=False)
        await case.expect_close(
            connection,
            within=grace(case.limit(SHORT_WAIT)),
            requirement="CS-AGENCY-01",
            why=f"a chain-sync message without agency ({fault})",
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("CS-AGENCY-01")
@pytest.mark.area("StDone")
def test_done_ends_the_protocol(case: Case) -> None:
    """After MsgDone the server sends nothing more on chain-sync."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        await find_intersect(case, connection, [None])
        await request_next(case, connection)
        await connection.send(CS, message("MsgDone"))
        try:
            extra = await connection.receive(CS, case.limit(1.0))
        except TimeoutError:
            return
        except ConnectionClosed as closed:
            if not isinstance(closed.info.error, Violation):
                case.note("CS-AGENCY-01", f"the peer closed the connection after MsgDone ({closed.info.reason})")
            return
        case.fail("CS-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)
