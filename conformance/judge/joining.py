"""Joining a conversation mid-way: where a stream's messages begin, which state an instance is in, and
what it can still be judged on.

A capture that began after the connection opened (or lost bytes) sees each mini-protocol from some
message on. The judge then starts the instance's Session in a state that message may be sent from,
restarts it while its first messages are refused (replies to requests the capture never saw), and keeps
only the checks of the state table and its limits: the rules beyond the table (acknowledgement windows,
cookies, pipelining depth, intersection points) follow state that began before the capture.
"""

from __future__ import annotations

from typing import Any

from conformance import wire
from conformance.protocol import TABLES, Session, Violation
from conformance.protocol.violations import (
    AgencyViolation,
    ByteLimitExceeded,
    DecodeViolation,
    TimeLimitExceeded,
    UnexpectedMessage,
)
from conformance.wire.cbor import scan_item
from conformance.wire.errors import DecodeError, TruncatedInput
from conformance.wire.message import Message

SYNCED_AFTER = 4
"""Messages an instance joined mid-way must accept in a row before its refusals count as findings."""
REFUSALS = (AgencyViolation, UnexpectedMessage, DecodeViolation)
"""What an instance that has not found its place yet answers by starting again at the message."""
TABLE_CHECKS = (*REFUSALS, TimeLimitExceeded, ByteLimitExceeded)
"""What an instance joined mid-way is judged on."""


def starts_message(name: str, payload: bytes) -> bool:
    """Whether an SDU payload of mini-protocol `name` begins on a message boundary: it is whole messages
    of the protocol, the last of which may go on in the next SDU (then its head must be that of a
    message: an array of a declared arity whose first element is a declared tag). Protocols without a
    state table are taken as they come (the mux checks still apply)."""
    if name not in TABLES:
        return True
    codec = wire.codec(name)
    pos = 0
    while pos < len(payload):
        try:
            end = scan_item(payload, pos)
        except TruncatedInput:
            return _message_head(codec, payload, pos)
        except DecodeError:
            return False
        try:
            codec.decode(payload[pos:end])
        except DecodeError:
            return False
        pos = end
    return True


def join_state(name: str, sender: str, data: bytes) -> str | None:
    """The state to start an instance of `name` in, so that `sender` may send `data` from it: the table's
    initial state when it may, else the first state it may be sent from; None when it is no message
    of the protocol that `sender` sends."""
    table = TABLES.get(name)
    if table is None:
        return None
    try:
        decoded = wire.decode(name, data, state=None)
    except DecodeError:
        return None
    message = decoded.name if isinstance(decoded, Message) else None
    sources = [t.source for t in table.transitions if t.message == message]
    if not sources or table.sender_of(str(message)) != sender:
        return None
    return table.initial if table.initial in sources else sources[0]


def unseen_request(session: Session, violation: Violation) -> bool:
    """A reply that does not fit the requests seen, in a pipelined protocol joined mid-way: it may answer
    a request sent before the capture began (the capture cannot tell how many were in flight)."""
    pipelining = session.table.pipelining
    return (
        isinstance(violation, (AgencyViolation, UnexpectedMessage))
        and pipelining is not None
        and violation.sender != pipelining.side
    )


def _message_head(codec: Any, data: bytes, pos: int) -> bool:
    """Whether the bytes at `pos` begin a message of `codec`: a definite array head, then its tag."""
    if len(data) < pos + 2 or not 0x81 <= data[pos] <= 0x97 or data[pos + 1] >= 24:
        return False
    arity, tag = data[pos] - 0x80, data[pos + 1]
    return any(arity in message.arities for message in codec.by_tag.get(tag, []))
