"""The session is exact about what happened: all-or-nothing observe, each violation once, typed errors.

Every message observed here is bytes (golden vectors, or `wire.encode` of a message the wire accepts), or
a `Message` value that is deliberately ill-typed.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import wire
from conformance.protocol import (
    TABLES,
    AgencyViolation,
    DecodeViolation,
    FakeClock,
    IllTypedMessage,
    PipeliningViolation,
    RuleViolation,
    Session,
    TimeLimitExceeded,
    UnexpectedMessage,
    Violation,
)
from conformance.vectors import load_vectors
from conformance.wire.message import Message

from .hostile import cases, ill_typed, random_step, reach

INI, RES = "initiator", "responder"


@functools.cache
def golden(vector_id: str) -> bytes:
    vectors = {vector.id: vector for vector in load_vectors()}
    return vectors[vector_id].data


def encoded(protocol: str, name: str, **fields: Any) -> bytes:
    return wire.encode(Message(protocol, name, fields))


def fingerprint(session: Session) -> tuple[Any, ...]:
    """Everything observe may change: state, deadline, queue, transcript, findings, the rules' state."""
    return (
        session.state,
        session.deadline,
        session.pending,
        len(session.history),
        list(session.warnings),
        list(session.violations),
        session.rules.snapshot(),
    )


# -- the examples: a refused observe leaves the session exactly as it was ---------------------

EMPTY_REPLY_IDS = bytes.fromhex("82019fff")
EMPTY_REPLY_TXS = bytes.fromhex("82039fff")


def tx_session(**options: Any) -> Session:
    """tx-submission2 in StTxIdsNonBlocking with a pipelined MsgRequestTxs for ids never announced queued."""
    session = Session("tx-submission2", clock=FakeClock(), **options)
    session.observe(INI, golden("tx2-gouroboros-init"))
    session.observe(RES, encoded("tx-submission2", "MsgRequestTxIds", blocking=True, ack=0, req=3))
    session.observe(INI, golden("tx2-gouroboros-replytxids"))
    session.observe(RES, encoded("tx-submission2", "MsgRequestTxIds", blocking=False, ack=0, req=1))
    session.observe(RES, golden("tx2-gouroboros-requesttxs"))  # ids 01.. and 02..; 0102.. and 0304.. were announced
    assert session.state == "StTxIdsNonBlocking" and len(session.pending) == 1
    return session


def test_a_request_refused_when_drained_leaves_reply_state_queue_and_rules_as_they_were() -> None:
    session = tx_session()
    before = fingerprint(session)
    for _ in range(2):  # the same reply again meets the same session, so the same verdict
        with pytest.raises(RuleViolation) as caught:
            session.observe(INI, EMPTY_REPLY_IDS)
        assert caught.value.requirement == "TX-REQTX-01"
        assert (caught.value.sender, caught.value.message.name) == (RES, "MsgRequestTxs")
        assert fingerprint(session) == before
    assert session.pending[0].name == "MsgRequestTxs"


def test_recording_takes_the_reply_then_the_refused_request_and_goes_on() -> None:
    session = tx_session(on_violation="record")
    assert session.observe(INI, EMPTY_REPLY_IDS) == "StTxs"
    assert [v.requirement for v in session.violations] == ["TX-REQTX-01"]
    assert session.observe(INI, EMPTY_REPLY_TXS) == "StIdle"  # the initiator's reply is legal, no cascade
    assert [v.requirement for v in session.violations] == ["TX-REQTX-01"]
    assert session.pending == () and session.warnings == []


def block_fetch_session(**options: Any) -> Session:
    """block-fetch in BFBusy with a pipelined request for an empty range (upper point before the lower)."""
    session = Session("block-fetch", clock=FakeClock(), strict=True, **options)
    request = golden("bf-gouroboros-msgrequestrange")
    fields = wire.decode("block-fetch", request).fields
    backwards = encoded("block-fetch", "MsgRequestRange", from_point=fields["to_point"], to_point=fields["from_point"])
    session.observe(INI, request)
    session.observe(INI, backwards)
    assert session.state == "BFBusy" and len(session.pending) == 1
    return session


