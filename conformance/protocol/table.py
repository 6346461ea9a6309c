"""A mini-protocol described as data: states, agency, transitions, limits and pipelining.

One `ProtocolTable` per mini-protocol; the generic engine (`engine.Session`) runs any of them. A
(state, message) pair that is not a listed transition is illegal; `illegal` only names a more specific
requirement id for some of those pairs (e.g. chain-sync's second MsgAwaitReply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from .limits import NO_LIMIT, Limit

if TYPE_CHECKING:
    from .rules import Rules

Side = Literal["initiator", "responder"]
Agency = Literal["initiator", "responder", "nobody"]

INITIATOR: Side = "initiator"
RESPONDER: Side = "responder"
NOBODY: Agency = "nobody"
SIDES: tuple[Side, Side] = (INITIATOR, RESPONDER)


def other(side: Side) -> Side:
    """The peer of `side`."""
    return RESPONDER if side == INITIATOR else INITIATOR


@dataclass(frozen=True)
class State:
    """A protocol state: who may send in it, and the limits the receiving side applies to that message."""

    name: str
    agency: Agency
    byte_limit: Limit = NO_LIMIT
    time_limit: Limit = NO_LIMIT
    note: str = ""

    @property
    def terminal(self) -> bool:
        return self.agency == NOBODY


@dataclass(frozen=True)
class Transition:
    """`message`, sent by the side with agency in `source`, moves the protocol to `target`."""

    message: str
    source: str
    target: str
    note: str = ""
    when: tuple[str, Any] | None = None
    """(field, value) for a message whose target depends on a field, e.g. MsgRequestTxIds' blocking flag."""

    def matches(self, fields: Mapping[str, Any] | None) -> bool:
        return self.when is None or fields is None or fields.get(self.when[0]) == self.when[1]


@dataclass(frozen=True)
class Pipelining:
    """Which requests `side` may send before the replies to its earlier requests have arrived.

    Every pipelined request is answered in order and the replies bring the protocol back to
    `return_state`, where `side` has agency; a pipelined message is checked as if sent from there.
    `busy_states` are the states in which the peer still owes a reply to a pipelinable request.
    """

    side: Side
    messages: frozenset[str]
    return_state: str
    busy_states: frozenset[str]
    max_depth: int | None = None
    note: str = ""


@dataclass(frozen=True)
class CodecRule:
    """Bytes of `message` that fail to decode at `path` break `requirement`, not only the codec rule.

    The wire declaration is the one home of a shape constraint (a word16 cookie, an indefinite list);
    this row lets the report name the requirement the refused bytes break. `prefix` also matches paths
    below `path`; `when` = (index path into the raw message, value) narrows the row to one alternative
    of a choice, e.g. `((1, 0), 2)` for a refuse reason whose discriminator is 2. `refusal` narrows it
    to one kind of decode error by class name, e.g. "NotInVersion" for a message the negotiated version
    does not have.
    """

    message: str
    path: str
    requirement: str
    prefix: bool = False
    when: tuple[tuple[int, ...], int] | None = None
    refusal: str | None = None

    def matches(self, error: Any, data: bytes | None) -> bool:
        path = getattr(error, "path", "") or ""
        if getattr(error, "message", None) != self.message:
            return False
        if self.refusal is not None and type(error).__name__ != self.refusal:
            return False
        if not (path == self.path or (self.prefix and path.startswith(self.path))):
            return False
        return self.when is None or _item_at(data, self.when[0]) == self.when[1]


def _item_at(data: bytes | None, where: tuple[int, ...]) -> Any:
    """The raw message's item at an index path, or None when the bytes do not reach it."""
    if data is None:
        return None
    from conformance.wire import DecodeError, cbor  # the wire layer, only once bytes failed to decode

    try:
        item, _ = cbor.decode_item(data)
    except DecodeError:
        return None
    for index in where:
        if not isinstance(item, list) or index >= len(item):
            return None
        item = item[index]
    return item


