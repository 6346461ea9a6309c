"""ChainSync: node-to-node (headers, mini-protocol 2) and node-to-client (blocks, 5).

Sources: `Ouroboros.Network.Protocol.ChainSync.{Type,Codec}`,
`Cardano.Network.Protocol.ChainSync.Codec.TimeLimits` (PROTOCOLS.md section 5).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from .limits import SHORT_WAIT, SMALL_BYTE_LIMIT, bytes_, seconds
from .points import NotAPoint, point_key, point_slot, render, tip_block_no, tip_point
from .rules import Move, Rules, is_word
from .table import INITIATOR, NOBODY, RESPONDER, Pipelining, ProtocolTable, State, Transition
from .violations import Violation

CHAIN_SYNC_IDLE_TIMEOUT = 3373.0
"""`ChainSyncIdleTimeout` default in cardano-diffusion; the spec says 3673 s."""
MIN_MUST_REPLY_TIMEOUT = 601.0
MAX_MUST_REPLY_TIMEOUT = 911.0
PIPELINING_HIGH_MARK = 300
"""`chainSyncPipeliningHighMark`: the node's client never has more requests in flight."""
LAST_ERA = 7


class ChainSyncRules(Rules):
    """Intersections, tips, rollbacks and the era wrapping of what is rolled forward."""

    local = False
    requirements: ClassVar[tuple[str, ...]] = (
        "CS-INTERSECT-01",
        "CS-INTERSECT-02",
        "CS-TIP-01",
        "CS-ROLLBACK-01",
        "CS-HEADER-01",
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
        name, fields = move.name, move.fields
        if name not in ("MsgRollForward", "MsgRollBackward", "MsgIntersectFound", "MsgIntersectNotFound"):
            return
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
        header = move.fields.get("header")
        if not isinstance(header, Mapping):
            yield move.violation("CS-HEADER-01", f"{header!r} is not [eraIndex, header]")
            return
        era = header.get("era")
        valid_era = isinstance(era, int) and not isinstance(era, bool) and 0 <= era <= LAST_ERA
        if not valid_era or not isinstance(era, int) or not isinstance(header.get("cbor"), (bytes, bytearray)):
            yield move.violation("CS-HEADER-01", f"{header!r} is not [eraIndex 0..{LAST_ERA}, header bytes]")
            return
        byron = {"byron_variant", "size_hint"} & set(header)
        if era == 0 and (header.get("byron_variant") not in (0, 1) or not is_word(header.get("size_hint"), 32)):
            yield move.violation("CS-HEADER-01", "a Byron header needs [[variant 0|1, sizeHint], bytes]")
        elif era != 0 and byron:
            yield move.violation("CS-HEADER-01", f"a header of era {era} carries the Byron fields {byron}")
        if self.era is not None and era < self.era:
            yield move.violation(
                "CS-HEADER-02", f"a header of era {era} follows one of era {self.era} without a rollback"
            )

    def commit(self, move: Move) -> None:
        name, fields = move.name, move.fields
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
            header = fields.get("header")
            self.era = header.get("era") if isinstance(header, Mapping) else None


class LocalChainSyncRules(ChainSyncRules):
    """Node-to-client: MsgRollForward carries a whole block, `[blockTag, block]` inside tag 24."""

    local = True
    requirements = tuple(r for r in ChainSyncRules.requirements if not r.startswith("CS-HEADER"))
    requirements = requirements + ("CS-BLOCK-01",)

    def payload_problems(self, move: Move) -> Iterator[Violation]:
        block = move.fields.get("block")
        if not isinstance(block, (bytes, bytearray)) or len(block) < 2 or block[0] != 0x82 or block[1] > 8:
            yield move.violation("CS-BLOCK-01", "the block is not the CBOR of [block tag 0..8, block]")


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
    number=2,
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
    sources=_SOURCES + ("ON:cardano-diffusion/protocols/lib/Cardano/Network/Protocol/ChainSync/Codec/TimeLimits.hs",),
    note="MsgRollForward carries a header wrapped per era: [eraIndex, header].",
    rules=ChainSyncRules,
)

LOCAL_CHAIN_SYNC = ProtocolTable(
    name="local-chain-sync",
    title="ChainSync (node-to-client, blocks)",
    prefix="CS",
    mode="node-to-client",
    number=5,
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
    sources=_SOURCES + ("OC:ouroboros-consensus-diffusion/.../Consensus/Network/NodeToClient.hs",),
    note="MsgRollForward carries a whole block: #6.24(bytes .cbor [blockTag, block]). No limits.",
    rules=LocalChainSyncRules,
)
