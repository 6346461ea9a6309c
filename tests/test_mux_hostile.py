"""The demultiplexer under hostile input: typed errors only, no hang, memory bounded, each message once.

Every probe is seeded and bounded. `HOSTILE_INPUTS` counts the byte strings fed (run with `-s` to see the
total printed at the end of the module).
"""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import wire
from conformance.protocol import mux as table
from conformance.vectors import Vector, load_vectors
from conformance.wire import mutate
from conformance.wire.cbor import scan_item
from conformance.wire.errors import DecodeError, MalformedCbor, TruncatedInput
from conformance.wire.mux import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    NEED_DATA,
    SDU,
    IngressOverrun,
    MessageDemultiplexer,
    MuxError,
    MuxMessage,
    UnknownMiniProtocol,
    segment,
)
from conformance.wire.reassembly import ItemScanner

N2N = {"initiator_only": False, "peer_sharing": 1}
HOSTILE_INPUTS: Counter[str] = Counter()
VECTORS = load_vectors()


@pytest.fixture(scope="module", autouse=True)
def _report_count() -> Iterator[None]:
    yield
    print(f"\nhostile inputs fed: {sum(HOSTILE_INPUTS.values())} {dict(HOSTILE_INPUTS)}")


def n2n() -> MessageDemultiplexer:
    return table.demultiplexer_for("node-to-node", N2N)


def bound(demux: MessageDemultiplexer) -> int:
    """What a demultiplexer may hold at most: two full queues per protocol and one incomplete SDU."""
    return 2 * sum(demux.limits.values()) + HEADER_SIZE + MAX_PAYLOAD


def feed_hostile(demux: MessageDemultiplexer, data: bytes, kind: str) -> list[MuxMessage]:
    """Feed one hostile input: messages or a typed error, and after an error the same error again."""
    HOSTILE_INPUTS[kind] += 1
    try:
        out = demux.feed(data)
    except DecodeError as first:
        with pytest.raises(type(first)) as again:
            demux.receive_data(b"\x00" * 16)
        assert str(again.value) == str(first)
        assert demux.pending <= bound(demux)
        with pytest.raises(type(first)):  # the messages before the fault, then the fault
            while demux.next_message() is not NEED_DATA:
                pass
        assert demux.pending == 0
        return []
    assert demux.pending <= bound(demux)
    return out


def golden(protocols: set[str], max_len: int) -> list[Vector]:
    return [
        v for v in VECTORS if v.protocol in protocols and v.kind == "message" and v.valid and len(v.data) <= max_len
    ]


def bearer(messages: list[tuple[int, int, bytes]], max_payload: int) -> bytes:
    """Each (protocol, mode) run segmented into SDUs of `max_payload`, the SDUs interleaved."""
    sdus = []
    for protocol, mode, data in messages:
        sdus += segment(data, protocol=protocol, mode=mode, max_payload=max_payload)
    return b"".join(s.encode() for s in sdus)


# ---------------------------------------------------------------------------------------------------
# Exactly once


def _conversation() -> tuple[bytes, list[tuple[int, int, bytes]]]:
    keep_alive = [v.data for v in golden({"keep-alive"}, 64)]
    chain_sync = [v.data for v in golden({"chain-sync"}, 120)][:4]
    messages = [(8, 0, m) for m in keep_alive] + [(2, 1, m) for m in chain_sync] + [(8, 1, keep_alive[0])]
    # SDUs of 7 bytes: some messages span SDUs, some SDUs end one message and start the next
    sdus = []
    for protocol, mode in ((8, 0), (2, 1), (8, 1)):
        run = b"".join(d for p, m, d in messages if (p, m) == (protocol, mode))
        sdus += segment(run, protocol=protocol, mode=mode, max_payload=7)
    return b"".join(s.encode() for s in sdus), messages


def test_every_split_and_every_stopping_point_delivers_each_message_exactly_once() -> None:
    data, messages = _conversation()
    expected = sorted(messages)  # streams interleave only by SDU order; per stream order is checked below
    for cut in range(len(data) + 1):
        for stop in range(len(messages) + 1):
            demux = n2n()
            got: list[MuxMessage] = []
            demux.receive_data(data[:cut])
            while len(got) < stop and (message := demux.next_message()) is not NEED_DATA:
                got.append(message)  # type: ignore[arg-type]
            demux.receive_data(data[cut:])
            while (message := demux.next_message()) is not NEED_DATA:
                got.append(message)  # type: ignore[arg-type]
            assert sorted((m.protocol, m.mode, m.data) for m in got) == expected, (cut, stop)
            for key in {(p, m) for p, m, _ in messages}:
                assert [m.data for m in got if (m.protocol, m.mode) == key] == [
                    d for p, m, d in messages if (p, m) == key
                ]
            assert demux.pending == 0
            HOSTILE_INPUTS["split and stop"] += 2


