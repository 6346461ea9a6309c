"""The wire declarations and the protocol tables describe the same protocols the same way."""

from __future__ import annotations

import pytest

from conformance import protocol, wire


@pytest.mark.parametrize("name", sorted(wire.CODECS))
def test_every_protocol_has_a_table_with_the_same_messages(name: str) -> None:
    table = protocol.TABLES[name]
    assert {t.message for t in table.transitions} == set(wire.CODECS[name].messages)


@pytest.mark.parametrize("name", sorted(wire.CODECS))
def test_declared_states_are_the_states_the_table_sends_each_message_from(name: str) -> None:
    """wire.decode(..., state=S) uses each declaration's states; they must be the table's source states."""
    table = protocol.TABLES[name]
    for declaration in wire.CODECS[name].messages.values():
        sources = {t.source for t in table.transitions if t.message == declaration.name}
        assert set(declaration.states) == sources, declaration.name


@pytest.mark.parametrize("name", sorted(wire.CODECS))
def test_mini_protocol_numbers_agree(name: str) -> None:
    assert protocol.TABLES[name].number == wire.CODECS[name].number
