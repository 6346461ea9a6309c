"""BlockFetch (node-to-node mini-protocol 3): table and batch rules.

Sources: `Ouroboros.Network.Protocol.BlockFetch.{Type,Codec}` (PROTOCOLS.md section 6).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .cardano_facts import BlockInfo, block_info
from .fields import fields_of
from .limits import LARGE_BYTE_LIMIT, LONG_WAIT, SMALL_BYTE_LIMIT, bytes_, seconds
from .points import NotAPoint, point_key, render
from .rules import Move, Rules
from .table import INITIATOR, NOBODY, RESPONDER, Pipelining, ProtocolTable, State, Transition
from .violations import Violation

MAX_REQUESTS_IN_FLIGHT = 100
"""`blockFetchPipeliningMax`, used as `bfcMaxRequestsInflight`."""


class BlockFetchRules(Rules):
    """Each batch streams the requested range, inclusive at both ends, block after block in chain order.

    Only blocks whose point can be read (any era, Byron included) are checked against the range.
    """

    requirements = ("BF-RANGE-01", "BF-RANGE-02", "BF-RANGE-03", "BF-ORDER-01")

    def __init__(self, version: int | None = None) -> None:
        super().__init__(version)
        self.range: tuple[Any, Any] = (None, None)
        self.first: BlockInfo | None = None
        self.last: BlockInfo | None = None
        self.blocks = 0
        self.unreadable = 0

    def check(self, move: Move) -> Iterator[Violation]:
        if move.name == "MsgRequestRange":
            yield from self.range_problems(move)
        elif move.name == "MsgBlock":
            yield from self.block_problems(move, block_info(fields_of(move).get("block")))
        elif move.name == "MsgBatchDone":
            yield from self.batch_done_problems(move)

    def range_problems(self, move: Move) -> Iterator[Violation]:
        fields = fields_of(move)
        lower, upper = fields.get("from_point"), fields.get("to_point")
        try:
            low, high = point_key(lower), point_key(upper)
        except NotAPoint as error:
            yield move.violation("BF-RANGE-01", str(error))
            return
        if low is None or high is None or low[0] > high[0]:
            yield move.violation("BF-RANGE-01", f"range {render(lower)} .. {render(upper)} is empty")

    def bounds(self) -> tuple[tuple[int, bytes] | None, tuple[int, bytes] | None]:
        try:
            return point_key(self.range[0]), point_key(self.range[1])
        except NotAPoint:
            return None, None

    def block_problems(self, move: Move, point: BlockInfo | None) -> Iterator[Violation]:
        if point is None:
            return
        low, high = self.bounds()
        if (low is not None and point.slot < low[0]) or (high is not None and point.slot > high[0]):
            yield move.violation(
                "BF-RANGE-02",
                f"block at slot {point.slot} is outside the requested range "
                f"{render(self.range[0])} .. {render(self.range[1])}",
            )
        if self.blocks == 0 and low is not None and (point.slot, point.hash) != low:
            yield move.violation("BF-RANGE-03", f"the batch starts at {point.slot}, not at {render(self.range[0])}")
        if self.last is not None and (point.prev_hash != self.last.hash or point.slot <= self.last.slot):
            yield move.violation(
                "BF-ORDER-01",
                f"block at slot {point.slot} does not follow the block at slot {self.last.slot}",
            )

    def batch_done_problems(self, move: Move) -> Iterator[Violation]:
        low, high = self.bounds()
        if self.blocks == 0:
            yield move.violation("BF-RANGE-03", "a batch without blocks; an empty range gets MsgNoBlocks")
        elif self.unreadable == 0 and high is not None and self.last is not None:
            if (self.last.slot, self.last.hash) != high:
                yield move.violation(
                    "BF-RANGE-03", f"the batch ends at slot {self.last.slot}, not at {render(self.range[1])}"
                )

    def commit(self, move: Move) -> None:
        if move.name == "MsgRequestRange":
            fields = fields_of(move)
            self.range = (fields.get("from_point"), fields.get("to_point"))
        elif move.name == "MsgStartBatch":
            self.first = self.last = None
            self.blocks = self.unreadable = 0
        elif move.name == "MsgBlock":
            point = block_info(fields_of(move).get("block"))
            self.blocks += 1
            if point is None:
                self.unreadable += 1
            self.last = point if point is not None else self.last
            self.first = self.first or point


BLOCK_FETCH = ProtocolTable(
    name="block-fetch",
    title="BlockFetch",
    prefix="BF",
    mode="node-to-node",
    initial="BFIdle",
    states=(
        State("BFIdle", INITIATOR, bytes_(SMALL_BYTE_LIMIT), note="StIdle in the spec"),
        State("BFBusy", RESPONDER, bytes_(SMALL_BYTE_LIMIT), seconds(LONG_WAIT), "StBusy in the spec"),
        State(
            "BFStreaming",
            RESPONDER,
            bytes_(LARGE_BYTE_LIMIT),
            seconds(LONG_WAIT, note="per message"),
            "StStreaming in the spec",
        ),
        State("BFDone", NOBODY, note="StDone in the spec"),
    ),
    transitions=(
        Transition("MsgRequestRange", "BFIdle", "BFBusy", "range inclusive at both ends"),
        Transition("MsgClientDone", "BFIdle", "BFDone"),
        Transition("MsgStartBatch", "BFBusy", "BFStreaming"),
        Transition("MsgNoBlocks", "BFBusy", "BFIdle", "the server does not have the whole range"),
        Transition("MsgBlock", "BFStreaming", "BFStreaming"),
        Transition("MsgBatchDone", "BFStreaming", "BFIdle"),
    ),
    pipelining=Pipelining(
        side=INITIATOR,
        messages=frozenset({"MsgRequestRange"}),
        return_state="BFIdle",
        busy_states=frozenset({"BFBusy", "BFStreaming"}),
        max_depth=MAX_REQUESTS_IN_FLIGHT,
        note="the node's fetch client keeps up to 100 requests in flight; replies come in order",
    ),
    illegal={
        ("BFBusy", "MsgBlock"): "BF-BATCH-01",
        ("BFBusy", "MsgBatchDone"): "BF-BATCH-01",
        ("BFIdle", "MsgBlock"): "BF-BATCH-01",
    },
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/BlockFetch/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/BlockFetch/Codec.hs",
        "network spec: miniprotocols.tex, Block-Fetch",
        "CDDL: block-fetch.cddl",
    ),
    note="MsgBlock carries #6.24(bytes .cbor [blockTag, block]); blockTag is the HFC index + 1 after Byron.",
    rules=BlockFetchRules,
)
