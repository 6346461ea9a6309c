"""Block-fetch (node-to-node), the tested peer as responder: a range, a single block, an unknown range, and
blocks that are the ones chain-sync announced.

Points are learnt first with chain-sync on the same connection. Our Session judges every batch (blocks only
inside a batch, within the range, from its first point to its last, each linking to the one before); the
cases check what only they know: that each block is the one whose header chain-sync served at that place.
"""

from __future__ import annotations

import hashlib

import pytest

from conformance.peer.agent import Send
from conformance.peer.block_fetch import BlockFetchClient
from conformance.peer.chain import ChainPoint, block_info, point_fields
from conformance.peer.chain_sync import Followed
from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import DecodeError, Message

from .n2n_chain import grace, learn_chain

BF = "block-fetch"
SERVER_LIMIT = 60.0  # BFBusy and BFStreaming: the server sends each message within 60 s (BF-TIME-01)
BATCH = ("MsgStartBatch", "MsgNoBlocks", "MsgBlock", "MsgBatchDone")


def bogus_point(label: str) -> ChainPoint:
    return ChainPoint(987_654, hashlib.blake2b(label.encode(), digest_size=32).digest())


def render(point: ChainPoint) -> str:
    return f"{point.slot}@{point.hash[:4].hex()}"


async def fetch_range(case: Case, connection: Connection, lower: ChainPoint, upper: ChainPoint) -> list[bytes] | None:
    """MsgRequestRange lower..upper: the blocks of the batch, or None for MsgNoBlocks."""
    fields = {"from_point": point_fields(lower), "to_point": point_fields(upper)}
    await connection.send(BF, Message(BF, "MsgRequestRange", fields))
    within = grace(case.limit(SERVER_LIMIT))
    reply = await case.expect(connection, BF, ("MsgStartBatch", "MsgNoBlocks"), within=within, requirement="BF-TIME-01")
    if reply.name == "MsgNoBlocks":
        return None
    blocks: list[bytes] = []
    while True:
        reply = await case.expect(connection, BF, ("MsgBlock", "MsgBatchDone"), within=within, requirement="BF-TIME-01")
        if reply.name == "MsgBatchDone":
            return blocks
        blocks.append(bytes(reply.fields["block"]))


def check_blocks(case: Case, blocks: list[bytes], points: list[ChainPoint]) -> None:
    """The batch holds exactly the blocks of `points`, in order (BF-RANGE-03 count, BF-RANGE-02 identity)."""
    case.check("BF-RANGE-03", len(blocks) == len(points), f"{len(blocks)} blocks for a range of {len(points)}")
    for index, (block, point) in enumerate(zip(blocks, points, strict=False)):
        try:
            info = block_info(block)
        except DecodeError as error:
            case.fail("BF-RANGE-02", f"block {index} of the batch cannot be read: {error}")
        if (info.slot, info.hash) != (point.slot, point.hash):
            case.fail(
                "BF-RANGE-02",
                f"block {index} of the batch is {info.slot}@{info.hash[:4].hex()}; chain-sync served "
                f"{render(point)} there",
            )


@pytest.mark.requirement("BF-RANGE-02", "BF-RANGE-03", "BF-ORDER-01", "BF-BATCH-01", "BF-TIME-01", "MUX-SDU-03")
@pytest.mark.area("BFStreaming")
def test_a_range_streams_every_block_of_it(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(BF)
        points = (await learn_chain(case, connection, 20)).points
        if len(points) < 3:
            case.unsupported(f"the peer's chain has {len(points)} blocks; this case needs 3")
        lower, upper = len(points) // 4, len(points) - 2
        blocks = await fetch_range(case, connection, points[lower], points[upper])
        if blocks is None:
            shown = f"{render(points[lower])}..{render(points[upper])}"
            case.fail("BF-RANGE-03", f"MsgNoBlocks for {shown}, which chain-sync served")
        check_blocks(case, blocks, points[lower : upper + 1])

    case.run(body)


@pytest.mark.requirement("BF-RANGE-02", "BF-RANGE-03", "BF-BATCH-01")
@pytest.mark.area("BFStreaming")
def test_a_single_block(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(BF)
        points = (await learn_chain(case, connection, 10)).points
        if not points:
            case.unsupported("the peer's chain is empty")
        point = points[len(points) // 2]
        blocks = await fetch_range(case, connection, point, point)
        if blocks is None:
            case.fail("BF-RANGE-03", f"MsgNoBlocks for {render(point)}, served by chain-sync")
        check_blocks(case, blocks, [point])

    case.run(body)


@pytest.mark.requirement("BF-RANGE-03", "BF-TIME-01")
@pytest.mark.area("BFBusy")
@pytest.mark.parametrize("which", ["both-ends-unknown", "upper-end-unknown"])
def test_an_unknown_range_gets_no_blocks(case: Case, which: str) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(BF)
        points = (await learn_chain(case, connection, 5)).points
        lower = points[0] if which == "upper-end-unknown" and points else bogus_point("lower")
        upper = bogus_point("upper")
        blocks = await fetch_range(case, connection, lower, upper)
        if blocks is not None:
            case.fail("BF-RANGE-03", f"a batch of {len(blocks)} blocks for a range whose end is on no chain")

    case.run(body)


@pytest.mark.requirement("BF-RANGE-02", "BF-RANGE-03", "BF-ORDER-01", "BF-BATCH-01", "BF-TIME-01")
@pytest.mark.area("BFStreaming")
def test_blocks_match_the_chain_sync_headers(case: Case) -> None:
    """The reference fetch client asks for the followed points in pipelined ranges and checks every block:
    its header hashes to the followed point, and its body matches the body hash and size of its header."""

    async def body() -> None:
        connection = await case.connect()
        case.require(BF)
        learnt = await learn_chain(case, connection, 100)
        queue = Followed()
        for point in learnt.points:
            queue.push(point)
        queue.close()
        client = BlockFetchClient(queue, range_size=25, in_flight=4)
        actions = list(client.start())
        within = grace(case.limit(SERVER_LIMIT))
        while True:
            for action in actions:
                if isinstance(action, Send):
                    await connection.send(BF, action.message)
            if client.finished:
                break
            reply = await case.expect(connection, BF, BATCH, within=within, requirement="BF-TIME-01")
            actions = list(client.on_message(reply))
        for problem in client.problems:
            requirement = "BF-RANGE-03" if "short" in problem.detail else "BF-RANGE-02"
            case.check(requirement, False, f"{problem.kind} at block {problem.at}: {problem.detail}")
        if client.not_served:
            case.note("BF-RANGE-03", f"{client.not_served} blocks chain-sync served were answered MsgNoBlocks")

    case.run(body)