def test_a_strict_rule_on_a_drained_request_leaves_the_session_as_it_was() -> None:
    session = block_fetch_session()
    before = fingerprint(session)
    with pytest.raises(RuleViolation) as caught:
        session.observe(RES, golden("bf-gouroboros-msgnoblocks"))
    assert caught.value.requirement == "BF-RANGE-01"
    assert fingerprint(session) == before


def test_recording_a_strict_rule_moves_on_to_the_drained_request() -> None:
    session = block_fetch_session(on_violation="record")
    assert session.observe(RES, golden("bf-gouroboros-msgnoblocks")) == "BFBusy"
    assert [v.requirement for v in session.violations] == ["BF-RANGE-01"]
    assert session.pending == () and session.in_flight == 1


def chain_sync_before_a_wrong_intersection(**options: Any) -> Session:
    session = Session("chain-sync", clock=FakeClock(), **options)
    session.observe(INI, golden("cs-gouroboros-msgrequestnext-8100"))
    session.observe(RES, golden("cs-gouroboros-rollforward-ntn-shelley"))  # tip block 3,480,174
    session.observe(INI, golden("cs-gouroboros-msgfindintersect-e45997a4"))
    return session


# Origin, which was not asked for, and a tip (block 3,478,323) behind the last one: a MUST and a SHOULD.
WRONG_INTERSECTION = "cs-gouroboros-msgintersectfound-00351333"


def test_a_rejected_move_keeps_none_of_its_warnings() -> None:
    session = chain_sync_before_a_wrong_intersection()
    before = fingerprint(session)
    with pytest.raises(RuleViolation) as caught:
        session.observe(RES, golden(WRONG_INTERSECTION))
    assert caught.value.requirement == "CS-INTERSECT-01"
    assert session.warnings == [] and fingerprint(session) == before


def test_recording_keeps_the_must_in_violations_and_the_should_in_warnings() -> None:
    session = chain_sync_before_a_wrong_intersection(on_violation="record")
    assert session.observe(RES, golden(WRONG_INTERSECTION)) == "StIdle"
    assert [v.requirement for v in session.violations] == ["CS-INTERSECT-01"]
    assert [w.requirement for w in session.warnings] == ["CS-TIP-01"]
    strict = chain_sync_before_a_wrong_intersection(on_violation="record", strict=True)
    strict.observe(RES, golden(WRONG_INTERSECTION))
    assert [v.requirement for v in strict.violations] == ["CS-TIP-01", "CS-INTERSECT-01"]
    assert strict.warnings == []


def deep(value: Any) -> Any:
    """A comparable copy of a checker's state, all the way down (sets in a fixed order)."""
    if isinstance(value, dict):
        return tuple(sorted((repr(key), deep(inner)) for key, inner in value.items()))
    if isinstance(value, (list, tuple, deque)):
        return tuple(deep(inner) for inner in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(repr(deep(inner)) for inner in value))
    if isinstance(value, Message):
        return (value.name, deep(value.fields))
    return repr(value)


