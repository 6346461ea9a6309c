"""LocalStateQuery server (node-to-client 7) over a chain view: acquire, the era-independent queries, release.

Acquiring, as the node's server does: the volatile tip and the immutable tip (N2C v16 and later) always
succeed; a specific point succeeds when it is on the chain and not older than the immutable tip, else
MsgFailure PointTooOld (0: its slot is before the immutable tip's) or PointNotOnChain (1). What is
acquired stays fixed until MsgReAcquire or MsgRelease, however the chain moves.

Queries (`Ouroboros.Consensus.Ledger.Query`; N2C v16-v19 speak QueryVersion2, v20 and later
QueryVersion3): the top-level `[1]` GetSystemStart, answered `[year, dayOfYear, picosecondsOfDay]` (the
UTCTime encoding of cardano-binary); `[2]` GetChainBlockNo, answered `WithOrigin BlockNo` as the generic
Serialise encoding does (`[0]` at origin, `[1, blockNo]`); `[3]` GetChainPoint, answered as a point (`[]`
or `[slot, hash]`), all three of the acquired state. Of the block queries `[0, blockQuery]`, the hard-fork
combinator's GetCurrentEra `[0, [2, [1]]]` is answered from the chain: the era index (Byron 0 .. Conway 6,
a bare unsigned integer: `Serialise (EraIndex xs)` in ouroboros-consensus) of the acquired block, at the
origin that of the chain's first block. Every other block query needs a ledger: it is answered only from
`answers` (exact query bytes -> exact result bytes, e.g. golden pairs). Anything else (an unknown tag,
`[4]` GetLedgerConfig, a block query without an answer) ends the behaviour and closes the connection: the
node closes when its query decoder fails, and a client left waiting for an answer would hang.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from .agent import Action, BehaviourFactory, Finish, Negotiated, Send
from .txwire import IMMUTABLE_TIP_SINCE, ChainPoint, DecodeError, Message, decode_item, encode_item, plain_version

PROTOCOL = "local-state-query"
POINT_TOO_OLD = 0
POINT_NOT_ON_CHAIN = 1
MAINNET_SYSTEM_START = datetime(2017, 9, 23, 21, 44, 51, tzinfo=UTC)
GET_CURRENT_ERA = [2, [1]]
"""The hard-fork combinator's QueryHardFork GetCurrentEra, inside a BlockQuery `[0, ...]`."""
QUERY_VERSION_3_SINCE = 20
"""Node-to-client version from which QueryVersion3 (GetLedgerConfig, tag 4) is spoken."""

ChainTip = tuple[ChainPoint | None, int | None]
"""A point (None: origin) and the number of its block (None at origin)."""


class ChainView(Protocol):
    """The chain facts a local-state-query server needs (the chain store provides them)."""

    def tip(self) -> ChainTip:
        """The volatile tip: the newest block of the chain."""
        ...

    def immutable_tip(self) -> ChainTip:
        """The newest block that can no longer be rolled back (k blocks behind the tip)."""
        ...

    def block_no_at(self, point: ChainPoint) -> int | None:
        """The number of the block at `point` when it is on the chain, else None."""
        ...

    def era_at(self, point: ChainPoint | None) -> int:
        """The era index of the block at `point` (on the chain), or of the first block for the origin."""
        ...


def system_start_result(start: datetime) -> bytes:
    """SystemStart as cardano-binary encodes a UTCTime: `[year, dayOfYear, picosecondsOfDay]`."""
    start = start.astimezone(UTC)
    seconds = start.hour * 3600 + start.minute * 60 + start.second
    picoseconds = seconds * 10**12 + start.microsecond * 10**6
    return encode_item([start.year, start.timetuple().tm_yday, picoseconds])


def block_no_result(block_no: int | None) -> bytes:
    """WithOrigin BlockNo: `[0]` at origin, `[1, blockNo]`."""
    return encode_item([0] if block_no is None else [1, block_no])


def point_result(point: ChainPoint | None) -> bytes:
    return encode_item([] if point is None else [point.slot, point.hash])


def _point(value: Any) -> ChainPoint | None:
    """A wire point (`None`/`[]` for origin, else {"slot", "hash"}) as a `ChainPoint`."""
    if not value:
        return None
    return ChainPoint(int(value["slot"]), bytes(value["hash"]))


