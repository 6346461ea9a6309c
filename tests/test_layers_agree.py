"""The wire declarations and the protocol tables describe the same protocols the same way."""

from __future__ import annotations

import pytest

from conformance import protocol, wire
from conformance.wire.handshake import N2N_VERSION_DATA


@pytest.mark.parametrize("name", sorted(wire.CODECS))
def test_every_protocol_has_a_table_with_the_same_messages(name: str) -> None:
    table = protocol.TABLES[name]
    assert {t.message for t in table.transitions} == set(wire.CODECS[name].messages)


@pytest.mark.parametrize("name", sorted(wire.CODECS))
def test_declared_states_are_the_states_the_table_sends_each_message_from(name: str) -> None:
    """wire.decode(..., state=S) uses each declaration's states; they must be the table's source states.

    Written twice on purpose, and guarded here: the wire layer may not import the protocol tables
    (nothing imports upward), and a table's transitions also say where each message leads, which the
    wire declarations cannot. So neither can be derived from the other cheaply."""
    table = protocol.TABLES[name]
    for declaration in wire.CODECS[name].messages.values():
        sources = {t.source for t in table.transitions if t.message == declaration.name}
        assert set(declaration.states) == sources, declaration.name


@pytest.mark.parametrize("mode", sorted(protocol.mux.MINI_PROTOCOLS))
def test_mini_protocol_numbers_are_distinct_within_a_mode(mode: str) -> None:
    """Numbers have one home (the wire codec, or the mux table for a protocol the wire does not declare);
    the tables read them, so what can still go wrong is two protocols of one mode sharing a number."""
    rows = protocol.mux.MINI_PROTOCOLS[mode]  # type: ignore[index]
    assert len({row.number for row in rows}) == len(rows)
    for row in rows:
        if row.name in protocol.TABLES:
            assert protocol.TABLES[row.name].number == row.number


def test_every_mux_requirement_names_a_declared_version_data_field() -> None:
    """A mini-protocol that runs only when negotiated names a field of the wire's version data; a name the
    declarations do not have would silently never enable it."""
    declared = {name for record in N2N_VERSION_DATA.values() for name, _ in record.fields}
    required = {row.requires for row in protocol.mux.MINI_PROTOCOLS["node-to-node"] if row.requires}
    assert required and required <= declared