@pytest.mark.parametrize("protocol", list(TABLES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_rules_snapshot_undoes_any_later_commits(protocol: str, data: st.DataObject) -> None:
    """The contract the default snapshot relies on (commit changes no value inside a container in place),
    checked on each protocol's checker along random legal walks, violations of rules recorded on the way."""
    session = Session(protocol, clock=FakeClock(), on_violation="record")
    for _ in range(data.draw(st.integers(min_value=0, max_value=6))):
        random_step(data, session)
    before = deep(vars(session.rules))
    saved = session.rules.snapshot()
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        random_step(data, session)
    session.rules.restore(saved)
    assert deep(vars(session.rules)) == before


# -- record and continue ----------------------------------------------------------------------------


def keep_alive(cookie: int, response: bool = False) -> bytes:
    return encoded("keep-alive", "MsgKeepAliveResponse" if response else "MsgKeepAlive", cookie=cookie)


def test_two_independent_violations_are_each_recorded_once_and_the_legal_messages_accepted() -> None:
    session = Session("keep-alive", clock=FakeClock(), on_violation="record")
    trace = [
        (INI, keep_alive(1), "StServer"),
        (RES, keep_alive(2, response=True), "StClient"),  # KA-COOKIE-01: legal for the table, taken
        (INI, keep_alive(3), "StServer"),
        (RES, keep_alive(3, response=True), "StClient"),
        (RES, keep_alive(3, response=True), "StClient"),  # KA-RESP-01: illegal for the table, skipped
        (INI, keep_alive(4), "StServer"),
        (RES, keep_alive(4, response=True), "StClient"),
        (INI, golden("ka-gouroboros-msgdone"), "StDone"),
    ]
    for sender, data, state in trace:
        assert session.observe(sender, data) == state
    assert [(v.requirement, v.state) for v in session.violations] == [
        ("KA-COOKIE-01", "StServer"),
        ("KA-RESP-01", "StClient"),
    ]
    assert len(session.history) == len(trace) - 1 and session.warnings == []


def test_a_message_the_table_refuses_is_skipped_whatever_the_reason() -> None:
    session = Session("chain-sync", clock=FakeClock(), on_violation="record")
    session.observe(INI, golden("cs-gouroboros-msgrequestnext-8100"))
    skipped = [
        (RES, bytes.fromhex("8109"), DecodeViolation, "CS-CODEC-01"),  # no chain-sync message has tag 9
        (RES, golden("cs-gouroboros-msgrequestnext-8100"), UnexpectedMessage, "CS-MSG-01"),
        (INI, golden("cs-gouroboros-msgdone-8107"), PipeliningViolation, "CS-PIPE-01"),
        (RES, Message("chain-sync", "MsgRollBackward", {"point": 1.5}), IllTypedMessage, "CS-CODEC-01"),
    ]
    for sender, message, cls, requirement in skipped:
        before = len(session.history)
        assert session.observe(sender, message) == "StCanAwait"
        assert isinstance(session.violations[-1], cls) and session.violations[-1].requirement == requirement
        assert len(session.history) == before
    assert session.observe(RES, golden("cs-gouroboros-msgawaitreply-8101")) == "StMustReply"
    assert len(session.violations) == len(skipped)


def test_an_oversized_message_that_decodes_is_recorded_and_taken() -> None:
    unknown_versions = {key: b"\x40" for key in range(1000, 3000)}  # unknown keys, data kept as raw CBOR
    proposal = encoded("handshake", "MsgProposeVersions", versions=unknown_versions)
    assert len(proposal) > 5760
    session = Session("handshake", clock=FakeClock(), on_violation="record")
    assert session.observe(INI, proposal) == "StConfirm"
    assert [(v.requirement, v.observed) for v in session.violations] == [("HS-BYTES-01", len(proposal))]
    raising = Session("handshake", clock=FakeClock())
    with pytest.raises(Violation, match="HS-BYTES-01"):
        raising.observe(INI, proposal)
    assert raising.state == "StPropose" and raising.history == []


def test_the_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="on_violation"):
        Session("keep-alive", on_violation="ignore")  # type: ignore[arg-type]
    assert Session("keep-alive").on_violation == "raise"


# -- a missed deadline is reported once ---------------------------------------------------------------


def test_raising_reports_a_missed_deadline_once_then_judges_the_late_message() -> None:
    clock = FakeClock()
    session = Session("keep-alive", clock=clock)
    session.observe(INI, keep_alive(7))
    clock.advance(61)  # StServer allows 60 s
    with pytest.raises(TimeLimitExceeded) as caught:
        session.check_time()
    assert (caught.value.sender, caught.value.state, caught.value.observed) == (RES, "StServer", 61)
    session.check_time()  # reported already
    with pytest.raises(RuleViolation):  # the late message is judged on its own merits
        session.observe(RES, keep_alive(8, response=True))
    assert session.observe(RES, keep_alive(7, response=True)) == "StClient"
    session.observe(INI, keep_alive(9))
    clock.advance(61)  # a new stay in StServer has its own deadline
    with pytest.raises(TimeLimitExceeded):
        session.observe(RES, keep_alive(9, response=True))
    assert session.state == "StServer"
    assert session.observe(RES, keep_alive(9, response=True)) == "StClient"


def test_recording_reports_a_missed_deadline_once_and_takes_the_late_message() -> None:
    clock = FakeClock()
    session = Session("keep-alive", clock=clock, on_violation="record")
    session.observe(INI, keep_alive(7))
    clock.advance(61)
    session.check_time()
    session.check_time()
    assert session.observe(RES, keep_alive(7, response=True)) == "StClient"
    assert [v.requirement for v in session.violations] == ["KA-TIME-01"]


# -- messages built in code -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocol, before, name, fields, path",
    [
        ("chain-sync", [], "MsgFindIntersect", {"points": 1.5}, "$.points"),
        ("handshake", [], "MsgProposeVersions", {"versions": [0]}, "$.versions"),
        ("tx-submission2", [(INI, "tx2-gouroboros-init")], "MsgRequestTxs", {"txids": 5}, "$.txids"),
    ],
)
def test_an_ill_typed_message_is_refused_with_a_typed_error_naming_the_field(
    protocol: str, before: list[tuple[str, str]], name: str, fields: dict[str, Any], path: str
) -> None:
    session = Session(protocol, clock=FakeClock())
    for sender, vector in before:
        session.observe(sender, golden(vector))
    sender = TABLES[protocol].sender_of(name)
    was = fingerprint(session)
    with pytest.raises(IllTypedMessage) as caught:
        session.observe(sender, Message(protocol, name, fields))
    violation = caught.value
    assert isinstance(violation, DecodeViolation) and violation.requirement == f"{TABLES[protocol].prefix}-CODEC-01"
    assert (violation.protocol, violation.state, violation.message_name, violation.path) == (
        protocol,
        session.state,
        name,
        path,
    )
    assert isinstance(violation.error, wire.EncodeError) and fingerprint(session) == was


