"""Chain-sync behaviours (node-to-node, headers): a server that serves a `ChainStore` and a client that
follows a chain with pipelining and checks every header's hash and link.

Both are sans-I/O `Behaviour`s (see `conformance.peer.agent`). The node-to-client variants, which carry
whole blocks, subclass them in `local_chain_sync`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.wire.errors import DecodeError
from conformance.wire.message import Message

from .agent import Action, After, Finish, Negotiated, Send
from .chain import BlockInfo, ChainPoint, ChainStore, as_point, header_info, point_fields

GROW, POLL = "grow", "poll"
_REPLIES = ("MsgRollForward", "MsgRollBackward")


# -- server ------------------------------------------------------------------------------------------


class ChainSyncServer:
    """Serves a chain store to one client, as the node's chain-sync server does.

    Its read pointer starts at the origin and, as the node's chain DB follower does, its first reply is a
    rollback to the origin; after MsgIntersectFound the first reply rolls back to the intersection. At the
    tip it answers MsgAwaitReply and rolls forward once the chain grows: every `grow_every` seconds it
    extends the (synthetic) chain by one block itself, or, without `grow_every`, it looks every
    `poll_every` seconds whether someone else did. `rollback(n)` drops the last n blocks of the chain;
    a client that read past the new tip is rolled back before anything else.
    """

    protocol = "chain-sync"
    side = "responder"
    payload = "header"

    def __init__(
        self,
        chain: ChainStore,
        negotiated: Negotiated | None = None,
        *,
        grow_every: float | None = None,
        poll_every: float = 1.0,
    ) -> None:
        self.chain = chain
        self.time_scale = negotiated.time_scale if negotiated is not None else 1.0
        self.grow_every = grow_every
        self.poll_every = poll_every
        self.cursor = -1
        """The index of the last block the client was sent (-1: the origin)."""
        self.rollback_to: int | None = -1
        self.forks_seen = len(chain.forks)
        self.awaiting = False
        """Whether the oldest request got MsgAwaitReply and waits for the chain to change."""
        self.requests: deque[Message] = deque()
        """Requests received and not answered yet (a client may pipeline them), oldest first."""
        self.polling = False
        self.done = False
        self.sent_forward = 0

    def start(self) -> Sequence[Action]:
        if self.grow_every is not None:
            return [After(self.grow_every * self.time_scale, GROW)]
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        name = message.name
        if name in ("MsgRequestNext", "MsgFindIntersect"):
            self.requests.append(message)
            return self._serve()
        if name == "MsgDone":
            self.done = True
            return [Finish("the client sent MsgDone")]
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        if self.done:
            return []
        actions: list[Action] = []
        if token == GROW and self.grow_every is not None:
            self.chain.extend(1)
            actions.append(After(self.grow_every * self.time_scale, GROW))
        if token == POLL:
            self.polling = False
        replies = self._serve()
        if self.awaiting and not replies and not self.polling and self.grow_every is None:
            self.polling = True
            actions.append(After(self.poll_every * self.time_scale, POLL))
        return replies + actions

    def rollback(self, blocks: int) -> list[Action]:
        """Drop the last `blocks` blocks of the chain (at most back to the origin); a waiting client is
        rolled back at once (the returned actions), any other at its next request."""
        self.chain.rollback(max(-1, len(self.chain) - 1 - blocks))
        return self._serve()

    def _serve(self) -> list[Action]:
        """Answer the client's requests in order, as far as the chain allows: requests pipelined behind
        one that got MsgAwaitReply wait for it."""
        actions: list[Action] = []
        while self.requests:
            if self.requests[0].name == "MsgFindIntersect":
                actions.append(Send(self._intersect(self.requests.popleft().fields.get("points") or [])))
                continue
            reply = self._next(can_await=not self.awaiting)
            actions += reply
            if not reply or self.awaiting:
                break
            self.requests.popleft()
        return actions

    # -- replies -------------------------------------------------------------------------------------

    def _intersect(self, points: Iterable[Any]) -> Message:
        self._catch_up_forks()
        index = self.chain.find_intersection(points)
        tip = self.chain.tip()
        if index is None:
            return Message(self.protocol, "MsgIntersectNotFound", {"tip": tip})
        self.cursor = self.rollback_to = index
        self.forks_seen = len(self.chain.forks)
        return Message(
            self.protocol, "MsgIntersectFound", {"point": point_fields(self.chain.point_or_origin(index)), "tip": tip}
        )

    def _catch_up_forks(self) -> None:
        """A rollback of the chain below the read pointer since we last looked: roll the client back."""
        forks = self.chain.forks[self.forks_seen :]
        self.forks_seen = len(self.chain.forks)
        lowest = min(forks, default=self.cursor)
        if lowest < self.cursor:
            self.cursor = lowest
            self.rollback_to = lowest if self.rollback_to is None else min(self.rollback_to, lowest)

    def _next(self, *, can_await: bool) -> list[Action]:
        """The reply to MsgRequestNext: a rollback owed, the next block, or MsgAwaitReply at the tip
        (`can_await`; in StMustReply nothing is sent until the chain changes)."""
        self._catch_up_forks()
        if self.rollback_to is not None:
            point = point_fields(self.chain.point_or_origin(self.rollback_to))
            self.rollback_to, self.awaiting = None, False
            return [Send(Message(self.protocol, "MsgRollBackward", {"point": point, "tip": self.chain.tip()}))]
        following = self.cursor + 1
        if following < len(self.chain):
            self.cursor, self.awaiting = following, False
            self.sent_forward += 1
            fields = {self.payload: self.payload_at(following), "tip": self.chain.tip()}
            return [Send(Message(self.protocol, "MsgRollForward", fields))]
        if not can_await:
            return []
        self.awaiting = True
        actions: list[Action] = [Send(Message(self.protocol, "MsgAwaitReply"))]
        if self.grow_every is None and not self.polling:
            self.polling = True
            actions.append(After(self.poll_every * self.time_scale, POLL))
        return actions

    def payload_at(self, index: int) -> Any:
        """What MsgRollForward carries for the block at `index`: its header."""
        return self.chain.header(index)


# -- what the client followed, for block-fetch -------------------------------------------------------


class Followed:
    """The points a chain-sync client followed whose blocks have not been fetched yet, in chain order.

    The chain-sync client pushes and rolls back; the block-fetch client takes ranges from the front.
    `closed` once the chain-sync client is done, so the fetcher knows no more points will come.
    """

    def __init__(self) -> None:
        self.points: deque[ChainPoint] = deque()
        self.closed = False
        self.pushed = 0

    def push(self, point: ChainPoint) -> None:
        self.points.append(point)
        self.pushed += 1

    def rollback(self, point: ChainPoint | None) -> None:
        """Forget the points after `point`; all of them when `point` is not waiting (already fetched)."""
        if point in self.points:
            while self.points[-1] != point:
                self.points.pop()
        else:
            self.points.clear()

    def take(self, count: int) -> list[ChainPoint]:
        return [self.points.popleft() for _ in range(min(count, len(self.points)))]

    def close(self) -> None:
        self.closed = True


# -- client ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainProblem:
    """Something wrong with the chain the server served (not a protocol violation: the session judges
    those). `kind`: link, hash, number, slot, header, rollback or block; `at`: roll-forwards so far."""

    kind: str
    at: int
    detail: str


def intersection_points(chain: ChainStore | Sequence[ChainPoint] | None) -> list[ChainPoint | None]:
    """Points for MsgFindIntersect: the tip, then back 1, 2, 4, 8, ... blocks, then the origin."""
    if chain is None:
        return [None]
    points: list[ChainPoint | None] = []
    step, index = 1, len(chain) - 1
    while index >= 0:
        points.append(chain.point(index) if isinstance(chain, ChainStore) else chain[index])
        index -= step
        step *= 2
    return points + [None]


class ChainSyncClient:
    """Follows a chain: finds an intersection, then keeps up to `depth` MsgRequestNext in flight, and
    stops with MsgDone after `headers` roll-forwards (None: once it reached the tip it was told about).

    Every header is checked against the one before it: its predecessor hash is that header's hash, its
    block number is one more (Byron EBBs share theirs), its slot is later; at the tip, its hash is the
    tip's. Anything wrong is kept in `problems`; the followed points go to `followed` for block-fetch.
    Only the last `keep` headers are remembered (for rollbacks), so memory stays flat on long chains.
    """

    protocol = "chain-sync"
    side = "initiator"
    payload = "header"

    def __init__(
        self,
        negotiated: Negotiated | None = None,
        *,
        headers: int | None = None,
        depth: int = 1,
        known: ChainStore | Sequence[ChainPoint] | None = None,
        followed: Followed | None = None,
        keep: int = 2160,
        on_header: Callable[[BlockInfo], None] | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError(f"the pipelining depth is 1 or more, not {depth}")
        if headers is not None and headers < 0:
            raise ValueError(f"headers is 0 or more, not {headers}")
        self.limit = headers
        self.depth = depth
        self.points = intersection_points(known)
        self.followed = followed
        self.on_header = on_header
        self.recent: deque[BlockInfo] = deque(maxlen=keep)
        self.anchor: ChainPoint | None = None
        self.anchor_known = False
        """Whether the point we follow from is known (an intersection); the origin's successor may link to
        anything when the served chain does not start at genesis."""
        self.intersection: ChainPoint | None = None
        self.tip: dict[str, Any] | None = None
        self.in_flight = 0
        self.received = 0
        self.rollbacks = 0
        self.problems: list[ChainProblem] = []
        self.finished = False

    def summary(self) -> dict[str, Any]:
        """What `connect` reports of the chain it followed; a chain problem fails the run."""
        return {
            "headers": self.received,
            "rollbacks": self.rollbacks,
            "chain_problems": [f"{p.kind} at {p.at}: {p.detail}" for p in self.problems],
        }

    def start(self) -> Sequence[Action]:
        points = [point_fields(p) for p in self.points]
        return [Send(Message(self.protocol, "MsgFindIntersect", {"points": points}))]

    def on_timer(self, token: str) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        name, fields = message.name, message.fields
        if "tip" in fields:
            self.tip = fields["tip"]
        if name == "MsgIntersectFound":
            self.intersection = self.anchor = as_point(fields["point"])
            self.anchor_known = self.anchor is not None
            self.recent.clear()
        elif name == "MsgIntersectNotFound":
            self.anchor, self.anchor_known = None, False
        elif name == "MsgRollForward":
            self.in_flight -= 1
            self.received += 1
            self._forward(fields[self.payload])
        elif name == "MsgRollBackward":
            self.in_flight -= 1
            self.rollbacks += 1
            self._backward(as_point(fields["point"]))
        elif name == "MsgAwaitReply":
            return []
        return self._top_up()

    # -- following -----------------------------------------------------------------------------------

    def _wanted(self) -> bool:
        """Whether one more request may go out (in flight ones included)."""
        if self.limit is not None:
            return self.received + self.in_flight < self.limit
        tip = as_point(self.tip["point"]) if self.tip is not None else None
        if self.tip is None or tip is None:
            return False
        if not self.recent:  # where we stand is a point without a number: one request at a time
            return self.in_flight == 0 and not (self.anchor_known and tip == self.anchor)
        return self.recent[-1].block_no + self.in_flight < int(self.tip["block_no"])

    def _top_up(self) -> list[Action]:
        if self.finished:
            return []
        actions: list[Action] = []
        while self.in_flight < self.depth and self._wanted():
            self.in_flight += 1
            actions.append(Send(Message(self.protocol, "MsgRequestNext")))
        if self.in_flight == 0 and not self._wanted():
            self.finished = True
            if self.followed is not None:
                self.followed.close()
            actions += [Send(Message(self.protocol, "MsgDone")), Finish(f"followed {self.received} headers")]
        return actions

    def info_of(self, payload: Any) -> BlockInfo:
        """ChainPoint, number and predecessor of what MsgRollForward carries: here a header."""
        return header_info(payload)

    def _forward(self, payload: Any) -> None:
        try:
            info = self.info_of(payload)
        except (DecodeError, KeyError, TypeError, ValueError) as error:
            self._problem("header", f"the {self.payload} cannot be read: {error}")
            return
        self.check_payload(payload, info)
        previous = self.recent[-1] if self.recent else None
        if previous is not None:
            self._check_link(info, previous.hash, previous.block_no, previous.slot)
        elif self.anchor_known and self.anchor is not None:
            self._check_link(info, self.anchor.hash, None, self.anchor.slot)
        tip = self.tip or {}
        tip_point = as_point(tip.get("point")) if tip else None
        if tip_point is not None and tip.get("block_no") == info.block_no and tip_point.slot == info.slot:
            if tip_point.hash != info.hash:
                self._problem(
                    "hash",
                    f"the {self.payload} at the tip hashes to {_short(info.hash)}, the tip says "
                    f"{_short(tip_point.hash)}",
                )
        self.recent.append(info)
        if self.followed is not None:
            self.followed.push(ChainPoint(info.slot, info.hash))
        if self.on_header is not None:
            self.on_header(info)

    def check_payload(self, payload: Any, info: BlockInfo) -> None:
        """Further checks of what MsgRollForward carries (a whole block's body, for local chain-sync)."""

    def _check_link(self, info: BlockInfo, prev_hash: bytes, prev_no: int | None, prev_slot: int) -> None:
        if info.prev_hash != prev_hash:
            self._problem(
                "link",
                f"block {info.block_no} at slot {info.slot} links to {_short(info.prev_hash)}, "
                f"not to the previous header's hash {_short(prev_hash)}",
            )
        if prev_no is not None and info.block_no not in (prev_no, prev_no + 1):
            self._problem("number", f"block number {info.block_no} follows block number {prev_no}")
        if info.slot < prev_slot:
            self._problem("slot", f"slot {info.slot} follows slot {prev_slot}")
        elif info.slot == prev_slot and prev_no is not None and info.block_no != prev_no:
            self._problem("slot", f"block {info.block_no} has the slot {info.slot} of its predecessor")

    def _backward(self, point: ChainPoint | None) -> None:
        if self.followed is not None:
            self.followed.rollback(point)
        if point is None:
            self.recent.clear()
            self.anchor, self.anchor_known = None, False
            return
        while self.recent and ChainPoint(self.recent[-1].slot, self.recent[-1].hash) != point:
            self.recent.pop()
        if self.recent:
            return
        if point == self.anchor:
            return
        if self.received > (self.recent.maxlen or 0):
            self.anchor, self.anchor_known = point, True  # older than we remember: take the server's word
            return
        self._problem("rollback", f"rollback to slot {point.slot} ({_short(point.hash)}), a point never followed")
        self.anchor, self.anchor_known = point, True

    def _problem(self, kind: str, detail: str) -> None:
        self.problems.append(ChainProblem(kind, self.received, detail))


def _short(digest: bytes | None) -> str:
    return "nothing" if digest is None else digest.hex()[:16] + "…"


def chain_sync_server(chain: ChainStore, **options: Any) -> Callable[[Negotiated], ChainSyncServer]:
    """A `BehaviourFactory`: one server per connection, all serving `chain`."""
    return lambda negotiated: ChainSyncServer(chain, negotiated, **options)


def chain_sync_client(**options: Any) -> Callable[[Negotiated], ChainSyncClient]:
    """A `BehaviourFactory` for a following client (options as `ChainSyncClient`)."""
    return lambda negotiated: ChainSyncClient(negotiated, **options)
