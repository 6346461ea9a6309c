"""Ill-typed messages built in code, and sessions brought to where each message is legal.

Test helper (also used by benchmarks/bench_engine.py). Only the wire declarations and the protocol tables
are read: a path of transitions from the initial state, each message drawn from the wire's own strategy
and observed as the bytes `wire.encode` makes, then one message of the kind under test whose fields are
broken in one place (a field replaced, dropped or added, a nested value replaced, the fields not a dict).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import strategies as st

from conformance import wire
from conformance.protocol import TABLES, FakeClock, ProtocolTable, Session, Transition, Violation
from conformance.wire.message import Message

HOSTILE_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.none(),
    st.booleans(),
    st.binary(max_size=4),
    st.lists(st.one_of(st.integers(min_value=-5, max_value=5), st.none(), st.text(max_size=2)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(min_value=-5, max_value=5), max_size=2),
)


def cases() -> list[tuple[str, str, str]]:
    """(protocol, state, message) for every transition source of every message of every table."""
    found = []
    for name, table in TABLES.items():
        for move in table.transitions:
            if (name, move.source, move.message) not in found:
                found.append((name, move.source, move.message))
    return found


def path_to(table: ProtocolTable, state: str) -> list[Transition]:
    """The shortest list of transitions from the initial state to `state` (breadth first)."""
    paths: dict[str, list[Transition]] = {table.initial: []}
    queue = deque([table.initial])
    while queue:
        here = queue.popleft()
        for move in table.transitions_from(here):
            if move.target not in paths:
                paths[move.target] = [*paths[here], move]
                queue.append(move.target)
    return paths[state]


def valid_fields(protocol: str, name: str) -> st.SearchStrategy[dict[str, Any]]:
    return wire.codec(protocol).messages[name].strategy()


def wire_bytes(data: st.DataObject, protocol: str, move: Transition) -> bytes:
    """The bytes of a valid `move.message` that takes `move` (its `when` field set as the table needs)."""
    fields = dict(data.draw(valid_fields(protocol, move.message)))
    if move.when is not None:
        fields[move.when[0]] = move.when[1]
    return wire.encode(Message(protocol, move.message, fields))


def reach(data: st.DataObject, protocol: str, state: str, **options: Any) -> Session | None:
    """A session of `protocol` in `state`, reached from bytes; violations of rules on the way are recorded
    (None when the session ends elsewhere, e.g. a rule-level refusal where recording is not available)."""
    table = TABLES[protocol]
    session = Session(protocol, clock=FakeClock(), **options)
    for move in path_to(table, state):
        try:
            session.observe(table.sender_of(move.message), wire_bytes(data, protocol, move))
        except Violation:
            return None
    return session if session.state == state else None


def random_step(data: st.DataObject, session: Session) -> bool:
    """Observe one valid message (bytes) that the table allows now, pipelined ones included; False when
    nobody may send."""
    table = session.table
    choices = []
    for sender in ("initiator", "responder"):
        state = session.state
        if session.agency != sender and table.pipelining is not None:
            state = table.pipelining.return_state
        for name in session.allowed(sender):
            choices.extend((sender, move) for move in table.transitions_from(state) if move.message == name)
    if not choices:
        return False
    sender, move = data.draw(st.sampled_from(choices))
    session.observe(sender, wire_bytes(data, session.name, move))
    return True


def _paths(value: Any, depth: int = 0) -> list[tuple[Any, ...]]:
    """Every place inside a decoded value (dict keys, list indexes), shallow first."""
    if depth > 4:
        return []
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    for key, inner in items:
        found.append((key,))
        found.extend((key, *rest) for rest in _paths(inner, depth + 1))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, key: _replaced(value[key], rest, new)}
    copy = list(value)
    copy[key] = _replaced(value[key], rest, new)
    return copy


@st.composite
def ill_typed(draw: st.DrawFn, protocol: str, name: str) -> Message:
    """A `name` message of `protocol` whose fields the wire declaration refuses somewhere (or, rarely,
    happens to accept: the engine must then judge it like any other message)."""
    fields = dict(draw(valid_fields(protocol, name)))
    places = _paths(fields)
    how = draw(st.sampled_from(["replace", "drop", "add", "not-a-dict"] if places else ["add", "not-a-dict"]))
    hostile = draw(HOSTILE_VALUES)
    broken: Any
    if how == "replace":
        broken = _replaced(fields, draw(st.sampled_from(places)), hostile)
    elif how == "drop":
        broken = dict(fields)
        del broken[draw(st.sampled_from(sorted(fields)))]
    elif how == "add":
        broken = {**fields, draw(st.text(min_size=1, max_size=4)): hostile}
    else:
        broken = hostile
    return Message(protocol, name, broken)
