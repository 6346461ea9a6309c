"""Property tests of every mini-protocol codec, with messages generated from the declarations themselves.

For every message of every protocol: encode then decode gives the same message and the same bytes; the
declared sender states decode it and the other states refuse it or read it as the message they allow; the
bytes survive being cut anywhere on their way through the mux (stream reassembly, SDU segmentation, TCP
reads of any size); and damaged or random bytes raise only the DecodeError family. The golden vectors go
through the same checks.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import wire
from conformance.vectors import Vector, load_vectors
from conformance.wire import cbor, mux
from conformance.wire.codec import Codec, MessageType
from conformance.wire.mutate import damaged
from conformance.wire.schema import cbor_values

DECLARATIONS = [(protocol, name) for protocol, codec in wire.CODECS.items() for name in codec.messages]
"""Every (protocol, message name) pair, so that each message gets its own examples."""

ALL_SPLITS_UP_TO = 512
"""Messages up to this size are cut at every byte; longer ones near both ends and at sampled places."""
ALL_THREE_WAY_SPLITS_UP_TO = 32
SAMPLED_SPLITS = 64
SDU_PAYLOAD_SIZES = [1, 2, 3, 5, 8, 64, 1000, mux.NODE_SDU_PAYLOAD]


def declaration(protocol: str, name: str) -> MessageType:
    return wire.CODECS[protocol].messages[name]


@cache
def messages_of(protocol: str, name: str | None = None) -> st.SearchStrategy[wire.Message]:
    """Valid messages of one declaration (or of the whole protocol), built once: hypothesis validates a
    strategy when it is first drawn from, and a recursive one costs more to validate than to draw."""
    if name is None:
        return wire.CODECS[protocol].strategy()
    return declaration(protocol, name).messages()


def sender_states(codec: Codec) -> list[str]:
    """Every state named by some message of the protocol (the states in which the sender may send)."""
    return sorted({state for message in codec.messages.values() for state in message.states})


def decode_outcome(protocol: str, data: bytes, state: str | None = None) -> wire.Message | None:
    """Decode, or None for a DecodeError; any other exception propagates and fails the test."""
    try:
        return wire.decode(protocol, data, state)
    except wire.DecodeError:
        return None


# --------------------------------------------------------------------------------------------------
# Cutting bytes, as the network does


def two_way_cuts(n: int, rng: random.Random) -> Iterable[int]:
    if n <= ALL_SPLITS_UP_TO:
        return range(1, n)
    ends = [*range(1, 17), *range(n - 16, n)]
    return sorted({*ends, *rng.sample(range(1, n), SAMPLED_SPLITS)})


def three_way_cuts(n: int, rng: random.Random) -> Iterable[tuple[int, int]]:
    if n <= ALL_THREE_WAY_SPLITS_UP_TO:
        return combinations(range(1, n), 2)
    return [tuple(sorted(rng.sample(range(1, n), 2))) for _ in range(SAMPLED_SPLITS)]  # type: ignore[misc]


def boundary_cuts(lengths: Sequence[int], rng: random.Random) -> Iterable[int]:
    """Cuts of a run of messages: every byte within 16 of a boundary between two, and sampled places."""
    total = sum(lengths)
    boundaries = [sum(lengths[:i]) for i in range(1, len(lengths))]
    near = {cut for b in boundaries for cut in range(b - 16, b + 17) if 0 < cut < total}
    return sorted(near | set(rng.sample(range(1, total), min(SAMPLED_SPLITS, total - 1))))


def random_pieces(data: bytes, rng: random.Random, max_piece: int) -> Iterator[bytes]:
    """`data` as reads of random sizes (1..max_piece bytes), as a socket may deliver it."""
    start = 0
    while start < len(data):
        end = start + rng.randint(1, max_piece)
        yield data[start:end]
        start = end


def reassemble(protocol: str, pieces: Iterable[bytes]) -> list[bytes]:
    reassembler = mux.StreamReassembler(protocol)
    out = [message for piece in pieces for message in reassembler.feed(piece)]
    assert reassembler.pending == 0, f"{reassembler.pending} bytes left in the reassembler"
    return out


def check_splits(protocol: str, messages: Sequence[bytes], rng: random.Random) -> None:
    """The first message cut in two and in three anywhere, then the whole run cut in two near its seams."""
    first = messages[0]
    for i in two_way_cuts(len(first), rng):
        assert reassemble(protocol, [first[:i], first[i:]]) == [first], f"cut at {i} of {first.hex()}"
    for i, j in three_way_cuts(len(first), rng):
        pieces = [first[:i], first[i:j], first[j:]]
        assert reassemble(protocol, pieces) == [first], f"cut at {i}, {j} of {first.hex()}"
    stream = b"".join(messages)
    for i in boundary_cuts([len(m) for m in messages], rng):
        pieces = [stream[:i], stream[i:]]
        assert reassemble(protocol, pieces) == list(messages), f"cut at {i} of {stream.hex()}"


def check_segmentation(codec: Codec, messages: Sequence[bytes], max_payload: int, rng: random.Random) -> None:
    """Messages -> SDUs of at most `max_payload` -> bearer bytes read in random pieces -> same messages."""
    stream = b"".join(messages)
    mode = rng.choice([mux.INITIATOR, mux.RESPONDER])
    assert codec.number is not None
    sdus = mux.segment(stream, protocol=codec.number, mode=mode, max_payload=max_payload)
    assert all(0 < len(sdu.payload) <= max_payload for sdu in sdus)
    assert b"".join(sdu.payload for sdu in sdus) == stream
    bearer = b"".join(sdu.encode() for sdu in sdus)
    demuxer = mux.Demuxer()
    reassembler = mux.StreamReassembler(codec.name)
    out: list[bytes] = []
    for read in random_pieces(bearer, rng, max_piece=2 * (max_payload + mux.HEADER_SIZE)):
        for sdu in demuxer.feed(read):
            assert (sdu.protocol, sdu.mode) == (codec.number, mode)
            out.extend(reassembler.feed(sdu.payload))
    assert out == list(messages)
    assert demuxer.pending == 0
    assert reassembler.pending == 0




@cache
def damaged_messages(protocol: str, name: str) -> st.SearchStrategy[bytes]:
    return damaged(messages_of(protocol, name).map(wire.encode))


ANY_FIELDS = st.lists(cbor_values(max_leaves=4), max_size=4)
"""Arbitrary CBOR items to follow a message tag."""


def assert_decodes_exactly_or_refuses(protocol: str, data: bytes, state: str | None) -> None:
    """Only DecodeError may escape; what is accepted must encode back to exactly the bytes it came from."""
    decoded = decode_outcome(protocol, data, state)
    if decoded is not None:
        assert wire.encode(decoded) == data, f"{protocol} {decoded.name}: {data.hex()} re-encodes differently"


# --------------------------------------------------------------------------------------------------
# Generated messages


@pytest.mark.parametrize(("protocol", "name"), DECLARATIONS)
@given(data=st.data())
def test_round_trip_in_every_state(protocol: str, name: str, data: st.DataObject) -> None:
    codec = wire.CODECS[protocol]
    kind = declaration(protocol, name)
    message = data.draw(messages_of(protocol, name), label="message")
    encoded = wire.encode(message)
    for state in kind.states:
        decoded = wire.decode(protocol, encoded, state)
        assert decoded == message
        assert decoded.raw == encoded
        assert wire.encode(decoded) == encoded
    stateless = wire.decode(protocol, encoded)
    assert wire.encode(stateless) == encoded
    if len(codec.by_tag[kind.tag]) == 1:
        assert stateless == message
    for state in sorted(set(sender_states(codec)) - set(kind.states)):
        other = decode_outcome(protocol, encoded, state)
        if other is not None:  # another message with the same tag that this state allows
            assert other.name != name and state in codec.messages[other.name].states
    assert kind.build(message.fields) == encoded, "the construct path builds other bytes"
    assert kind.parse(encoded) == message.fields, "the construct path parses another value"


@pytest.mark.parametrize(("protocol", "name"), DECLARATIONS)
@given(data=st.data())
def test_reassembly_survives_every_cut(protocol: str, name: str, data: st.DataObject) -> None:
    codec = wire.CODECS[protocol]
    first = wire.encode(data.draw(messages_of(protocol, name), label="message"))
    second = wire.encode(data.draw(messages_of(protocol), label="next message"))
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    check_splits(protocol, [first, second], rng)
    max_payload = data.draw(st.sampled_from(SDU_PAYLOAD_SIZES), label="max_payload")
    check_segmentation(codec, [first, second], max_payload, rng)


@pytest.mark.parametrize("protocol", list(wire.CODECS))
@given(data=st.data())
def test_random_bytes_raise_only_decode_errors(protocol: str, data: st.DataObject) -> None:
    raw = data.draw(st.binary(max_size=64), label="bytes")
    state = data.draw(st.sampled_from([None, *sender_states(wire.CODECS[protocol])]), label="state")
    assert_decodes_exactly_or_refuses(protocol, raw, state)


@pytest.mark.parametrize("protocol", list(wire.CODECS))
@given(data=st.data())
def test_arrays_of_the_wrong_shape_raise_only_decode_errors(protocol: str, data: st.DataObject) -> None:
    """`[known tag, anything...]`: well-formed CBOR that reaches the field checks of every declaration."""
    codec = wire.CODECS[protocol]
    tag = data.draw(st.sampled_from(sorted(codec.by_tag)), label="tag")
    fields = data.draw(ANY_FIELDS, label="fields")
    state = data.draw(st.sampled_from([None, *sender_states(codec)]), label="state")
    assert_decodes_exactly_or_refuses(protocol, cbor.encode_item([tag, *fields]), state)


@pytest.mark.parametrize(("protocol", "name"), DECLARATIONS)
@given(data=st.data())
def test_mutated_messages_raise_only_decode_errors(protocol: str, name: str, data: st.DataObject) -> None:
    kind = declaration(protocol, name)
    damaged = data.draw(damaged_messages(protocol, name), label="damaged")
    state = data.draw(st.sampled_from([None, *kind.states]), label="state")
    assert_decodes_exactly_or_refuses(protocol, damaged, state)


# --------------------------------------------------------------------------------------------------
# Directed hostile messages


@pytest.mark.parametrize(
    "hex_input",
    [
        "8204d8185b0000000100000000",  # MsgBlock whose tag-24 string claims 4 GiB
        "8204d818495b0000000100000000",  # MsgBlock whose embedded block claims 4 GiB
        "82049bffffffffffffffff",  # an array of 2^64-1 items where the block should be
        "9bffffffffffffffff",  # a message claiming 2^64-1 fields
    ],
)
def test_huge_claims_inside_a_message_are_refused(hex_input: str) -> None:
    with pytest.raises(wire.DecodeError):
        wire.decode("block-fetch", bytes.fromhex(hex_input), "BFStreaming")


@pytest.mark.parametrize(
    "inner_hex",
    [
        "",  # nothing
        "ff",  # a lone break code
        "0000",  # two items
        "00ff",  # an item, then a break code
        "00ff00",  # an item, a break code, another item
        "8100ff",  # an array, then a break code
        "81",  # a truncated array
    ],
)
def test_tag_24_must_hold_exactly_one_well_formed_item(inner_hex: str) -> None:
    """MsgBlock `[4, #6.24(bytes .cbor block)]`: the embedded bytes are one item, nothing before or after."""
    inner = bytes.fromhex(inner_hex)
    data = cbor.encode_item([4, cbor.Tag(24, inner)])
    with pytest.raises(wire.ShapeMismatch):
        wire.decode("block-fetch", data, "BFStreaming")


@pytest.mark.parametrize(
    ("protocol", "state", "hex_input"),
    [
        ("keep-alive", "StClient", "8200190001"),  # cookie 1 in a 2-byte argument
        ("handshake", "StConfirm", "83180107821818f4"),  # MsgAcceptVersion's tag 1 in a 1-byte argument
        ("n2c-handshake", "StConfirm", "820282180080"),  # refuse reason discriminator 0 in a 1-byte argument
        ("peer-sharing", "StBusy", "8201818318000000"),  # peer address discriminator 0 in a 1-byte argument
        ("peer-sharing", "StBusy", "82018183001a000000011a00000bb8"),  # IPv4 word 1 in a 4-byte argument
    ],
)
def test_accepted_non_shortest_integers_are_reproduced(protocol: str, state: str, hex_input: str) -> None:
    """Found by the mutation tests: what the decoder accepts in a non-shortest form it gives back as is."""
    data = bytes.fromhex(hex_input)
    assert wire.encode(wire.decode(protocol, data, state)).hex() == hex_input


@pytest.mark.parametrize("container", ["9f", "bf00"])
def test_deeply_nested_raw_field_is_a_decode_error(container: str) -> None:
    """A LocalStateQuery MsgResult is opaque CBOR from the peer: deep nesting must not crash the harness."""
    depth = 2 * cbor.MAX_DEPTH
    closing = "ff" * depth
    data = bytes.fromhex("8204" + container * depth + "00" + closing)
    with pytest.raises(wire.DecodeError):
        wire.decode("local-state-query", data, "StQuerying")


# --------------------------------------------------------------------------------------------------
# Golden vectors: the same checks on real bytes


def _vectors(kind: str, *, valid: bool = True, protocols: Iterable[str] = wire.CODECS) -> list[Any]:
    return [
        pytest.param(v, id=v.id)
        for v in load_vectors()
        if v.kind == kind and v.valid == valid and v.protocol in protocols
    ]


def _rng(vector: Vector) -> random.Random:
    return random.Random(zlib.crc32(vector.id.encode()))


@pytest.mark.parametrize("vector", _vectors("message"))
def test_golden_message_round_trips_and_survives_every_cut(vector: Vector) -> None:
    decoded = wire.decode(vector.protocol, vector.data, vector.state)
    if vector.message is not None:
        assert decoded.name == vector.message
    assert wire.encode(decoded) == vector.data
    rng = _rng(vector)
    check_splits(vector.protocol, [vector.data, vector.data], rng)
    for max_payload in (mux.NODE_SDU_PAYLOAD, mux.MAX_PAYLOAD, 7):
        if len(vector.data) // max_payload <= 4096:
            check_segmentation(wire.CODECS[vector.protocol], [vector.data], max_payload, rng)


GOLDEN_MESSAGES = [p.values[0] for p in _vectors("message") if len(p.values[0].data) < 65536]
"""Golden messages small enough to decode thousands of times (all but the 648 KB N2C RollForward)."""


@given(data=st.data())
def test_mutated_golden_messages_raise_only_decode_errors(data: st.DataObject) -> None:
    """Real bytes damaged once reach deeper than generated ones: real headers, blocks, reject reasons."""
    vector = data.draw(st.sampled_from(GOLDEN_MESSAGES), label="vector")
    broken = data.draw(damaged(st.just(vector.data)), label="damaged")
    state = data.draw(st.sampled_from([None, vector.state]), label="state")
    assert_decodes_exactly_or_refuses(vector.protocol, broken, state)


@pytest.mark.parametrize("vector", _vectors("message", valid=False))
def test_golden_invalid_message_is_a_decode_error(vector: Vector) -> None:
    with pytest.raises(wire.DecodeError):
        wire.decode(vector.protocol, vector.data, vector.state)


@pytest.mark.parametrize("vector", _vectors("stream"))
def test_golden_stream_reassembles_the_same_under_every_cut(vector: Vector) -> None:
    messages = reassemble(vector.protocol, [vector.data])
    assert b"".join(messages) == vector.data
    for message in messages:
        assert wire.encode(wire.decode(vector.protocol, message)) == message
    check_splits(vector.protocol, messages, _rng(vector))
    check_segmentation(wire.CODECS[vector.protocol], messages, mux.NODE_SDU_PAYLOAD, _rng(vector))


@pytest.mark.parametrize("vector", _vectors("sdu", protocols=["mux"]))
def test_golden_sdus_demux_the_same_under_every_cut(vector: Vector) -> None:
    """Recorded bearer bytes (some end inside an SDU) give the same SDUs however the reads fall."""
    whole = mux.Demuxer()
    expected = list(whole.feed(vector.data))
    assert b"".join(sdu.encode() for sdu in expected) == vector.data[: len(vector.data) - whole.pending]
    rng = _rng(vector)
    for cut in two_way_cuts(len(vector.data), rng):
        demuxer = mux.Demuxer()
        got = [*demuxer.feed(vector.data[:cut]), *demuxer.feed(vector.data[cut:])]
        assert got == expected, f"cut at {cut}"
        assert demuxer.pending == whole.pending


# --------------------------------------------------------------------------------------------------
# A sender reads its own encoding as an item (Session: `encode_with_item`, then `decode_item`)


def same_values(left: Any, right: Any, path: str = "$") -> None:
    """Equal, and of the same type all the way down, so a rule sees the very same kinds of values."""
    assert type(left) is type(right), f"{path}: {type(left).__name__} != {type(right).__name__}"
    assert left == right, path
    for attribute in ("width", "tag_width", "indefinite", "chunks", "number"):
        assert getattr(left, attribute, None) == getattr(right, attribute, None), f"{path}.{attribute}"
    if isinstance(left, dict):
        for key in left:
            same_values(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, (list, tuple)):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            same_values(a, b, f"{path}[{index}]")
    elif isinstance(left, cbor.Map):
        for (ka, va), (kb, vb) in zip(left.pairs, right.pairs, strict=True):
            same_values(ka, kb, f"{path}{{key}}")
            same_values(va, vb, f"{path}{{value}}")
    elif isinstance(left, cbor.Tag):
        same_values(left.value, right.value, f"{path}#{left.number}")


def item_read_agrees(message: wire.Message, state: str | None) -> None:
    codec = wire.CODECS[message.protocol]
    data, item = codec.encode_with_item(message)
    from_bytes = codec.decode(data, state)
    from_item = codec.decode_item(item, state, raw=data)
    assert (from_item.name, from_item.raw) == (from_bytes.name, from_bytes.raw)
    same_values(from_item.fields, from_bytes.fields)


@pytest.mark.parametrize(("protocol", "name"), DECLARATIONS)
@given(data=st.data())
def test_an_encoding_read_as_an_item_is_the_decode_of_its_bytes(protocol: str, name: str, data: st.DataObject) -> None:
    message = data.draw(messages_of(protocol, name), label="message")
    for state in declaration(protocol, name).states or [None]:
        item_read_agrees(message, state)


@pytest.mark.parametrize("vector", _vectors("message"))
def test_a_golden_message_re_encoded_reads_the_same_as_an_item(vector: Vector) -> None:
    """Decoded values remember their encoding (widths, indefinite lengths): those survive the item read too."""
    item_read_agrees(wire.decode(vector.protocol, vector.data, vector.state), vector.state)
