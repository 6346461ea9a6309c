"""ChainSync: node-to-node (headers, mini-protocol 2) and node-to-client (blocks, 5).

Sources: `Ouroboros.Network.Protocol.ChainSync.{Type,Codec}`,
`Cardano.Network.Protocol.ChainSync.Codec.TimeLimits` (PROTOCOLS.md section 5).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from conformance.wire import DecodeError, cbor

from .fields import fields_of
from .limits import SHORT_WAIT, SMALL_BYTE_LIMIT, bytes_, seconds
from .points import NotAPoint, point_key, point_slot, render, tip_block_no, tip_point
from .rules import Move, Rules, is_word
from .table import INITIATOR, NOBODY, RESPONDER, CodecRule, Pipelining, ProtocolTable, State, Transition
from .violations import Violation

CHAIN_SYNC_IDLE_TIMEOUT = 3373.0
"""`ChainSyncIdleTimeout` default in cardano-diffusion; the spec says 3673 s."""
MIN_MUST_REPLY_TIMEOUT = 601.0
MAX_MUST_REPLY_TIMEOUT = 911.0
PIPELINING_HIGH_MARK = 300
"""`chainSyncPipeliningHighMark`: the node's client never has more requests in flight."""
BLOCK_TAGS = range(0, 9)
"""Block tags of a node-to-client block: 0 Byron EBB, 1 Byron main, then the HFC era index + 1."""


class ChainSyncRules(Rules):
    """Intersections, tips, rollbacks and the era order of what is rolled forward (the era wrapping of a
    header is the wire declaration's to check: the table's codec rules name CS-HEADER-01)."""

    local = False
    requirements: ClassVar[tuple[str, ...]] = (
        "CS-INTERSECT-01",
        "CS-INTERSECT-02",
        "CS-TIP-01",
        "CS-ROLLBACK-01",
        "CS-HEADER-02",
    )

    def __init__(self, version: int | None = None) -> None:
        super().__init__(version)
        self.requested: list[Any] = []
        self.tip: int | None = None
        self.intersection: Any = None
        self.after_intersection = False
        self.era: int | None = None

    def check(self, move: Move) -> Iterator[Violation]:
        name = move.name
        if name not in ("MsgRollForward", "MsgRollBackward", "MsgIntersectFound", "MsgIntersectNotFound"):
            return
        fields = fields_of(move)
        yield from self.tip_problems(move, fields.get("tip"))
        if name == "MsgIntersectFound":
            yield from self.intersection_problems(move, fields.get("point"))
        elif name == "MsgRollBackward":
            yield from self.rollback_problems(move, fields.get("point"), fields.get("tip"))
        elif name == "MsgRollForward":
            if self.after_intersection:
                yield move.violation(
                    "CS-INTERSECT-02",
                    f"the first reply after MsgIntersectFound rolls forward instead of back to "
                    f"{render(self.intersection)}",
                )
            yield from self.payload_problems(move)

    def tip_problems(self, move: Move, tip: Any) -> Iterator[Violation]:
        number = tip_block_no(tip)
        try:
            point_key(tip_point(tip))
        except NotAPoint:
            number = None
        if number is None:
            yield move.violation("CS-TIP-01", f"{tip!r} is not a tip")
        elif move.name != "MsgRollBackward" and self.tip is not None and number < self.tip:
            yield move.violation(
                "CS-TIP-01", f"the tip moved back from block {self.tip} to {number} without a rollback"
            )

    def intersection_problems(self, move: Move, point: Any) -> Iterator[Violation]:
        try:
            found = point_key(point)
            requested = {point_key(p) for p in self.requested}
        except NotAPoint as error:
            yield move.violation("CS-INTERSECT-01", str(error))
            return
        if found not in requested:
            yield move.violation(
                "CS-INTERSECT-01",
                f"intersection {render(point)} is not one of the requested points "
                f"[{', '.join(render(p) for p in self.requested)}]",
            )

    def rollback_problems(self, move: Move, point: Any, tip: Any) -> Iterator[Violation]:
        try:
            slot = point_slot(point)
            tip_slot = point_slot(tip_point(tip))
        except NotAPoint as error:
            yield move.violation("CS-ROLLBACK-01", str(error))
            return
        if slot > tip_slot:
            yield move.violation(
                "CS-ROLLBACK-01", f"roll back to {render(point)}, after the tip {render(tip_point(tip))}"
            )
        if self.after_intersection and slot > point_slot(self.intersection):
            yield move.violation(
                "CS-INTERSECT-02",
                f"the first rollback after MsgIntersectFound goes to {render(point)}, "
                f"after the intersection {render(self.intersection)}",
            )

    def payload_problems(self, move: Move) -> Iterator[Violation]:
        era = _era(fields_of(move).get("header"))
        if era is not None and self.era is not None and era < self.era:
            yield move.violation(
                "CS-HEADER-02", f"a header of era {era} follows one of era {self.era} without a rollback"
            )

    def commit(self, move: Move) -> None:
        name, fields = move.name, fields_of(move)
        if name == "MsgFindIntersect":
            self.requested = list(fields.get("points") or [])
        if name in ("MsgRollForward", "MsgRollBackward", "MsgIntersectFound", "MsgIntersectNotFound"):
            self.tip = tip_block_no(fields.get("tip"))
        if name in ("MsgRollForward", "MsgRollBackward"):
            self.after_intersection = False
        if name == "MsgIntersectFound":
            self.intersection = fields.get("point")
            self.after_intersection = True
            self.era = None
        if name == "MsgRollBackward":
            self.era = None
        if name == "MsgRollForward" and not self.local:
            self.era = _era(fields.get("header"))


