"""A client and a server table played against each other with random legal moves.

For every protocol a RuleBasedStateMachine lets either side make any legal move (pipelined ones
included), always as the bytes `wire.encode` produces, and checks that exactly one side has agency,
that the other side cannot move out of turn, and that no legal move is ever reported as a MUST violation.
"""

from __future__ import annotations

import os

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conformance.protocol import (
    TABLES,
    AgencyViolation,
    FakeClock,
    PipeliningViolation,
    Session,
    UnexpectedMessage,
)

from .moves import drawn, encode, legal_choices

SIDES = ("initiator", "responder")


class ProtocolMachine(RuleBasedStateMachine):
    protocol = ""

    def __init__(self) -> None:
        super().__init__()
        self.session = Session(self.protocol, clock=FakeClock())
        self.table = self.session.table

    @rule(data=st.data())
    def a_legal_move(self, data: st.DataObject) -> None:
        rnd = data.draw(st.randoms(use_true_random=False))
        choices = legal_choices(self.session, rnd)
        if not choices:
            return
        sender, name, fields = data.draw(st.sampled_from(choices))
        # the fields no rule constrains come from the wire declaration's own strategy
        self.session.observe(sender, drawn(self.protocol, name, data.draw, **fields))
        self.session.clock.advance(0.001)  # type: ignore[attr-defined]

    @rule(data=st.data())
    def a_move_out_of_turn_is_refused(self, data: st.DataObject) -> None:
        session = self.session
        sender = "initiator" if session.agency != "initiator" else "responder"
        if session.allowed(sender):
            return
        name = data.draw(st.sampled_from(self.table.messages))
        before = (session.state, session.pending, len(session.history))
        try:
            session.observe(sender, encode(self.protocol, name))
        except (AgencyViolation, UnexpectedMessage, PipeliningViolation) as violation:
            assert violation.sender == sender
        else:
            raise AssertionError(f"{sender} sent {name} out of turn in {session.state}")
        assert (session.state, session.pending, len(session.history)) == before

    @invariant()
    def exactly_one_side_has_agency(self) -> None:
        session = self.session
        if session.done:
            assert session.agency == "nobody"
            assert session.allowed("initiator") == session.allowed("responder") == ()
            return
        assert session.agency in SIDES
        other = "responder" if session.agency == "initiator" else "initiator"
        pipelinable = self.table.pipelining.messages if self.table.pipelining else frozenset()
        assert set(session.allowed(other)) <= pipelinable
        if not session.pending:
            assert session.allowed(session.agency)
        assert session.warnings == []


# Examples per machine come from the active profile (tests/conftest.py); steps per example follow it too.
STEPS = {"dev": 25, "ci": 40, "nightly": 100}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 25)

for _name in TABLES:
    _title = "".join(part.title() for part in _name.replace("2", "-2").split("-"))
    _machine = type(f"{_title}Machine", (ProtocolMachine,), {"protocol": _name})
    _machine.TestCase.settings = settings(stateful_step_count=STEPS, deadline=None)
    globals()[f"Test{_title}Session"] = _machine.TestCase
