"""Block-fetch behaviours: a server that streams ranges of a `ChainStore`, and a client that fetches the
blocks a chain-sync client followed and checks each one against the header it followed."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from conformance.wire.errors import DecodeError
from conformance.wire.message import Message

from .agent import Action, After, Finish, Negotiated, Send
from .chain import ChainPoint, ChainStore, block_info, point_fields, read_block
from .chain_sync import ChainProblem, Followed

POLL = "poll"


class BlockFetchServer:
    """Answers MsgRequestRange with MsgStartBatch, one MsgBlock per block from the lower to the upper point
    (inclusive) and MsgBatchDone, or MsgNoBlocks when the range is not on the chain, as the node does."""

    protocol = "block-fetch"
    side = "responder"

    def __init__(self, chain: ChainStore, negotiated: Negotiated | None = None) -> None:
        self.chain = chain
        self.batches = 0
        self.blocks = 0
        self.refused = 0

    def start(self) -> Sequence[Action]:
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name == "MsgClientDone":
            return [Finish("the client sent MsgClientDone")]
        if message.name != "MsgRequestRange":
            return []
        indexes = self.chain.range(message.fields.get("from_point"), message.fields.get("to_point"))
        if indexes is None:
            self.refused += 1
            return [Send(Message(self.protocol, "MsgNoBlocks"))]
        self.batches += 1
        self.blocks += len(indexes)
        actions: list[Action] = [Send(Message(self.protocol, "MsgStartBatch"))]
        actions += [Send(Message(self.protocol, "MsgBlock", {"block": self.chain.block(i)})) for i in indexes]
        actions.append(Send(Message(self.protocol, "MsgBatchDone")))
        return actions


class BlockFetchClient:
    """Fetches the blocks of the points in `followed`, `range_size` at a time, with up to `in_flight`
    ranges requested at once; sends MsgClientDone once `followed` is closed and empty.

    Each block must be the one followed: the hash of its header is the followed point's hash (and its
    slot the point's slot), and its body matches the body hash and size of its header. Anything else is
    kept in `problems`. MsgNoBlocks is no problem (the server's chain may have switched forks before
    chain-sync told us, as the node allows): its blocks are counted in `not_served`.
    When no points are waiting it looks again every `poll_every` seconds.
    """

    protocol = "block-fetch"
    side = "initiator"

    def __init__(
        self,
        followed: Followed,
        negotiated: Negotiated | None = None,
        *,
        range_size: int = 100,
        in_flight: int = 1,
        poll_every: float = 0.05,
        check_bodies: bool = True,
        on_block: Callable[[bytes], None] | None = None,
    ) -> None:
        if range_size < 1 or in_flight < 1:
            raise ValueError("range_size and in_flight are 1 or more")
        self.followed = followed
        self.time_scale = negotiated.time_scale if negotiated is not None else 1.0
        self.range_size = range_size
        self.max_in_flight = in_flight
        self.poll_every = poll_every
        self.check_bodies = check_bodies
        self.on_block = on_block
        self.requested: deque[list[ChainPoint]] = deque()
        """The points of each range requested and not yet done, oldest first."""
        self.expected: deque[ChainPoint] = deque()
        self.blocks = 0
        self.bytes = 0
        self.not_served = 0
        """Blocks of ranges answered with MsgNoBlocks."""
        self.problems: list[ChainProblem] = []
        self.finished = False
        self.polling = False

    def summary(self) -> dict[str, Any]:
        """What `connect` reports of the blocks it fetched; a block that does not match fails the run."""
        return {
            "blocks": self.blocks,
            "block_bytes": self.bytes,
            "blocks_not_served": self.not_served,
            "block_problems": [f"{p.kind} at {p.at}: {p.detail}" for p in self.problems],
        }

    def start(self) -> Sequence[Action]:
        return self._request()

    def on_timer(self, token: str) -> Sequence[Action]:
        self.polling = False
        return self._request()

    def on_message(self, message: Message) -> Sequence[Action]:
        name = message.name
        if name == "MsgStartBatch":
            self.expected = deque(self.requested[0]) if self.requested else deque()
        elif name == "MsgBlock":
            self._check(bytes(message.fields["block"]))
        elif name in ("MsgBatchDone", "MsgNoBlocks"):
            points = self.requested.popleft() if self.requested else []
            if name == "MsgNoBlocks":
                self.not_served += len(points)
            elif self.expected:
                self._problem("block", f"the batch ended {len(self.expected)} blocks short")
            self.expected = deque()
            return self._request()
        return []

    def _request(self) -> list[Action]:
        if self.finished:
            return []
        actions: list[Action] = []
        while len(self.requested) < self.max_in_flight:
            waiting = len(self.followed.points)
            if waiting == 0 or (waiting < self.range_size and not self.followed.closed):
                break
            points = self.followed.take(self.range_size)
            self.requested.append(points)
            fields = {"from_point": point_fields(points[0]), "to_point": point_fields(points[-1])}
            actions.append(Send(Message(self.protocol, "MsgRequestRange", fields)))
        if not self.requested and self.followed.closed and not self.followed.points:
            self.finished = True
            return actions + [Send(Message(self.protocol, "MsgClientDone")), Finish(f"fetched {self.blocks} blocks")]
        if not actions and not self.requested and not self.polling:
            self.polling = True
            actions.append(After(self.poll_every * self.time_scale, POLL))
        return actions

    def _check(self, block: bytes) -> None:
        self.blocks += 1
        self.bytes += len(block)
        expected = self.expected.popleft() if self.expected else None
        try:
            info, body = read_block(block) if self.check_bodies else (block_info(block), None)
        except DecodeError as error:
            self._problem("block", f"block {self.blocks} cannot be read: {error}")
            return
        if expected is None:
            self._problem("block", f"block at slot {info.slot} was not requested")
        elif (info.slot, info.hash) != (expected.slot, expected.hash):
            self._problem(
                "hash",
                f"the block at slot {info.slot} has hash {info.hash.hex()[:16]}…, the followed header "
                f"at slot {expected.slot} has {expected.hash.hex()[:16]}…",
            )
        if body is not None:
            self._problem("body", f"block at slot {info.slot}: {body}")
        if self.on_block is not None:
            self.on_block(block)

    def _problem(self, kind: str, detail: str) -> None:
        self.problems.append(ChainProblem(kind, self.blocks, detail))


def block_fetch_server(chain: ChainStore) -> Callable[[Negotiated], BlockFetchServer]:
    """A `BehaviourFactory`: one server per connection, all serving `chain`."""
    return lambda negotiated: BlockFetchServer(chain, negotiated)


def block_fetch_client(followed: Followed, **options: Any) -> Callable[[Negotiated], BlockFetchClient]:
    """A `BehaviourFactory` for a client fetching what a chain-sync client pushes into `followed`."""
    return lambda negotiated: BlockFetchClient(followed, negotiated, **options)