def test_a_consumer_that_raises_mid_loop_loses_and_repeats_nothing() -> None:
    data, messages = _conversation()
    for stop in range(len(messages)):
        demux = n2n()
        demux.receive_data(data)
        got = []
        with pytest.raises(RuntimeError):
            while (message := demux.next_message()) is not NEED_DATA:
                got.append(message)
                if len(got) == stop + 1:
                    raise RuntimeError("the consumer gave up")
        got += demux.feed(b"")
        assert len(got) == len(messages)
        assert sorted((m.protocol, m.mode, m.data) for m in got) == sorted(messages)


def test_bytes_fed_and_never_drained_are_kept_until_asked_for() -> None:
    data, messages = _conversation()
    demux = n2n()
    for i in range(len(data)):
        demux.receive_data(data[i : i + 1])  # nothing taken in between
    assert len(demux.feed(b"")) == len(messages)


def test_messages_before_a_fault_are_delivered_then_the_fault() -> None:
    keep_alive = golden({"keep-alive"}, 64)[0].data
    demux = n2n()
    with pytest.raises(MuxError):
        demux.receive_data(SDU(0, 0, 8, keep_alive).encode() + SDU(0, 0, 99, b"\x00").encode())
    assert demux.next_message() == MuxMessage(8, 0, 0, keep_alive)
    with pytest.raises(UnknownMiniProtocol):
        demux.next_message()


# ---------------------------------------------------------------------------------------------------
# Bounded memory


def test_an_unknown_mini_protocol_is_an_error_at_once_for_every_number() -> None:
    running = n2n().limits
    for number in range(0x8000):
        if number in running:
            continue
        demux = n2n()
        with pytest.raises(UnknownMiniProtocol) as raised:
            demux.receive_data(SDU(0, number & 1, number, b"\x00").encode())
        HOSTILE_INPUTS["unknown protocol"] += 1
        assert raised.value.number == number and raised.value.requirement == "MUX-PROTO-01"
        assert f"mini-protocol {number} " in str(raised.value)
        assert demux.pending == 0 and demux.streams == 0


def test_streams_are_bounded_by_the_running_protocols_in_both_directions() -> None:
    demux = n2n()
    for number in demux.limits:
        for mode in (0, 1):
            demux.receive_data(SDU(0, mode, number, b"\x82").encode())  # an open array: a stream each
    assert demux.streams == 2 * len(demux.limits)
    with pytest.raises(UnknownMiniProtocol):
        demux.receive_data(SDU(0, 0, 0x7FFF, b"\x00").encode())
    assert demux.streams == 2 * len(demux.limits)


def test_after_an_overrun_nothing_more_is_buffered() -> None:
    demux = n2n()
    with pytest.raises(IngressOverrun) as raised:
        for _ in range(2001):  # keep-alive holds 1,408 bytes; a byte string claims 65,535 more each SDU
            demux.receive_data(SDU(0, 0, 8, b"\x5a\x00\x01\x00\x00" + b"\x00" * 400).encode())
    first = raised.value
    assert (first.limit, first.requirement) == (1408, "MUX-INGRESS-01")
    for _ in range(2001):
        with pytest.raises(IngressOverrun) as again:
            demux.receive_data(SDU(0, 0, 8, b"\x00" * 12_288).encode())
        assert str(again.value) == str(first)
    HOSTILE_INPUTS["after overrun"] += 2001
    assert demux.pending == 0


@pytest.mark.parametrize(
    ("head", "what"),
    [
        ("82049a00100000", "items"),  # an array claiming 2^20 items in chain-sync (462,000 bytes)
        ("82049b" + "ff" * 8, "items"),  # 2^64 - 1 items: stays a number, fails at once
        ("8204ba00040000", "items"),  # a map claiming 2^18 pairs: 2^19 items
        ("82045a00100000", "bytes"),  # a byte string claiming 1 MiB
        ("82047a00100000", "bytes"),  # a text string claiming 1 MiB
        ("82049f9f9a00080000", "items"),  # nested inside indefinite arrays
    ],
)
def test_a_claim_that_cannot_fit_the_queue_fails_at_once(head: str, what: str) -> None:
    demux = n2n()
    with pytest.raises(IngressOverrun) as raised:
        demux.receive_data(SDU(0, 1, 2, bytes.fromhex(head) + b"\xff" * 1000).encode())
    HOSTILE_INPUTS["claims"] += 1
    assert what in str(raised.value)
    assert raised.value.limit == 462_000 and raised.value.observed > 462_000
    assert demux.pending == 0


