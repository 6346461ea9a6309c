"""Every (state, message, sender) combination of every table is either a listed transition or a violation.

Messages are observed as the bytes `wire.encode` gives; a combination that bytes cannot express (a
message whose tag is read as another message legal in that state) is recognised as such.
"""

from __future__ import annotations

import copy
import random

import pytest

from conformance import wire
from conformance.protocol import (
    TABLES,
    AgencyViolation,
    DecodeViolation,
    PipeliningViolation,
    ProtocolTable,
    State,
    Transition,
    UnexpectedMessage,
)
from conformance.protocol.fields import UndeclaredField, fields_of
from conformance.protocol.rules import Move
from conformance.protocol.table import CodecRule
from conformance.wire import cbor
from conformance.wire.message import Message

from .moves import BASE, encode, legal_fields, reach

UNKNOWN_TAG = cbor.encode_item([99])
"""Bytes of a message no protocol declares."""

SIDES = ("initiator", "responder")


def _legal_by_table(table: ProtocolTable, state: str, sender: str, message: str) -> bool:
    agency = table.state(state).agency
    if message not in table.messages:
        return False
    if agency == sender and table.transition(state, message) is not None:
        return True
    pipelining = table.pipelining
    return (
        pipelining is not None
        and sender == pipelining.side
        and state in pipelining.busy_states
        and message in pipelining.messages
    )


@pytest.mark.parametrize("name", list(TABLES))
def test_every_state_message_and_sender_is_a_transition_or_a_violation(name: str) -> None:
    table = TABLES[name]
    rnd = random.Random(7)
    exercised: set[tuple[str, str]] = set()
    allowed_ids = set(table.table_requirements())
    for state in table.states:
        start = reach(name, state.name)
        for message in (*table.messages, "MsgBogus"):
            for sender in SIDES:
                session = copy.deepcopy(start)
                if _legal_by_table(table, state.name, sender, message):
                    fields = legal_fields(session, sender, message, rnd)
                    if fields is None:
                        session = reach(
                            name,
                            state.name,
                            where=lambda s, m=message, who=sender: (
                                legal_fields(s, who, m, random.Random(7)) is not None
                            ),
                        )
                        fields = legal_fields(session, sender, message, random.Random(7))
                    pending = len(session.pending)
                    after = session.observe(sender, encode(name, message, **fields))
                    if sender == table.state(state.name).agency:
                        move = table.transition(state.name, message, fields)
                        assert move is not None and after == move.target
                        exercised.add((state.name, message))
                    else:
                        assert len(session.pending) == pending + 1 or after != state.name
                    continue
                data = UNKNOWN_TAG if message == "MsgBogus" else encode(name, message)
                try:
                    session.observe(sender, data)
                except (AgencyViolation, UnexpectedMessage, PipeliningViolation, DecodeViolation) as violation:
                    assert violation.requirement in allowed_ids, (state.name, message, sender)
                    assert violation.sender == sender and violation.protocol == name
                    assert session.state == start.state and session.pending == start.pending
                else:  # the tag is shared: the bytes are the message of that tag allowed here
                    assert session.history[-1].message.name != message, (state.name, message, sender)
    listed = {(move.source, move.message) for move in table.transitions}
    assert listed - exercised == set()


@pytest.mark.parametrize("name", list(TABLES))
def test_table_shape(name: str) -> None:
    table = TABLES[name]
    assert table.name == name
    assert table.state(table.initial).agency == "initiator"
    assert sum(state.terminal for state in table.states) == 1
    for state in table.states:
        assert state.terminal == (not table.transitions_from(state.name)), state.name
    if table.pipelining is not None:
        assert table.state(table.pipelining.return_state).agency == table.pipelining.side
        for busy in table.pipelining.busy_states:
            assert table.state(busy).agency not in (table.pipelining.side, "nobody")
    for (state, message), requirement in table.illegal.items():
        assert table.transition(state, message) is None
        assert requirement.startswith(table.prefix + "-")
    if table.mode == "node-to-client":
        assert not table.has_time_limits
        assert not any(s.byte_limit.bounded for s in table.states) or name == "n2c-handshake"


