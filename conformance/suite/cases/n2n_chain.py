"""Following the tested responder's chain over a scripted connection, for the chain-sync and block-fetch cases.

The reference chain-sync client (`conformance.peer.chain_sync.ChainSyncClient`) does the following: it keeps
its requests in flight, checks that every header hashes and links to the one before it, and records the
points it followed. Here it runs sans-I/O inside a case, so the case decides when to stop and what to send
next, and every reply still goes through our Session first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.peer.agent import Send
from conformance.peer.chain import BlockInfo, ChainPoint, as_point, point_fields
from conformance.peer.chain_sync import ChainSyncClient
from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import Message

CS = "chain-sync"
SHORT_WAIT = 10.0  # StCanAwait and StIntersect: the server answers within 10 s (CS-TIME-01)
MUST_REPLY = 601.0  # StMustReply: the node's lower bound (601..911 s)
SERVER_MESSAGES = ("MsgRollForward", "MsgRollBackward", "MsgAwaitReply")


def grace(limit: float) -> float:
    """A wait for something due within `limit`: room for scheduling on a loaded machine."""
    return limit + max(0.5, limit * 0.5)


def message(name: str, **fields: Any) -> Message:
    return Message(CS, name, fields)


async def find_intersect(case: Case, connection: Connection, points: Sequence[ChainPoint | None]) -> Message:
    """MsgFindIntersect with `points` (None is the origin), and the answer."""
    await connection.send(CS, message("MsgFindIntersect", points=[point_fields(p) for p in points]))
    return await case.expect(
        connection,
        CS,
        ("MsgIntersectFound", "MsgIntersectNotFound"),
        within=grace(case.limit(SHORT_WAIT)),
        requirement="CS-TIME-01",
    )


async def request_next(case: Case, connection: Connection) -> Message:
    """One MsgRequestNext and its first answer (a roll, or MsgAwaitReply)."""
    await connection.send(CS, message("MsgRequestNext"))
    return await case.expect(
        connection, CS, SERVER_MESSAGES, within=grace(case.limit(SHORT_WAIT)), requirement="CS-TIME-01"
    )


def tip_number(reply: Message) -> int:
    """The block number of the tip a server message carries (-1 for an empty chain)."""
    tip = reply.fields.get("tip") or {}
    return int(tip.get("block_no", -1)) if as_point(tip.get("point")) is not None else -1


def tip_point(reply: Message) -> ChainPoint | None:
    return as_point((reply.fields.get("tip") or {}).get("point"))


class Learnt:
    """What a follow saw: the reference client (its `problems`, `received`, `rollbacks`) and the headers."""

    def __init__(self, client: ChainSyncClient, headers: list[BlockInfo]) -> None:
        self.client = client
        self.headers = headers

    @property
    def points(self) -> list[ChainPoint]:
        return [ChainPoint(h.slot, h.hash) for h in self.headers]

    def problems(self) -> str:
        return "; ".join(f"{p.kind} at header {p.at}: {p.detail}" for p in self.client.problems)


async def follow(case: Case, connection: Connection, found: Message, *, headers: int | None, depth: int) -> Learnt:
    """Follow from the intersection `found` (the answer to our MsgFindIntersect) for `headers` roll-forwards
    (None, or more than the chain holds: to the tip it announced) with `depth` requests in flight.
    Leaves the connection in StIdle with nothing outstanding; never sends MsgDone."""
    if headers is not None and headers > tip_number(found) + 1:
        headers = None
    seen: list[BlockInfo] = []
    client = ChainSyncClient(headers=headers, depth=depth, on_header=seen.append, keep=max(depth, 2160))
    actions = list(client.on_message(found))
    while True:
        for action in actions:
            if isinstance(action, Send) and action.message.name != "MsgDone":
                await connection.send(CS, action.message)
        if client.finished or client.in_flight == 0:
            return Learnt(client, seen)
        reply = await case.expect(
            connection, CS, SERVER_MESSAGES, within=grace(case.limit(SHORT_WAIT)), requirement="CS-TIME-01"
        )
        if reply.name == "MsgAwaitReply":
            reply = await case.expect(
                connection,
                CS,
                ("MsgRollForward", "MsgRollBackward"),
                within=case.limit(MUST_REPLY),
                requirement="CS-TIME-01",
            )
        actions = list(client.on_message(reply))


async def learn_chain(case: Case, connection: Connection, headers: int, depth: int = 50) -> Learnt:
    """The first `headers` points of the peer's chain (fewer when it is shorter), followed from the origin."""
    found = await find_intersect(case, connection, [None])
    if found.name != "MsgIntersectFound":
        case.fail("CS-INTERSECT-01", "the origin is on every chain, yet MsgIntersectNotFound answered it")
    return await follow(case, connection, found, headers=headers, depth=depth)