def test_a_well_typed_value_is_judged_on_the_bytes_it_stands_for() -> None:
    session = Session("tx-submission2", clock=FakeClock())
    session.observe(INI, golden("tx2-gouroboros-init"))
    session.observe(RES, Message("tx-submission2", "MsgRequestTxIds", {"blocking": True, "ack": 0, "req": 3}))
    reply = wire.decode("tx-submission2", golden("tx2-gouroboros-replytxids"), state="StTxIdsBlocking")
    assert session.observe(INI, Message("tx-submission2", "MsgReplyTxIds", dict(reply.fields))) == "StIdle"
    assert session.history[-1].message.raw == golden("tx2-gouroboros-replytxids")


# Per (protocol, state, message) case: 78 cases; benchmarks/bench_engine.py feeds 200 each.
EXAMPLES = {"dev": 6, "ci": 12, "nightly": 200}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 6)


@pytest.mark.parametrize("protocol, state, name", cases(), ids=["-".join(case) for case in cases()])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ill_typed_messages_only_ever_raise_violations_and_change_nothing(
    protocol: str, state: str, name: str, data: st.DataObject
) -> None:
    session = reach(data, protocol, state, on_violation="record")
    assert session is not None
    session.on_violation = data.draw(st.sampled_from(["raise", "record"]))
    message = data.draw(ill_typed(protocol, name))
    sender = TABLES[protocol].sender_of(name)
    before = fingerprint(session)
    recorded = len(session.violations)
    if session.on_violation == "record":
        session.observe(sender, message)  # never raises: what is wrong is recorded
        assert all(isinstance(v, Violation) for v in session.violations[recorded:])
        return
    try:
        session.observe(sender, message)
    except Violation:
        assert fingerprint(session) == before


# -- the negotiated version reaches the wire decoder -------------------------------------------------


@pytest.mark.parametrize("version, accepted", [(11, True), (12, True), (13, False), (None, True)])
def test_the_negotiated_version_decides_the_shapes_the_session_accepts(version: int | None, accepted: bool) -> None:
    """The 8-item IPv6 peer address exists up to node-to-node v12: the session's version reaches the decoder."""
    session = Session("peer-sharing", version=version, clock=FakeClock(), on_violation="record")
    session.observe(INI, wire.encode(Message("peer-sharing", "MsgShareRequest", {"amount": 1})))
    session.observe(RES, bytes.fromhex("8201818801000000010000190bb9"))
    assert (session.violations == []) == accepted
    assert [v.requirement for v in session.violations] == ([] if accepted else ["PS-ADDR-01"])


def test_wrong_arguments_are_the_callers_mistake() -> None:
    session = Session("keep-alive", clock=FakeClock())
    with pytest.raises(TypeError, match="bytes or a wire Message"):
        session.observe(INI, 5)  # type: ignore[arg-type]
    with pytest.raises(AgencyViolation):
        session.observe(RES, Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 1.5}))
