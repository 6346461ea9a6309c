"""Long runs hold bounded memory: the tx-submission2 checker and every session's history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance import wire
from conformance.protocol import FakeClock, Session
from conformance.protocol.violations import Violation
from conformance.wire.message import Message

INI, RES = "initiator", "responder"
WINDOW = 10


def _ids(first: int, count: int) -> list[bytes]:
    """Era-wrapped Conway-era tx ids `[1, bytes32]` (GenTxId), as bytes."""
    return [bytes.fromhex("82015820") + n.to_bytes(32, "big") for n in range(first, first + count)]


def _indefinite(items: list[bytes]) -> bytes:
    return b"\x9f" + b"".join(items) + b"\xff"


def _request_ids(blocking: bool, ack: int, req: int) -> bytes:
    return wire.encode(Message("tx-submission2", "MsgRequestTxIds", {"blocking": blocking, "ack": ack, "req": req}))


def _reply_ids(first: int, count: int) -> bytes:
    return b"\x82\x01" + _indefinite([b"\x82" + txid + b"\x18\x64" for txid in _ids(first, count)])


def _request_txs(first: int, count: int) -> bytes:
    return b"\x82\x02" + _indefinite(_ids(first, count))


def _trace(rounds: int) -> Iterator[tuple[str, bytes]]:
    """Each round: ask for the oldest half, acknowledge it while asking for as many new ids, an empty
    MsgReplyTxs, then the new ids. Every id is requested exactly once."""
    half = WINDOW // 2
    yield INI, wire.encode(Message("tx-submission2", "MsgInit", {}))
    yield RES, _request_ids(True, 0, WINDOW)
    yield INI, _reply_ids(0, WINDOW)
    for number in range(rounds):
        yield RES, _request_txs(number * half, half)
        yield RES, _request_ids(False, half, half)
        yield INI, bytes.fromhex("82039fff")
        yield INI, _reply_ids(WINDOW + number * half, half)


def test_a_long_run_keeps_the_memory_of_requested_ids_within_the_window() -> None:
    session = Session("tx-submission2", clock=FakeClock(), on_violation="record")
    for sender, data in _trace(400):
        session.observe(sender, data)
    assert session.violations == [] and session.warnings == []
    assert len(session.rules.ever_asked) <= WINDOW  # type: ignore[attr-defined]


def _session_after_one_round() -> Session:
    session = Session("tx-submission2", clock=FakeClock(), on_violation="record")
    for sender, data in _trace(1):
        session.observe(sender, data)
    return session


def _ids_of(found: list[Violation]) -> list[str]:
    return [violation.requirement for violation in found]


def test_a_second_request_within_the_window_is_still_seen() -> None:
    session = _session_after_one_round()
    session.observe(RES, _request_txs(5, 1))  # id 5 is in the window, not yet asked for
    session.observe(INI, bytes.fromhex("82039fff"))
    assert session.warnings == []
    session.observe(RES, _request_txs(5, 1))  # and again, still unacknowledged
    assert _ids_of(session.warnings) == ["TX-REQTX-02"]


def test_a_request_for_an_acknowledged_id_is_a_must_violation() -> None:
    session = _session_after_one_round()
    session.observe(RES, _request_txs(0, 1))  # id 0 was asked for, then acknowledged
    assert _ids_of(session.violations) == ["TX-REQTX-01"]


def test_a_session_keeps_only_its_last_messages() -> None:
    """A session on a long connection holds bounded memory: the history keeps the last `history_limit`."""
    session = Session("tx-submission2", clock=FakeClock(), history_limit=50)
    trace = list(_trace(100))
    for sender, data in trace:
        session.observe(sender, data)
    assert len(session.history) == 50 and session.accepted == len(trace)  # the count goes on past the limit
    assert session.history[-1].message == wire.decode("tx-submission2", trace[-1][1])
    with pytest.raises(Violation):
        session.observe(INI, trace[-1][1])  # the initiator has no agency now: refused, nothing counted
    assert len(session.history) == 50 and session.accepted == len(trace)
    unbounded = Session("tx-submission2", clock=FakeClock(), history_limit=None)
    for sender, data in trace:
        unbounded.observe(sender, data)
    assert len(unbounded.history) == len(trace)