def test_a_malformed_table_is_refused() -> None:
    states = (State("StIdle", "initiator"), State("StDone", "nobody"))
    with pytest.raises(ValueError, match="unknown state"):
        ProtocolTable(
            "x", "X", "XX", "node-to-node", "StIdle", states, (Transition("M", "StIdle", "StGone"),)
        )
    with pytest.raises(ValueError, match="terminal"):
        ProtocolTable(
            "x", "X", "XX", "node-to-node", "StIdle", states, (Transition("M", "StDone", "StIdle"),)
        )
    with pytest.raises(ValueError, match="initial"):
        ProtocolTable("x", "X", "XX", "node-to-node", "StNowhere", states, ())
    with pytest.raises(ValueError, match="codec rule for unknown message"):
        ProtocolTable(
            "x",
            "X",
            "XX",
            "node-to-node",
            "StIdle",
            states,
            (Transition("M", "StIdle", "StDone"),),
            codec_rules=(CodecRule("MsgOther", "$.x", "XX-X-01"),),
        )
    with pytest.raises(ValueError, match="listed twice"):
        ProtocolTable(
            "x", "X", "XX", "node-to-node", "StIdle", states,
            (Transition("M", "StIdle", "StDone"), Transition("M", "StIdle", "StIdle")),
        )  # fmt: skip


def test_the_haskell_values_are_kept_with_the_spec_values_beside_them() -> None:
    idle = TABLES["chain-sync"].state("StIdle").time_limit
    assert (idle.value, idle.spec) == (3373.0, 3673.0)
    init = TABLES["tx-submission2"].state("StInit").byte_limit
    assert (init.value, init.spec) == (65_535, 5_760)
    assert TABLES["block-fetch"].state("BFStreaming").byte_limit.value == 2_500_000
    assert TABLES["keep-alive"].state("StClient").time_limit.value == 97.0
    assert TABLES["chain-sync"].pipelining.max_depth == 300  # type: ignore[union-attr]
    assert TABLES["block-fetch"].pipelining.max_depth == 100  # type: ignore[union-attr]


# -- rules read fields by the names the wire declares -------------------------------------------------


def _move(protocol: str, name: str) -> Move:
    message = wire.decode(protocol, encode(protocol, name))
    return Move(protocol, "StIdle", "StIdle", "initiator", "initiator", message)


def test_a_field_name_the_declaration_lacks_fails_loudly() -> None:
    sizes = fields_of(_move("local-tx-monitor", "MsgReplyGetSizes"))
    assert sizes["sizes"]["capacity"] == BASE[("local-tx-monitor", "MsgReplyGetSizes")]["sizes"]["capacity"]
    with pytest.raises(UndeclaredField, match="capacity"):
        sizes.get("capacity")
    with pytest.raises(UndeclaredField, match="bogus"):
        sizes["sizes"].get("bogus")
    bogus = Message("keep-alive", "MsgBogus", {})
    with pytest.raises(UndeclaredField, match="MsgBogus"):
        fields_of(Move("keep-alive", "StClient", "StServer", "initiator", "initiator", bogus))


@pytest.mark.parametrize("name", [n for n, t in TABLES.items() if t.rules is not None])
def test_every_rule_reads_only_declared_fields_of_every_message(name: str) -> None:
    """Each rule checker sees a wire-decoded instance of every message it can receive, in every source
    state: a read of an undeclared field name would raise UndeclaredField here."""
    table = TABLES[name]
    assert table.rules is not None
    for transition in table.transitions:
        rules = table.rules()
        message = wire.decode(name, encode(name, transition.message))
        sender = table.sender_of(transition.message)
        agency = table.state(transition.source).agency
        move = Move(name, transition.source, transition.target, agency, sender, message)
        list(rules.check_sent(move))
        list(rules.check(move))
        rules.commit(move)