def _era(header: Any) -> int | None:
    """The era index of a decoded header ({"era", ...}), or None."""
    era = header.get("era") if isinstance(header, Mapping) else None
    return era if is_word(era, 8) else None


class LocalChainSyncRules(ChainSyncRules):
    """Node-to-client: MsgRollForward carries a whole block, `[blockTag, block]` inside tag 24."""

    local = True
    requirements = tuple(r for r in ChainSyncRules.requirements if not r.startswith("CS-HEADER"))
    requirements = requirements + ("CS-BLOCK-01",)

    def payload_problems(self, move: Move) -> Iterator[Violation]:
        block = fields_of(move).get("block")
        if not _tagged_block(block):
            yield move.violation(
                "CS-BLOCK-01", f"the block is not the CBOR of [block tag {BLOCK_TAGS[0]}..{BLOCK_TAGS[-1]}, block]"
            )


def _tagged_block(block: Any) -> bool:
    """Whether embedded bytes decode (in any head width the node accepts) to `[blockTag 0..8, block]`."""
    if not isinstance(block, (bytes, bytearray)):
        return False
    try:
        item, _ = cbor.decode_item(bytes(block))
    except DecodeError:
        return False
    return (
        isinstance(item, list)
        and not getattr(item, "indefinite", False)
        and len(item) == 2
        and is_word(item[0], 8)
        and item[0] in BLOCK_TAGS
    )


def _transitions() -> tuple[Transition, ...]:
    return (
        Transition("MsgRequestNext", "StIdle", "StCanAwait"),
        Transition("MsgAwaitReply", "StCanAwait", "StMustReply"),
        Transition("MsgRollForward", "StCanAwait", "StIdle"),
        Transition("MsgRollBackward", "StCanAwait", "StIdle"),
        Transition("MsgRollForward", "StMustReply", "StIdle"),
        Transition("MsgRollBackward", "StMustReply", "StIdle"),
        Transition("MsgFindIntersect", "StIdle", "StIntersect"),
        Transition("MsgIntersectFound", "StIntersect", "StIdle"),
        Transition("MsgIntersectNotFound", "StIntersect", "StIdle"),
        Transition("MsgDone", "StIdle", "StDone"),
    )


