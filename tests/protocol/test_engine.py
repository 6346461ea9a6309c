"""The generic engine: conversations, pipelining, time and byte limits, the bytes path."""

from __future__ import annotations

import pytest

from conformance import protocol, wire
from conformance.protocol import (
    AgencyViolation,
    ByteLimitExceeded,
    DecodeViolation,
    FakeClock,
    Limit,
    MonotonicClock,
    RuleViolation,
    Session,
    TimeLimitExceeded,
    Violation,
)
from conformance.vectors import load_vectors
from conformance.wire.message import Message

from .moves import CHAIN, tip

GOLDEN = [v for v in load_vectors() if v.kind == "message" and v.valid]

INI, RES = "initiator", "responder"


def cs(name: str, **fields: object) -> Message:
    return Message("chain-sync", name, dict(fields))


def forward(number: int) -> Message:
    return cs("MsgRollForward", header={"era": 6, "cbor": b"\x80"}, tip=tip(number))


def test_a_conversation_returns_each_new_state() -> None:
    session = Session("chain-sync", clock=FakeClock())
    assert (session.state, session.agency) == ("StIdle", "initiator")
    assert session.observe(INI, cs("MsgRequestNext")) == "StCanAwait"
    assert session.agency == "responder"
    assert session.observe(RES, cs("MsgAwaitReply")) == "StMustReply"
    assert session.observe(RES, forward(1)) == "StIdle"
    assert session.observe(INI, cs("MsgDone")) == "StDone"
    assert (session.agency, session.done) == ("nobody", True)
    assert [entry.message.name for entry in session.history][-1] == "MsgDone"


def test_the_public_interface() -> None:
    assert protocol.Session is Session
    assert issubclass(protocol.TimeLimitExceeded, protocol.LimitViolation)
    assert issubclass(protocol.LimitViolation, protocol.Violation)
    assert set(protocol.TABLES) == {
        "handshake", "chain-sync", "block-fetch", "tx-submission2", "keep-alive", "peer-sharing",
        "n2c-handshake", "local-chain-sync", "local-tx-submission", "local-state-query", "local-tx-monitor",
    }  # fmt: skip


def test_caller_mistakes_are_not_protocol_violations() -> None:
    with pytest.raises(ValueError, match="unknown mini-protocol"):
        Session("chain-sink")
    session = Session("chain-sync")
    with pytest.raises(ValueError, match="sender"):
        session.observe("server", cs("MsgRequestNext"))
    with pytest.raises(ValueError, match="keep-alive message"):
        session.observe(INI, Message("keep-alive", "MsgDone", {}))
    with pytest.raises(TypeError):
        Session("chain-sync", window=3)
    with pytest.raises(ValueError, match="time_scale"):
        Session("chain-sync", time_scale=0)


def test_a_violation_says_where_and_who() -> None:
    session = Session("keep-alive", clock=FakeClock())
    bogus = Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 1})
    with pytest.raises(AgencyViolation) as caught:
        session.observe(RES, bogus)
    violation = caught.value
    assert (violation.requirement, violation.protocol, violation.state) == (
        "KA-RESP-01",
        "keep-alive",
        "StClient",
    )
    assert (violation.sender, violation.agency, violation.message) == ("responder", "initiator", bogus)
    assert "KA-RESP-01" in str(violation) and "MsgKeepAliveResponse" in str(violation)


def test_a_refused_move_leaves_the_session_as_it_was() -> None:
    session = Session("keep-alive", clock=FakeClock())
    session.observe(INI, Message("keep-alive", "MsgKeepAlive", {"cookie": 7}))
    with pytest.raises(RuleViolation):
        session.observe(RES, Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 8}))
    assert session.state == "StServer" and len(session.history) == 1
    assert session.observe(RES, Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 7})) == "StClient"


def test_after_termination_nobody_may_send() -> None:
    session = Session("keep-alive", clock=FakeClock())
    session.observe(INI, Message("keep-alive", "MsgDone", {}))
    for sender in (INI, RES):
        with pytest.raises(AgencyViolation, match="terminated"):
            session.observe(sender, Message("keep-alive", "MsgKeepAlive", {"cookie": 1}))


# -- pipelining -------------------------------------------------------------------------------------


def test_pipelined_requests_are_answered_in_order() -> None:
    session = Session("chain-sync", clock=FakeClock())
    for _ in range(3):
        assert session.observe(INI, cs("MsgRequestNext")) == "StCanAwait"
    assert session.in_flight == 3 and len(session.pending) == 2
    assert session.allowed(INI) == ("MsgRequestNext", "MsgFindIntersect")
    assert session.observe(RES, forward(1)) == "StCanAwait"
    assert session.observe(RES, cs("MsgAwaitReply")) == "StMustReply"
    assert session.observe(RES, forward(2)) == "StCanAwait"
    assert session.observe(RES, forward(3)) == "StIdle"
    assert session.in_flight == 0 and session.pending == ()