def test_a_claim_that_fits_the_queue_waits_for_its_bytes() -> None:
    message = bytes.fromhex("82045a00010000") + bytes(65_536)
    demux = n2n()
    out = [m for sdu in segment(message, protocol=2, mode=1) for m in demux.feed(sdu.encode())]
    assert [m.data for m in out] == [message]


def test_memory_of_many_hostile_connections_is_bounded() -> None:
    """50 connections, each fed until it fails: what the wire layer keeps afterwards is small."""
    tracemalloc.start()
    try:
        connections = []
        for i in range(50):
            demux = n2n()
            try:
                demux.receive_data(SDU(i, 0, 2, bytes.fromhex("5a00070000") + bytes(12_283)).encode())
                for _ in range(200):  # a string that fits the queue, then more than it holds
                    demux.receive_data(SDU(i, 0, 2, bytes(12_288)).encode())
            except IngressOverrun:
                pass
            connections.append(demux)
        gc.collect()
        _, peak = tracemalloc.get_traced_memory()
        wire_layer = tracemalloc.Filter(True, "*conformance/wire/*")
        held = sum(s.size for s in tracemalloc.take_snapshot().filter_traces([wire_layer]).statistics("filename"))
    finally:
        tracemalloc.stop()
    HOSTILE_INPUTS["memory"] += 50 * 39
    assert all(d.error is not None and d.pending == 0 for d in connections)
    assert held < 50 * 4_096
    assert peak < 10 * 462_000  # a few queues' worth (growth copies, the test's garbage), never 50 of them


# ---------------------------------------------------------------------------------------------------
# Random and mutated bytes: only typed errors


def test_random_bearer_bytes_give_only_typed_errors() -> None:
    rng = random.Random(2024)
    for _ in range(1500):
        demux = n2n()
        data = rng.randbytes(rng.randint(0, 400))
        for i in range(0, len(data), 37):
            feed_hostile(demux, data[i : i + 37], "random bytes")


def test_random_payloads_of_running_protocols_give_only_typed_errors() -> None:
    rng = random.Random(2025)
    numbers = sorted(n2n().limits)
    for _ in range(1500):
        demux = n2n()
        for _ in range(rng.randint(1, 6)):
            payload = rng.randbytes(rng.randint(1, 200))
            sdu = SDU(0, rng.randint(0, 1), rng.choice(numbers), payload)
            feed_hostile(demux, sdu.encode(), "random payloads")


def _sdu_demux(vector: Vector) -> MessageDemultiplexer:
    if vector.extra["sdu"]["mini_protocol"] == 0:
        return table.demultiplexer_for("node-to-node")
    return n2n()


MUX_VECTORS = [v for v in VECTORS if v.protocol == "mux"]


@pytest.mark.parametrize("vector", MUX_VECTORS, ids=lambda v: v.id)
def test_mutated_golden_sdus_give_only_typed_errors(vector: Vector) -> None:
    rng = random.Random(vector.id)
    data = vector.data
    mutants = [mutate.flip(data, at, mask) for at in range(min(len(data), 16)) for mask in (1, 0x80, 0xFF)]
    mutants += [mutate.flip(data, rng.randrange(len(data)), rng.randint(1, 255)) for _ in range(150)]
    mutants += [mutate.truncate(data, rng.randrange(len(data))) for _ in range(30)]
    mutants += [mutate.insert(data, rng.randrange(len(data)), rng.randrange(256)) for _ in range(60)]
    for mutant in mutants:
        feed_hostile(_sdu_demux(vector), mutant, "mutated golden SDUs")


@pytest.mark.parametrize("vector", MUX_VECTORS, ids=lambda v: v.id)
def test_wrong_sdu_lengths_give_only_typed_errors(vector: Vector) -> None:
    data = vector.data
    length = int.from_bytes(data[6:8], "big")
    for wrong in {0, 1, 2, 65_535, *range(max(1, length - 8), length + 9)}:
        mutant = data[:6] + wrong.to_bytes(2, "big") + data[8:] + data  # then the SDU again, whole
        feed_hostile(_sdu_demux(vector), mutant, "wrong lengths")