class LocalStateQueryServer:
    """See the module docstring."""

    protocol = PROTOCOL
    side = "responder"

    def __init__(
        self,
        chain: ChainView,
        negotiated: Negotiated | None = None,
        *,
        system_start: datetime = MAINNET_SYSTEM_START,
        answers: Mapping[bytes, bytes] | None = None,
    ) -> None:
        self.chain = chain
        self.version = plain_version(negotiated.version) if negotiated is not None else None
        self.system_start = system_start
        self.answers = dict(answers or {})
        self.acquired: ChainTip | None = None

    def start(self) -> Sequence[Action]:
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        name = message.name
        if name in ("MsgAcquire", "MsgReAcquire"):
            return self._acquire_point(_point(message.fields.get("point")))
        if name in ("MsgAcquireVolatileTip", "MsgReAcquireVolatileTip"):
            return self._acquired(self.chain.tip())
        if name in ("MsgAcquireImmutableTip", "MsgReAcquireImmutableTip"):
            if self.version is not None and self.version < IMMUTABLE_TIP_SINCE:
                return [Finish(f"{name} before node-to-client v{IMMUTABLE_TIP_SINCE}", close=True)]
            return self._acquired(self.chain.immutable_tip())
        if name == "MsgQuery":
            return self._query(bytes(message.fields["query"]))
        if name == "MsgRelease":
            self.acquired = None
            return []
        if name == "MsgDone":
            return [Finish("done")]
        return [Finish(f"unexpected {name} in the local-state-query server", close=True)]

    def _acquire_point(self, point: ChainPoint | None) -> list[Action]:
        immutable, _ = self.chain.immutable_tip()
        if point is None:
            if immutable is None:
                return self._acquired((None, None))
            return self._failure(POINT_TOO_OLD)
        if immutable is not None and point.slot < immutable.slot:
            return self._failure(POINT_TOO_OLD)
        block_no = self.chain.block_no_at(point)
        if block_no is None:
            return self._failure(POINT_NOT_ON_CHAIN)
        return self._acquired((point, block_no))

    def _acquired(self, where: ChainTip) -> list[Action]:
        self.acquired = where
        return [Send(Message(PROTOCOL, "MsgAcquired", {}))]

    def _failure(self, failure: int) -> list[Action]:
        self.acquired = None
        return [Send(Message(PROTOCOL, "MsgFailure", {"failure": failure}))]

    def _query(self, query: bytes) -> list[Action]:
        result = self.answer(query)
        if isinstance(result, str):
            return [Finish(result, close=True)]
        return [Send(Message(PROTOCOL, "MsgResult", {"result": result}))]

    def answer(self, query: bytes) -> bytes | str:
        """The result bytes of a query in the acquired state, or why the node would close instead."""
        if query in self.answers:
            return self.answers[query]
        try:
            item, _ = decode_item(query)
        except DecodeError as error:
            return f"Query: not CBOR: {error}"
        if not isinstance(item, list) or not item or not isinstance(item[0], int) or isinstance(item[0], bool):
            return "Query: invalid size and tag"
        size, tag = len(item), item[0]
        point, block_no = self.acquired if self.acquired is not None else (None, None)
        if (size, tag) == (1, 1):
            return system_start_result(self.system_start)
        if (size, tag) == (1, 2):
            return block_no_result(block_no)
        if (size, tag) == (1, 3):
            return point_result(point)
        if (size, tag) == (1, 4):
            if self.version is not None and self.version < QUERY_VERSION_3_SINCE:
                return "Query: GetLedgerConfig requires at least QueryVersion3"
            return "Query: GetLedgerConfig needs a ledger; the reference peer has none"
        if (size, tag) == (2, 0):
            if item[1] == GET_CURRENT_ERA:
                return encode_item(self.chain.era_at(point))
            return "Query: a BlockQuery needs a ledger; no answer was given for it"
        return f"Query: invalid size and tag ({size}, {tag})"


def server(chain: ChainView, **options: Any) -> BehaviourFactory:
    """A factory of servers over one chain view."""
    return lambda negotiated: LocalStateQueryServer(chain, negotiated, **options)
