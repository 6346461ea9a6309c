"""SDU framing, segmentation and reassembly."""

from __future__ import annotations

import pytest

from conformance import wire
from conformance.wire.errors import TruncatedInput
from conformance.wire.mux import SDU, Demuxer, MuxError, StreamReassembler, decode_sdu, segment


def test_spec_header_example() -> None:
    """PROTOCOLS.md §2.1: initiator, chain-sync, timestamp 0x01020304, 3 bytes."""
    sdu = SDU(0x01020304, 0, 2, b"\x82\x04\x80")
    assert sdu.encode()[:8] == bytes.fromhex("0102030400020003")
    responder = SDU(0x01020304, 1, 2, b"\x82\x04\x80")
    assert responder.encode()[4:6] == bytes.fromhex("8002")
    assert decode_sdu(sdu.encode()) == (sdu, 11)


def test_zero_length_sdu_is_a_mux_error() -> None:
    with pytest.raises(MuxError) as raised:
        decode_sdu(bytes.fromhex("0000000000020000"))
    assert raised.value.protocol == "mux"


def test_truncated_sdu_waits_for_more() -> None:
    with pytest.raises(TruncatedInput):
        decode_sdu(bytes.fromhex("01020304000200038204"))


def test_a_message_split_over_many_sdus_is_reassembled() -> None:
    data = bytes.fromhex("8204d8184100")  # MsgBlock carrying the one-byte item 0
    sdus = segment(data, protocol=3, mode=1, max_payload=2)
    assert len(sdus) == 3
    demuxer, stream = Demuxer(), StreamReassembler("block-fetch")
    out: list[bytes] = []
    wire_bytes = b"".join(s.encode() for s in sdus)
    for i in range(len(wire_bytes)):  # feed one byte at a time: partial headers and payloads
        for sdu in demuxer.feed(wire_bytes[i : i + 1]):
            out.extend(stream.feed(sdu.payload))
    assert out == [data]
    assert demuxer.pending == 0 and stream.pending == 0


def test_several_messages_in_one_sdu_come_out_in_order() -> None:
    payload = bytes.fromhex("8102") + bytes.fromhex("8105")
    assert list(StreamReassembler().feed(payload)) == [b"\x81\x02", b"\x81\x05"]


def test_reassembly_buffer_is_bounded() -> None:
    stream = StreamReassembler("keep-alive", limit=1408)
    with pytest.raises(MuxError):
        list(stream.feed(b"\x5a\x00\x01\x00\x00" + b"\x00" * 1500))


def test_malformed_stream_bytes_name_the_protocol() -> None:
    with pytest.raises(wire.DecodeError) as raised:
        list(StreamReassembler("chain-sync").feed(b"\x81\xff"))
    assert raised.value.protocol == "chain-sync"


def test_interleaved_streams_are_kept_apart_by_protocol_and_direction() -> None:
    from conformance.wire.mux import MessageDemultiplexer

    keep_alive = bytes.fromhex("8200191234")
    chain_sync = bytes.fromhex("82049f821903e8420102 80ff".replace(" ", ""))
    sdus = [
        SDU(1, 0, 2, chain_sync[:4]),
        SDU(2, 0, 8, keep_alive[:2]),
        SDU(3, 1, 8, keep_alive),  # the other direction of keep-alive: a separate stream
        SDU(4, 0, 2, chain_sync[4:]),
        SDU(5, 0, 8, keep_alive[2:]),
    ]
    demux = MessageDemultiplexer()
    out: list[tuple[int, int, bytes]] = []
    for sdu in sdus:
        out.extend((done.protocol, done.mode, message) for done, message in demux.feed(sdu.encode()))
    assert out == [(8, 1, keep_alive), (2, 0, chain_sync), (8, 0, keep_alive)]


def test_a_large_message_is_not_rescanned_for_every_sdu() -> None:
    """A 648 KB block arriving in 53 SDUs: the reassembler waits for the length it already knows."""
    from conformance.vectors import load_vectors

    vector = next(v for v in load_vectors() if v.id == "lcs-gouroboros-rollforward-ntc-byron-ebb")
    stream = StreamReassembler("local-chain-sync")
    first, *rest = segment(vector.data, protocol=5, mode=1)
    assert list(stream.feed(first.payload)) == []
    assert stream._needed > len(vector.data) // 2  # known from the byte string's head
    out = [message for sdu in rest for message in stream.feed(sdu.payload)]
    assert out == [vector.data]