def test_mode_bits_address_separate_streams_and_nothing_else() -> None:
    keep_alive = golden({"keep-alive"}, 64)[0].data
    for mode in (0, 1):
        demux = n2n()
        out = demux.feed(SDU(0, mode, 8, keep_alive[:2]).encode() + SDU(0, 1 - mode, 8, keep_alive).encode())
        assert [(m.mode, m.data) for m in out] == [(1 - mode, keep_alive)]
        assert demux.feed(SDU(0, mode, 8, keep_alive[2:]).encode()) == [MuxMessage(8, mode, 0, keep_alive)]
        HOSTILE_INPUTS["mode bits"] += 2


# ---------------------------------------------------------------------------------------------------
# Exact reassembly of golden messages at every split


N2N_NUMBERS = {p.name: p.number for p in table.NODE_TO_NODE if p.number}
N2C_NUMBERS = {p.name: p.number for p in table.NODE_TO_CLIENT if p.number}


def test_every_golden_message_split_anywhere_over_two_sdus_is_reassembled_exactly() -> None:
    vectors = golden(set(N2N_NUMBERS) | set(N2C_NUMBERS), 1_000_000)
    assert len(vectors) > 80
    for vector in vectors:
        if vector.protocol in N2N_NUMBERS:
            number, make = N2N_NUMBERS[vector.protocol], n2n
        else:
            number = N2C_NUMBERS[vector.protocol]

            def make() -> MessageDemultiplexer:
                return table.demultiplexer_for("node-to-client", {})

        data = vector.data
        cuts = range(1, len(data)) if len(data) <= 1_500 else random.Random(vector.id).sample(range(1, len(data)), 40)
        for cut in cuts:
            demux = make()
            sdus = segment(data[:cut], protocol=number, mode=1, timestamp=1)
            sdus += segment(data[cut:], protocol=number, mode=1, timestamp=2)
            bearer_bytes = b"".join(sdu.encode() for sdu in sdus)
            assert demux.feed(bearer_bytes) == [MuxMessage(number, 1, 2, data)], (vector.id, cut)
            assert demux.pending == 0
            HOSTILE_INPUTS["golden splits"] += 1


# ---------------------------------------------------------------------------------------------------
# The incremental scanner agrees with the whole-input scanner


def _incremental(data: bytes, cuts: list[int]) -> int | None:
    """Feed `data` in pieces at `cuts`; the end of the first item, or None if it never ended."""
    scanner, buffer, pos = ItemScanner(), bytearray(), 0
    for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
        buffer += data[start:stop]
        pos, done = scanner.advance(buffer, pos)
        if done:
            return pos
    return None


def _agree(data: bytes, cuts: list[int]) -> None:
    try:
        end: int | None = scan_item(data)
        error: DecodeError | None = None
    except DecodeError as exc:
        end, error = None, exc
    if isinstance(error, TruncatedInput):  # the whole scanner gives up where the claim runs out of input
        try:
            assert _incremental(data, cuts) is None
        except MalformedCbor:
            pass
    elif error is not None:
        with pytest.raises(MalformedCbor) as raised:
            _incremental(data, cuts)
        assert raised.value.offset == error.offset
    else:
        assert _incremental(data, cuts) == end


@given(st.binary(max_size=64), st.lists(st.integers(0, 64), max_size=4))
def test_the_incremental_scanner_agrees_with_scan_item_on_any_bytes(data: bytes, cuts: list[int]) -> None:
    HOSTILE_INPUTS["scanner"] += 1
    _agree(data, sorted(min(c, len(data)) for c in cuts))


def test_the_incremental_scanner_agrees_on_every_golden_message_at_every_cut() -> None:
    for vector in [v for v in VECTORS if v.kind == "message" and len(v.data) <= 600]:
        for cut in range(len(vector.data) + 1):
            _agree(vector.data, [cut])
            _agree(vector.data[:-1], [cut])  # truncated: the scanner waits, never ends early
            HOSTILE_INPUTS["scanner"] += 2


def test_wire_decoding_of_reassembled_messages_still_works() -> None:
    """What the demultiplexer hands out is exactly what the codecs decode."""
    for vector in golden({"chain-sync", "block-fetch"}, 100_000)[:10]:
        number = N2N_NUMBERS[vector.protocol]
        demux = n2n()
        sdus = segment(vector.data, protocol=number, mode=1, max_payload=100)
        out = [m for sdu in sdus for m in demux.feed(sdu.encode())]
        assert [wire.encode(wire.decode(vector.protocol, m.data)) for m in out] == [vector.data]
