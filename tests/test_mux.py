"""SDU framing, segmentation, reassembly and the demultiplexer built from the mini-protocol table."""

from __future__ import annotations

import random

import pytest

from conformance import wire
from conformance.protocol import mux as table
from conformance.protocol.limits import N2C_NODE_INGRESS_LIMIT
from conformance.vectors import load_vectors
from conformance.wire import mux
from conformance.wire.errors import TruncatedInput
from conformance.wire.mux import (
    NEED_DATA,
    SDU,
    IngressOverrun,
    MessageDemultiplexer,
    MuxError,
    StreamReassembler,
    decode_sdu,
    segment,
)
from conformance.wire.reassembly import ItemScanner

N2N = {"initiator_only": False, "peer_sharing": 1}


def _vector(vector_id: str) -> bytes:
    return next(v for v in load_vectors() if v.id == vector_id).data


def test_spec_header_example() -> None:
    """PROTOCOLS.md §2.1: initiator, chain-sync, timestamp 0x01020304, 3 bytes."""
    sdu = SDU(0x01020304, 0, 2, b"\x82\x04\x80")
    assert sdu.encode()[:8] == bytes.fromhex("0102030400020003")
    responder = SDU(0x01020304, 1, 2, b"\x82\x04\x80")
    assert responder.encode()[4:6] == bytes.fromhex("8002")
    assert decode_sdu(sdu.encode()) == (sdu, 11)


def test_the_fast_header_reader_agrees_with_the_declared_header() -> None:
    rng = random.Random(7)
    for _ in range(500):
        raw = rng.randbytes(8)
        parsed = mux.SduHeader.parse(raw)
        direction = parsed.direction
        word = direction.mode << 15 | direction.protocol
        assert mux._HEADER.unpack(raw) == (parsed.timestamp, word, parsed.length)


def test_zero_length_sdu_is_a_mux_error() -> None:
    with pytest.raises(MuxError) as raised:
        decode_sdu(bytes.fromhex("0000000000020000"))
    assert raised.value.protocol == "mux"


def test_truncated_sdu_waits_for_more() -> None:
    with pytest.raises(TruncatedInput):
        decode_sdu(bytes.fromhex("01020304000200038204"))


def test_a_message_split_over_many_sdus_is_reassembled_byte_by_byte() -> None:
    data = _vector("ka-gouroboros-msgkeepalive")
    sdus = segment(data, protocol=8, mode=0, max_payload=2)
    assert len(sdus) == (len(data) + 1) // 2
    demux = table.demultiplexer_for("node-to-node", N2N)
    wire_bytes = b"".join(s.encode() for s in sdus)
    out = []
    for i in range(len(wire_bytes)):  # partial headers and payloads
        out += demux.feed(wire_bytes[i : i + 1])
    assert [(m.protocol, m.mode, m.data) for m in out] == [(8, 0, data)]
    assert demux.pending == 0


def test_several_messages_in_one_sdu_come_out_in_order() -> None:
    first, second = _vector("ka-gouroboros-msgkeepalive"), _vector("ka-gouroboros-msgdone")
    assert StreamReassembler().feed(first + second) == [first, second]


def test_next_message_hands_each_message_out_once_then_needs_data() -> None:
    first, second = _vector("ka-gouroboros-msgkeepalive"), _vector("ka-gouroboros-msgdone")
    stream = StreamReassembler("keep-alive", 1408)
    stream.receive_data(first + second[:1])
    assert stream.next_message() == first
    assert stream.next_message() is NEED_DATA
    stream.receive_data(second[1:])
    assert stream.next_message() == second
    assert stream.next_message() is NEED_DATA and stream.pending == 0


def test_reassembly_buffer_is_bounded() -> None:
    stream = StreamReassembler("keep-alive", limit=1408)
    with pytest.raises(IngressOverrun) as raised:
        stream.feed(b"\x5a\x00\x01\x00\x00" + b"\x00" * 1500)
    assert (raised.value.limit, raised.value.observed) == (1408, 1505)
    assert raised.value.requirement == "MUX-INGRESS-01"


def test_malformed_stream_bytes_name_the_protocol() -> None:
    with pytest.raises(wire.DecodeError) as raised:
        StreamReassembler("chain-sync").feed(b"\x81\xff")
    assert raised.value.protocol == "chain-sync"
    assert raised.value.offset == 1


def test_interleaved_streams_are_kept_apart_by_protocol_and_direction() -> None:
    keep_alive = _vector("ka-gouroboros-msgkeepalive")
    chain_sync = wire.encode(wire.decode("chain-sync", bytes.fromhex("82049f821903e8420102 80ff".replace(" ", ""))))
    sdus = [
        SDU(1, 0, 2, chain_sync[:4]),
        SDU(2, 0, 8, keep_alive[:2]),
        SDU(3, 1, 8, keep_alive),  # the other direction of keep-alive: a separate stream
        SDU(4, 0, 2, chain_sync[4:]),
        SDU(5, 0, 8, keep_alive[2:]),
    ]
    demux = table.demultiplexer_for("node-to-node", N2N)
    out = [m for sdu in sdus for m in demux.feed(sdu.encode())]
    assert [(m.protocol, m.mode, m.timestamp, m.data) for m in out] == [
        (8, 1, 3, keep_alive),
        (2, 0, 4, chain_sync),
        (8, 0, 5, keep_alive),
    ]