@dataclass(frozen=True)
class ProtocolTable:
    """Everything the engine needs to follow one mini-protocol, and everything its documentation shows."""

    name: str
    title: str
    prefix: str
    mode: Literal["node-to-node", "node-to-client"]
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    pipelining: Pipelining | None = None
    illegal: Mapping[tuple[str, str], str] = field(default_factory=dict)
    codec_rules: tuple[CodecRule, ...] = ()
    sources: tuple[str, ...] = ()
    note: str = ""
    rules: type[Rules] | None = None

    def __post_init__(self) -> None:
        names = [state.name for state in self.states]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate state names")
        if self.initial not in names:
            raise ValueError(f"{self.name}: initial state {self.initial} is not a state")
        seen: set[tuple[str, str, Any]] = set()
        for move in self.transitions:
            if move.source not in names or move.target not in names:
                raise ValueError(f"{self.name}: {move} names an unknown state")
            if (move.source, move.message, move.when) in seen:
                raise ValueError(f"{self.name}: {move.message} listed twice from {move.source}")
            seen.add((move.source, move.message, move.when))
            if self.state(move.source).terminal:
                raise ValueError(f"{self.name}: {move.message} leaves terminal state {move.source}")
        for row in self.codec_rules:
            if row.message not in self.messages:
                raise ValueError(f"{self.name}: codec rule for unknown message {row.message}")
        for message in self.messages:
            if len({self.state(m.source).agency for m in self.transitions if m.message == message}) != 1:
                raise ValueError(f"{self.name}: {message} is sent by more than one side")

    @property
    def number(self) -> int:
        """The mini-protocol number on the mux, read from the wire codec of the same name (its one home)."""
        from conformance import wire

        number = wire.codec(self.name).number
        if number is None:
            raise ValueError(f"{self.name}: the wire codec declares no mini-protocol number")
        return number

    @cached_property
    def _states(self) -> dict[str, State]:
        return {state.name: state for state in self.states}

    @cached_property
    def _moves(self) -> dict[tuple[str, str], tuple[Transition, ...]]:
        moves: dict[tuple[str, str], tuple[Transition, ...]] = {}
        for move in self.transitions:
            moves[(move.source, move.message)] = moves.get((move.source, move.message), ()) + (move,)
        return moves

    @cached_property
    def messages(self) -> tuple[str, ...]:
        """Every message name of the protocol, in table order."""
        return tuple(dict.fromkeys(move.message for move in self.transitions))

    def state(self, name: str) -> State:
        return self._states[name]

    def transition(self, state: str, message: str, fields: Mapping[str, Any] | None = None) -> Transition | None:
        """The listed transition for `message` (with these fields) in `state`, or None: a missing key is
        illegal. Without `fields`, any transition of `message` from `state`."""
        for move in self._moves.get((state, message), ()):
            if move.matches(fields):
                return move
        return None

    def transitions_from(self, state: str) -> tuple[Transition, ...]:
        return tuple(move for move in self.transitions if move.source == state)

    def sender_of(self, message: str) -> Side:
        """The side that sends `message` (the agency of every state it leaves)."""
        for move in self.transitions:
            if move.message == message:
                agency = self.state(move.source).agency
                if agency != NOBODY:
                    return INITIATOR if agency == INITIATOR else RESPONDER
        raise KeyError(f"{self.name} has no message {message}")

    def requirement(self, kind: str) -> str:
        """The id of one of the rules every table carries: AGENCY, MSG, CODEC, BYTES, TIME, PIPE."""
        return f"{self.prefix}-{kind}-01"

    def codec_requirement(self, error: Any, data: bytes | None = None) -> str:
        """The requirement that bytes refused by the decoder with `error` break: the first matching
        `codec_rules` row, else the protocol's generic codec rule."""
        for row in self.codec_rules:
            if row.matches(error, data):
                return row.requirement
        return self.requirement("CODEC")

    @property
    def has_byte_limits(self) -> bool:
        return any(state.byte_limit.bounded for state in self.states)

    @property
    def has_time_limits(self) -> bool:
        return any(state.time_limit.bounded for state in self.states)

    def table_requirements(self) -> tuple[str, ...]:
        """The ids the generic engine can raise for this table."""
        kinds = ["AGENCY", "MSG", "CODEC"]
        if self.has_byte_limits:
            kinds.append("BYTES")
        if self.has_time_limits:
            kinds.append("TIME")
        ids = [self.requirement(kind) for kind in kinds]
        if self.pipelining is not None:
            side = self.pipelining.side
            if any(self.sender_of(m) == side and m not in self.pipelining.messages for m in self.messages):
                ids.append(self.requirement("PIPE"))
            if self.pipelining.max_depth is not None:
                ids.append(f"{self.prefix}-PIPE-02")
        ids.extend(self.illegal.values())
        ids.extend(row.requirement for row in self.codec_rules)
        return tuple(dict.fromkeys(ids))