# golden vectors tx2-gouroboros-replytxids and tx2-gouroboros-requesttxs (ids 0102.., 0304.. / 01.., 02..)
REPLY_TWO_IDS = bytes.fromhex(
    "82019f8282015820010200000000000000000000000000000000000000000000000000000000000018648282025820"
    "030400000000000000000000000000000000000000000000000000000000000018c8ff"
)
REQUEST_TWO_OTHER_TXS = bytes.fromhex(
    "82029f820158200100000000000000000000000000000000000000000000000000000000000000820258200200000000"
    "000000000000000000000000000000000000000000000000000000ff"
)


def test_a_pipelined_request_is_checked_when_its_turn_comes() -> None:
    """The outbound side checks a request when it reads it, after the replies before it; a refusal then
    refuses the whole observe (the reply that uncovered the request included)."""
    session = Session("tx-submission2", clock=FakeClock())
    session.observe(INI, bytes.fromhex("8106"))  # MsgInit
    session.observe(RES, bytes.fromhex("8400f50003"))  # blocking MsgRequestTxIds, ack 0, req 3
    session.observe(INI, REPLY_TWO_IDS)
    session.observe(RES, bytes.fromhex("8400f40001"))  # non-blocking, ack 0, req 1
    unknown = REQUEST_TWO_OTHER_TXS
    assert session.observe(RES, unknown) == "StTxIdsNonBlocking"
    with pytest.raises(RuleViolation) as caught:
        session.observe(INI, bytes.fromhex("82019fff"))  # the empty reply uncovers the request
    assert caught.value.requirement == "TX-REQTX-01"
    assert (caught.value.sender, caught.value.message.name) == ("responder", "MsgRequestTxs")
    assert session.state == "StTxIdsNonBlocking" and len(session.pending) == 1


def test_the_other_side_cannot_pipeline() -> None:
    session = Session("block-fetch", clock=FakeClock())
    session.observe(
        INI, Message("block-fetch", "MsgRequestRange", {"from_point": CHAIN[0][0], "to_point": CHAIN[0][0]})
    )
    session.observe(RES, Message("block-fetch", "MsgStartBatch", {}))
    with pytest.raises(AgencyViolation):
        session.observe(INI, Message("block-fetch", "MsgBlock", {"block": CHAIN[0][1]}))


# -- time -------------------------------------------------------------------------------------------


def test_time_limits_use_the_session_clock() -> None:
    clock = FakeClock()
    session = Session("chain-sync", clock=clock)
    session.observe(INI, cs("MsgRequestNext"))
    assert session.deadline == 10.0
    clock.advance(9.5)
    session.check_time()
    session.observe(RES, cs("MsgAwaitReply"))
    assert session.deadline == 9.5 + 601.0
    clock.advance(601.5)
    with pytest.raises(TimeLimitExceeded) as caught:
        session.check_time()
    assert (caught.value.limit, caught.value.observed) == (601.0, 601.5)
    assert (caught.value.sender, caught.value.state, caught.value.requirement) == (
        "responder",
        "StMustReply",
        "CS-TIME-01",
    )
    assert session.observe(RES, forward(1)) == "StIdle"  # the missed deadline was reported once already


def test_a_scale_factor_keeps_time_limit_tests_fast() -> None:
    clock = FakeClock()
    session = Session("keep-alive", clock=clock, time_scale=0.01)
    session.observe(INI, Message("keep-alive", "MsgKeepAlive", {"cookie": 1}))
    clock.advance(0.7)
    with pytest.raises(TimeLimitExceeded) as caught:
        session.observe(RES, Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 1}))
    assert caught.value.limit == pytest.approx(0.6)


def test_states_without_a_time_limit_wait_forever() -> None:
    clock = FakeClock()
    session = Session("local-tx-submission", clock=clock)
    clock.advance(1e9)
    session.check_time()
    assert session.deadline is None
    submit = next(v for v in GOLDEN if v.protocol == "local-tx-submission" and v.message == "MsgSubmitTx")
    assert session.observe(INI, submit.data) == "StBusy"


def ka(name: str, cookie: int = 1) -> Message:
    return Message("keep-alive", name, {"cookie": cookie})


def test_an_unstarted_session_has_no_deadline_until_started() -> None:
    """The node's on-demand responders: keep-alive's StClient counts 97 s from `start()`, not creation."""
    clock = FakeClock()
    session = Session("keep-alive", clock=clock, started=False)
    assert not session.started and session.deadline is None
    clock.advance(500)
    session.check_time()  # no clock runs: nothing is late
    session.start()
    assert session.started and session.deadline == 500 + 97.0
    clock.advance(95)
    session.start()  # started already: the deadline stays
    assert session.deadline == 597.0
    assert session.observe(INI, ka("MsgKeepAlive")) == "StServer"
    clock.advance(3)
    session.start()
    assert session.deadline == 595 + 60.0  # later states count from their entry as before