def test_the_demultiplexer_has_no_unlimited_default() -> None:
    with pytest.raises(TypeError):
        MessageDemultiplexer()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="limit above 0"):
        MessageDemultiplexer({2: 0})


def test_the_default_limits_are_the_tables_for_the_negotiated_protocols() -> None:
    assert table.demultiplexer_for("node-to-node").limits == {0: 5_760}  # before the handshake
    assert table.demultiplexer_for("node-to-node", N2N).limits == {
        p.number: p.ingress_limit for p in table.NODE_TO_NODE if p.number in (2, 3, 4, 8, 10)
    }
    without_sharing = table.demultiplexer_for("node-to-node", {"initiator_only": False, "peer_sharing": 0})
    assert 10 not in without_sharing.limits
    n2c = table.demultiplexer_for("node-to-client", {"query": False})
    assert set(n2c.limits) == {5, 6, 7, 9}
    assert all(limit < N2C_NODE_INGRESS_LIMIT // 16 for limit in n2c.limits.values())
    assert table.demultiplexer_for("node-to-node", N2N, bounds={3: 10**9}).limits[3] == 10**9
    with pytest.raises(ValueError, match="not running"):
        table.demultiplexer_for("node-to-node", N2N, bounds={7: 1})


def test_node_to_client_keeps_the_nodes_value_and_documents_our_bound() -> None:
    for protocol in table.NODE_TO_CLIENT[1:]:
        assert protocol.ingress_limit == 0xFFFF_FFFF
        assert protocol.bound is not None and f"{protocol.bound:,}" in protocol.note


def test_a_large_message_is_scanned_once_whatever_the_sdus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 648 KB Byron EBB in 53 SDUs: every scan resumes where the last stopped, so each byte is read once."""
    data = _vector("lcs-gouroboros-rollforward-ntc-byron-ebb")
    spans: list[tuple[int, int]] = []
    advance = ItemScanner.advance

    def counting(self: ItemScanner, buffer: bytearray, pos: int, limit_end: int | None = None) -> tuple[int, bool]:
        end, done = advance(self, buffer, pos, limit_end)
        spans.append((pos, end))
        return end, done

    monkeypatch.setattr(ItemScanner, "advance", counting)
    demux = table.demultiplexer_for("node-to-client", {})
    out = [m for sdu in segment(data, protocol=5, mode=1) for m in demux.feed(sdu.encode())]
    assert [m.data for m in out] == [data]
    assert sum(end - start for start, end in spans) == len(data)


def test_an_indefinite_array_of_100k_items_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = bytes.fromhex("82049f") + b"\x00" * 100_000 + b"\xff"
    scanned = 0
    advance = ItemScanner.advance

    def counting(self: ItemScanner, buffer: bytearray, pos: int, limit_end: int | None = None) -> tuple[int, bool]:
        nonlocal scanned
        end, done = advance(self, buffer, pos, limit_end)
        scanned += end - pos
        return end, done

    monkeypatch.setattr(ItemScanner, "advance", counting)
    demux = table.demultiplexer_for("node-to-node", N2N)
    out = [m for sdu in segment(message, protocol=2, mode=1) for m in demux.feed(sdu.encode())]
    assert [m.data for m in out] == [message] and scanned == len(message)


def test_the_wire_errors_name_catalogue_rules() -> None:
    from conformance.protocol import catalogue
    from conformance.wire.mux import UnknownMiniProtocol

    for error in (MuxError, IngressOverrun, UnknownMiniProtocol):
        assert error.requirement in catalogue.load()
        assert error.requirement in table.MuxChecker.requirements


def test_the_checker_and_the_demultiplexer_agree_on_what_runs() -> None:
    for mode, data in (("node-to-node", N2N), ("node-to-node", None), ("node-to-client", {})):
        checker = table.MuxChecker(mode, data)  # type: ignore[arg-type]
        assert set(checker.bundle()) == set(table.demultiplexer_for(mode, data).limits)  # type: ignore[arg-type]


def test_the_checker_counts_queued_bytes_only_for_running_protocols() -> None:
    checker = table.MuxChecker("node-to-node", N2N)
    keep_alive = _vector("ka-gouroboros-msgkeepalive")
    checker.observe(SDU(0, 0, 8, keep_alive), "initiator")
    for number in (1, 99, 0x7FFF):
        with pytest.raises(table.MuxViolation):
            checker.observe(SDU(0, 0, number, keep_alive), "initiator")
    assert checker.buffered == {(8, 0): len(keep_alive)}


def test_inbound_data_starts_its_own_responder_and_keep_alive_only() -> None:
    """StartOnDemand for every responder, StartOnDemandAny for keep-alive (Cardano.Network.NodeToNode);
    node-to-client responders are all StartOnDemand; the handshake runs before the mux."""
    responders_started_by = table.responders_started_by
    assert responders_started_by("node-to-node", 2) == ("chain-sync", "keep-alive")
    assert responders_started_by("node-to-node", 8) == ("keep-alive",)
    assert responders_started_by("node-to-node", 10) == ("peer-sharing", "keep-alive")
    assert responders_started_by("node-to-node", 0) == ()
    assert responders_started_by("node-to-client", 5) == ("local-chain-sync",)