_BUSY = frozenset({"StCanAwait", "StMustReply", "StIntersect"})
_ILLEGAL = {("StMustReply", "MsgAwaitReply"): "CS-AWAIT-01"}
_SOURCES = (
    "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/ChainSync/Type.hs",
    "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/ChainSync/Codec.hs",
    "network spec: miniprotocols.tex, Chain-Sync",
    "CDDL: chain-sync.cddl",
)


def _pipelining(max_depth: int | None, note: str) -> Pipelining:
    """The client may run ahead with MsgRequestNext and MsgFindIntersect; replies come back in order."""
    return Pipelining(
        side=INITIATOR,
        messages=frozenset({"MsgRequestNext", "MsgFindIntersect"}),
        return_state="StIdle",
        busy_states=_BUSY,
        max_depth=max_depth,
        note=note,
    )


CHAIN_SYNC = ProtocolTable(
    name="chain-sync",
    title="ChainSync (node-to-node, headers)",
    prefix="CS",
    mode="node-to-node",
    initial="StIdle",
    states=(
        State(
            "StIdle",
            INITIATOR,
            bytes_(SMALL_BYTE_LIMIT),
            seconds(CHAIN_SYNC_IDLE_TIMEOUT, spec=3673.0, note="configurable ChainSyncIdleTimeout"),
        ),
        State("StCanAwait", RESPONDER, bytes_(SMALL_BYTE_LIMIT), seconds(SHORT_WAIT), "StNext StCanAwait"),
        State(
            "StMustReply",
            RESPONDER,
            bytes_(SMALL_BYTE_LIMIT),
            seconds(
                MIN_MUST_REPLY_TIMEOUT,
                note="untrusted peer: uniform random in [601 s, 911 s] per entry, so 601 s is the safe "
                "bound; trusted peer: none",
            ),
            "StNext StMustReply",
        ),
        State("StIntersect", RESPONDER, bytes_(SMALL_BYTE_LIMIT), seconds(SHORT_WAIT)),
        State("StDone", NOBODY),
    ),
    transitions=_transitions(),
    pipelining=_pipelining(
        PIPELINING_HIGH_MARK, "the node's client pipelines MsgRequestNext between low/high marks 200/300"
    ),
    illegal=_ILLEGAL,
    codec_rules=(CodecRule("MsgRollForward", "$.header", "CS-HEADER-01", prefix=True),),
    sources=_SOURCES + ("ON:cardano-diffusion/protocols/lib/Cardano/Network/Protocol/ChainSync/Codec/TimeLimits.hs",),
    note="MsgRollForward carries a header wrapped per era: [eraIndex, header].",
    rules=ChainSyncRules,
)

LOCAL_CHAIN_SYNC = ProtocolTable(
    name="local-chain-sync",
    title="ChainSync (node-to-client, blocks)",
    prefix="CS",
    mode="node-to-client",
    initial="StIdle",
    states=(
        State("StIdle", INITIATOR),
        State("StCanAwait", RESPONDER, note="StNext StCanAwait"),
        State("StMustReply", RESPONDER, note="StNext StMustReply"),
        State("StIntersect", RESPONDER),
        State("StDone", NOBODY),
    ),
    transitions=_transitions(),
    pipelining=_pipelining(None, "local clients (e.g. db-sync) may pipeline; node-to-client has no limits"),
    illegal=_ILLEGAL,
    codec_rules=(CodecRule("MsgRollForward", "$.block", "CS-BLOCK-01", prefix=True),),
    sources=_SOURCES + ("OC:ouroboros-consensus-diffusion/.../Consensus/Network/NodeToClient.hs",),
    note="MsgRollForward carries a whole block: #6.24(bytes .cbor [blockTag, block]). No limits.",
    rules=LocalChainSyncRules,
)