def test_an_unstarted_session_misses_a_deadline_counted_from_its_start() -> None:
    clock = FakeClock()
    session = Session("keep-alive", clock=clock, started=False, on_violation="record")
    clock.advance(4)
    session.start()
    clock.advance(97.5)
    session.check_time()
    assert [(v.requirement, v.state, v.observed) for v in session.violations] == [("KA-TIME-01", "StClient", 97.5)]


def test_the_first_message_starts_an_unstarted_session_with_no_limit_before_it() -> None:
    """StartOnDemand: the remote's first message may come any time; the next state counts from it."""
    clock = FakeClock()
    session = Session("chain-sync", clock=clock, started=False)
    clock.advance(1e6)  # far past StIdle's limit, had the clock run
    assert session.observe(INI, cs("MsgRequestNext")) == "StCanAwait"
    assert session.started and session.deadline == 1e6 + 10.0


def test_a_refused_first_message_leaves_the_session_unstarted() -> None:
    """Observe stays all or nothing: the refusal puts the stopped clock back as well."""
    session = Session("keep-alive", clock=FakeClock(), started=False)
    with pytest.raises(AgencyViolation):
        session.observe(RES, ka("MsgKeepAliveResponse"))
    assert not session.started and session.deadline is None


def test_sessions_start_at_creation_by_default() -> None:
    clock = FakeClock(3)
    session = Session("keep-alive", clock=clock)
    assert session.started and session.deadline == 3 + 97.0


def test_clocks() -> None:
    clock = FakeClock(5)
    assert clock.advance(2) == 7 == clock.now()
    with pytest.raises(ValueError):
        clock.advance(-1)
    real = MonotonicClock()
    assert real.now() <= real.now()
    assert Limit(10).scaled(0.5) == 5 and Limit(None).scaled(0.5) is None


# -- bytes ------------------------------------------------------------------------------------------


def _no_decoder(protocol: str, data: bytes, state: str | None = None) -> Message:
    raise AssertionError("the byte limit must be checked before decoding")


def test_an_oversized_message_is_refused_before_decoding() -> None:
    session = Session("handshake", clock=FakeClock(), decoder=_no_decoder)
    with pytest.raises(ByteLimitExceeded) as caught:
        session.observe(INI, b"\x00" * 5761)
    assert (caught.value.limit, caught.value.observed, caught.value.requirement) == (
        5760,
        5761,
        "HS-BYTES-01",
    )


def test_the_byte_limit_of_a_decoded_message_comes_from_its_raw_bytes() -> None:
    session = Session("peer-sharing", clock=FakeClock())
    big = Message("peer-sharing", "MsgShareRequest", {"amount": 1}, raw=b"\x00" * 6000)
    with pytest.raises(ByteLimitExceeded):
        session.observe(INI, big)


def test_bytes_that_do_not_decode_are_a_codec_violation() -> None:
    from conformance.wire.errors import UnknownMessage

    def decoder(protocol: str, data: bytes, state: str | None = None) -> Message:
        raise UnknownMessage("a tag of StIdle", protocol=protocol, state=state)

    with pytest.raises(DecodeViolation) as caught:
        Session("chain-sync", decoder=decoder).observe(INI, b"\x81\x09")
    assert caught.value.requirement == "CS-CODEC-01"
    assert isinstance(caught.value.error, UnknownMessage)


def test_bytes_are_decoded_by_the_wire_layer_in_the_current_state() -> None:
    session = Session("chain-sync", clock=FakeClock())
    assert session.observe(INI, wire.encode(cs("MsgRequestNext"))) == "StCanAwait"
    with pytest.raises(DecodeViolation) as caught:
        session.observe(RES, bytes.fromhex("8109"))  # no chain-sync message has tag 9
    assert caught.value.requirement == "CS-CODEC-01" and caught.value.state == "StCanAwait"
    with pytest.raises(Violation) as misplaced:  # a real message of another state: the table names the rule
        session.observe(RES, wire.encode(cs("MsgRequestNext")))
    assert misplaced.value.requirement == "CS-MSG-01"
    session.observe(RES, wire.encode(cs("MsgAwaitReply")))
    assert session.state == "StMustReply"


def test_a_keep_alive_exchange_from_bytes() -> None:
    session = Session("keep-alive", clock=FakeClock())
    session.observe(INI, bytes.fromhex("8200191234"))
    with pytest.raises(Violation) as caught:
        session.observe(RES, bytes.fromhex("8201191235"))
    assert caught.value.requirement == "KA-COOKIE-01"
    assert session.observe(RES, bytes.fromhex("8201191234")) == "StClient"
