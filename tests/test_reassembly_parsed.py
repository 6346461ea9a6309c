"""Messages the reassembler reads once: one that lies whole in an SDU is decoded to find its end, and its
CBOR item travels with it (`ParsedMessage`) so a Session does not parse it again; one split across SDUs is
scanned as before. Either way the bytes, the order and the verdicts are the same."""

from __future__ import annotations

import copy
import pickle

import pytest

from conformance import wire
from conformance.peer.chain import ChainStore
from conformance.protocol import Session
from conformance.wire import Message, cbor
from conformance.wire.errors import MalformedCbor
from conformance.wire.reassembly import ParsedMessage, StreamReassembler

CHAIN = ChainStore.synthetic(40)
MESSAGES = [
    wire.encode(Message("chain-sync", "MsgRollForward", {"header": CHAIN.header(i), "tip": CHAIN.tip()}))
    for i in range(40)
]


def test_whole_messages_carry_the_item_their_bytes_decode_to() -> None:
    stream = StreamReassembler("chain-sync")
    out = stream.feed(b"".join(MESSAGES[:5]))
    assert out == MESSAGES[:5]
    assert all(isinstance(m, ParsedMessage) and m.item == cbor.decode_item(m)[0] for m in out)


@pytest.mark.parametrize("size", [1, 7, 500, 1000, 4096])
def test_any_cut_gives_the_same_messages_parsed_or_scanned(size: int) -> None:
    data = b"".join(MESSAGES)
    stream = StreamReassembler("chain-sync")
    out: list[bytes] = []
    for start in range(0, len(data), size):
        out += stream.feed(data[start : start + size])
    assert out == MESSAGES and all(type(m) in (bytes, ParsedMessage) for m in out)
    parsed = [m for m in out if isinstance(m, ParsedMessage)]
    assert all(m.item == cbor.decode_item(bytes(m))[0] for m in parsed)
    if size >= 4096:
        assert parsed  # messages that fall whole inside a chunk are parsed once


def test_a_fault_after_whole_messages_is_named_as_the_scanner_names_it() -> None:
    stream = StreamReassembler("chain-sync")
    with pytest.raises(MalformedCbor) as raised:
        stream.feed(MESSAGES[0] + b"\x1c")  # a reserved additional info where the next message begins
    assert raised.value.offset == len(MESSAGES[0])
    assert stream.next_message() == MESSAGES[0]


def test_a_parsed_message_copies_and_pickles_as_plain_bytes() -> None:
    message = StreamReassembler("chain-sync").feed(MESSAGES[0])[0]
    assert isinstance(message, ParsedMessage)
    for again in (pickle.loads(pickle.dumps(message)), copy.copy(message), copy.deepcopy(message)):  # noqa: S301
        assert again == MESSAGES[0]
    assert type(pickle.loads(pickle.dumps(message))) is bytes  # noqa: S301


def test_a_session_reads_a_parsed_message_as_its_bytes() -> None:
    parsed = StreamReassembler("chain-sync").feed(MESSAGES[3])[0]
    judged = []
    for given in (parsed, bytes(parsed)):
        session = Session("chain-sync", state="StCanAwait")
        session.observe("responder", given)
        judged.append(session.history[-1].message)
    assert judged[0] == judged[1] and judged[0].raw == judged[1].raw == MESSAGES[3]
