"""Property tests of the CBOR layer: the fast path against the construct grammar, and hostile input.

The construct declaration in `conformance.wire.cbor` is the reference; the fast decoder, the scanner and the
well-formedness check are optimisations of it and must agree with it on every input: the same values (encoding
details included), the same bytes, the same accept/reject verdict, and no exception outside the DecodeError
family, whatever the bytes.
"""

from __future__ import annotations

import contextlib
import struct
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conformance import wire
from conformance.wire import cbor
from conformance.wire.cbor import EncodedBytes, EncodedList, Map, Simple, Tag, scan
from conformance.wire.mutate import damaged
from conformance.wire.schema import cbor_values

# --------------------------------------------------------------------------------------------------
# Helpers


def anatomy(value: Any) -> Any:
    """A value with every encoding detail spelled out: `==` on CBOR values ignores widths and forms (and
    True == 1), so comparing anatomies is what tells two decoders apart."""
    kind = type(value).__name__
    if isinstance(value, Map):
        pairs = tuple((anatomy(k), anatomy(v)) for k, v in value.pairs)
        return (kind, value.indefinite, value.width, pairs)
    if isinstance(value, list):
        items = tuple(anatomy(v) for v in value)
        return (kind, getattr(value, "indefinite", False), getattr(value, "width", None), items)
    if isinstance(value, Tag):
        return (kind, value.number, value.width, anatomy(value.value))
    if isinstance(value, (bytes, str)):
        chunks = getattr(value, "chunks", None)
        pieces = None if chunks is None else tuple(anatomy(chunk) for chunk in chunks)
        content = value if isinstance(value, str) else bytes(value)
        return (kind, getattr(value, "width", None), pieces, content)
    if isinstance(value, float):
        return (kind, getattr(value, "width", None), struct.pack(">d", value))  # tells -0.0 from 0.0
    if isinstance(value, bool) or value is None or value is cbor.UNDEFINED:
        return (kind, value)
    if isinstance(value, int):
        return (kind, getattr(value, "width", None), int(value))
    if isinstance(value, Simple):
        return (kind, value.value, value.wide)
    raise AssertionError(f"decoder produced an unexpected type {kind}")


def _whole_scan(data: bytes) -> None:
    """scan_item finds where the first item ends; a verdict on the whole input also refuses what trails it."""
    end = cbor.scan_item(data)
    if end != len(data):
        raise wire.TrailingBytes("end of input after one CBOR item", offset=end)


def _whole_python_scan(data: bytes) -> None:
    """The Python scanner alone (scan_item asks the native one first)."""
    end = scan.scan_item_python(data)
    if end != len(data):
        raise wire.TrailingBytes("end of input after one CBOR item", offset=end)


def _native_scan(data: bytes) -> None:
    """The native scanner's yes or no (it locates nothing: a no is a MalformedCbor at 0 here)."""
    assert scan._native is not None
    if scan._native.item_end(data) != len(data):
        raise wire.MalformedCbor("the native scanner's no", offset=0)


@contextlib.contextmanager
def _large_payload_path(native: bool) -> Iterator[None]:
    """check_well_formed as it judges a block (element by element, spans kept), with or without the native
    scanner, whatever the size of the input."""
    saved = scan.SPANS_FROM, scan._native
    scan.SPANS_FROM = 0
    scan._native = scan._native if native else None
    try:
        yield
    finally:
        scan.SPANS_FROM, scan._native = saved


def _large_path_judge(native: bool) -> Callable[[bytes], None]:
    def judge(data: bytes) -> None:
        with _large_payload_path(native):
            cbor.check_well_formed(bytes(bytearray(data)))  # a fresh object: none is remembered as checked

    return judge


JUDGES: dict[str, Callable[[bytes], object]] = {
    "decode_item": cbor.decode_item,
    "decode_item_reference": cbor.decode_item_reference,
    "scan_item": _whole_scan,
    "scan_item_python": _whole_python_scan,
    "check_well_formed": cbor.check_well_formed,
    "check_well_formed_large_cbor2": _large_path_judge(native=False),
}
"""Every entry point that decides whether bytes are exactly one well-formed CBOR item."""
if scan.NATIVE:
    JUDGES["native_item_end"] = _native_scan
    JUDGES["check_well_formed_large_native"] = _large_path_judge(native=True)
LOCATING_JUDGES = [name for name in JUDGES if name != "native_item_end"]
"""The judges that say what is wrong and where (the native scanner only says yes or no)."""


def verdicts(data: bytes) -> dict[str, str]:
    """Each judge's verdict: "accept" or the DecodeError class; any other exception propagates (a failure)."""
    out = {}
    for name, judge in JUDGES.items():
        try:
            judge(data)
        except wire.DecodeError as exc:
            out[name] = type(exc).__name__
        else:
            out[name] = "accept"
    return out


def assert_judges_agree(data: bytes) -> None:
    """All four accept or all four refuse; what they accept decodes alike and encodes back to its bytes."""
    found = verdicts(data)
    accepted = {name for name, verdict in found.items() if verdict == "accept"}
    assert accepted in (set(), set(JUDGES)), f"judges disagree on {data.hex()}: {found}"
    if accepted:
        assert_exact_and_alike(data)


def assert_exact_and_alike(data: bytes) -> None:
    """Fast and reference decoders give the same value, which both encoders turn back into `data`."""
    fast, end = cbor.decode_item(data)
    reference = cbor.decode_item_reference(data)
    assert end == len(data)
    assert anatomy(fast) == anatomy(reference), f"{data.hex()}: {fast!r} != {reference!r}"
    assert cbor.encode_item(fast).hex() == data.hex()
    assert cbor.encode_item_reference(reference).hex() == data.hex()


encodings = cbor_values().map(cbor.encode_item)
"""Encodings of the library's own value strategy."""


def _head(major: int, argument: int, width: int) -> bytes:
    if width == 0:
        return bytes((major << 5 | argument,))
    return bytes((major << 5 | cbor.INFO_OF_WIDTH[width],)) + argument.to_bytes(width, "big")


def _widths_for(argument: int) -> list[int]:
    return [w for w in (0, 1, 2, 4, 8) if (argument < 24 if w == 0 else argument < 1 << (8 * w))]


@st.composite
def _heads(draw: st.DrawFn, major: int, argument: st.SearchStrategy[int]) -> bytes:
    """A head with its argument in any width that holds it, the shortest or not."""
    n = draw(argument)
    return _head(major, n, draw(st.sampled_from(_widths_for(n))))


ARGUMENTS = st.integers(0, 30) | st.integers(0, 2**64 - 1)


@st.composite
def _strings(draw: st.DrawFn, major: int) -> bytes:
    """A byte or text string, definite (any length width) or as indefinite chunks."""
    pieces = st.binary(max_size=24) if major == 2 else st.text(max_size=12).map(str.encode)

    def definite(piece: bytes) -> bytes:
        return draw(_heads(major, st.just(len(piece)))) + piece

    if draw(st.booleans()):
        return definite(draw(pieces))
    chunks = b"".join(definite(piece) for piece in draw(st.lists(pieces, max_size=3)))
    return bytes((major << 5 | 31,)) + chunks + b"\xff"


_leaf_encodings = st.one_of(
    _heads(0, ARGUMENTS),
    _heads(1, ARGUMENTS),
    _strings(2),
    _strings(3),
    st.integers(0, 23).map(lambda n: bytes((0xE0 | n,))),  # simple values 0..19, false, true, null, undefined
    st.integers(32, 255).map(lambda n: bytes((0xF8, n))),
    st.binary(min_size=2, max_size=2).map(lambda b: b"\xf9" + b),  # every half, single and double float,
    st.binary(min_size=4, max_size=4).map(lambda b: b"\xfa" + b),  # NaN payloads, infinities and
    st.binary(min_size=8, max_size=8).map(lambda b: b"\xfb" + b),  # subnormals included
)


@st.composite
def _arrays(draw: st.DrawFn, children: st.SearchStrategy[bytes]) -> bytes:
    items = b"".join(elements := draw(st.lists(children, max_size=4)))
    if draw(st.booleans()):
        return b"\x9f" + items + b"\xff"
    return draw(_heads(4, st.just(len(elements)))) + items


@st.composite
def _maps(draw: st.DrawFn, children: st.SearchStrategy[bytes]) -> bytes:
    pairs = draw(st.lists(st.tuples(children, children), max_size=3))
    entries = b"".join(key + value for key, value in pairs)
    if draw(st.booleans()):
        return b"\xbf" + entries + b"\xff"
    return draw(_heads(5, st.just(len(pairs)))) + entries


def _containers(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    tagged = st.tuples(_heads(6, ARGUMENTS), children).map(b"".join)
    return st.one_of(_arrays(children), _maps(children), tagged)


any_form_encodings = st.recursive(_leaf_encodings, _containers, max_leaves=16)
"""Well-formed encodings built at the byte level, in every form RFC 8949 allows: any argument width, definite
or indefinite lengths, chunked strings, every simple value and float bit pattern, any tag number."""




# --------------------------------------------------------------------------------------------------
# Valid values


@given(cbor_values())
def test_fast_round_trip(value: Any) -> None:
    data = cbor.encode_item(value)
    decoded, end = cbor.decode_item(data)
    assert end == len(data)
    assert decoded == value
    assert cbor.encode_item(decoded) == data


@given(cbor_values())
def test_fast_path_equals_construct_reference(value: Any) -> None:
    data = cbor.encode_item(value)
    assert cbor.encode_item_reference(value) == data
    fast, _ = cbor.decode_item(data)
    reference = cbor.decode_item_reference(data)
    assert anatomy(fast) == anatomy(reference)
    assert cbor.encode_item_reference(reference) == data
    assert cbor.encode_item(reference) == data


@given(any_form_encodings)
@example(bytes.fromhex("f97e01"))  # a half-precision NaN with a payload
@example(bytes.fromhex("fa7f800001"))  # a single-precision signalling NaN
@example(bytes.fromhex("1b0000000000000001"))  # 1 in an 8-byte argument
@example(b"\xe0")  # simple value 0
def test_every_encoding_form_round_trips_byte_exact(data: bytes) -> None:
    """Whatever form a well-formed item was written in, both decoders agree and both encoders reproduce it."""
    assert cbor.scan_item(data) == len(data)
    cbor.check_well_formed(data)
    assert_exact_and_alike(data)


@given(cbor_values())
def test_scanner_and_well_formedness_accept_every_encoding(value: Any) -> None:
    data = cbor.encode_item(value)
    assert cbor.scan_item(data) == len(data)
    cbor.check_well_formed(data)


@given(cbor_values(), st.binary(min_size=1, max_size=8))
@example(0, b"\xff")  # a break code after a complete item closes cbor2's wrapper array early
@example(Map([], indefinite=True), b"\xff")
def test_item_followed_by_more_bytes_ends_where_it_should(value: Any, tail: bytes) -> None:
    """Every judge refuses an item with bytes after it; decode_item(allow_trailing=True) finds its end."""
    data = cbor.encode_item(value)
    assert cbor.decode_item(data + tail, allow_trailing=True)[1] == len(data)
    assert cbor.scan_item(data + tail) == len(data)
    assert scan.scan_item_python(data + tail) == len(data)
    if scan._native is not None:
        assert scan._native.item_end(b"\x00" + data + tail, 1) == 1 + len(data)  # from an offset too
    found = verdicts(data + tail)
    assert "accept" not in found.values(), f"{(data + tail).hex()}: {found}"


@given(encodings | any_form_encodings, st.data())
def test_every_proper_prefix_is_truncated_input(data: bytes, draw: st.DataObject) -> None:
    """A stream reassembler waits for more bytes on TruncatedInput only, so a cut valid item must say so."""
    cut = draw.draw(st.integers(0, len(data) - 1), label="cut")
    prefix = data[:cut]
    for name in ("decode_item", "scan_item", "check_well_formed"):
        with pytest.raises(wire.TruncatedInput):
            JUDGES[name](prefix)


# --------------------------------------------------------------------------------------------------
# Hostile bytes


@given(st.binary(max_size=64))
@example(b"")
@example(b"\xff")
@example(b"\x00\xff")  # an item, then a break code
@example(b"\x00\xff\x00")  # item, break, a second item
@example(bytes.fromhex("f99f00ff"))  # a half float, then an indefinite array
@example(bytes.fromhex("a1ff"))  # a map claiming an entry, then a break
@example(bytes.fromhex("7f61c361a9ff"))  # a UTF-8 character split over two text chunks
@example(bytes.fromhex("f818"))  # a two-byte simple value below 32
def test_random_bytes_raise_only_decode_errors_and_judges_agree(data: bytes) -> None:
    assert_judges_agree(data)


@given(damaged(encodings | any_form_encodings))
def test_mutated_encodings_raise_only_decode_errors_and_judges_agree(data: bytes) -> None:
    assert_judges_agree(data)


HUGE_CLAIMS = [
    "9bffffffffffffffff",  # array of 2^64-1 items
    "bbffffffffffffffff",  # map of 2^64-1 entries
    "5b0000000100000000",  # byte string of 4 GiB
    "5bffffffffffffffff",  # byte string of 2^64-1 bytes
    "7b0000000100000000",  # text string of 4 GiB
    "9a7fffffff",  # array of 2^31-1 items
    "5f5b0000000100000000ff",  # a 4 GiB chunk of an indefinite byte string
    "9f5bffffffffffffffff",  # a huge string inside an indefinite array
    "a1009bffffffffffffffff",  # a huge array as a map value
    "c29bffffffffffffffff",  # a huge array under a tag
]


@pytest.mark.parametrize("judge", LOCATING_JUDGES)
@pytest.mark.parametrize("hex_input", HUGE_CLAIMS)
def test_huge_claimed_length_is_truncated_input_without_allocating(judge: str, hex_input: str) -> None:
    """A length is a claim, not a promise: nothing may be read or allocated before the bytes are there."""
    data = bytes.fromhex(hex_input)
    tracemalloc.start()
    try:
        with pytest.raises(wire.TruncatedInput):
            JUDGES[judge](data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # memory is the bound asserted; speed belongs to benchmarks, not to tests


NESTINGS: dict[str, Callable[[int], bytes]] = {
    "definite-array": lambda depth: b"\x81" * depth + b"\x00",
    "indefinite-array": lambda depth: b"\x9f" * depth + b"\x00" + b"\xff" * depth,
    "definite-map": lambda depth: b"\xa1\x00" * depth + b"\x00",
    "indefinite-map": lambda depth: b"\xbf\x00" * depth + b"\x00" + b"\xff" * depth,
    "tag": lambda depth: b"\xc1" * depth + b"\x00",
}


@pytest.mark.parametrize("depth", [cbor.MAX_DEPTH + 1, 10 * cbor.MAX_DEPTH])
@pytest.mark.parametrize("nesting", list(NESTINGS))
def test_nesting_beyond_the_bound_is_refused_by_every_judge(nesting: str, depth: int) -> None:
    """Deep nesting is an attacker's input too: a DecodeError, never RecursionError."""
    found = verdicts(NESTINGS[nesting](depth))
    assert "accept" not in found.values(), found


@pytest.mark.parametrize("nesting", list(NESTINGS))
def test_judges_agree_on_nesting_up_to_the_bound(nesting: str) -> None:
    for depth in (10, 64, 100, cbor.MAX_DEPTH // 2, cbor.MAX_DEPTH - 1, cbor.MAX_DEPTH):
        found = verdicts(NESTINGS[nesting](depth))
        assert set(found.values()) == {"accept"}, f"depth {depth}: {found}"


def test_decoded_types_keep_their_form() -> None:
    """A few encodings whose Python value alone would hide the form (the anatomy helper's own check)."""
    for hex_input, expected in [
        ("9f01ff", EncodedList([1], indefinite=True)),
        ("5f4101ff", EncodedBytes(b"\x01", chunks=[b"\x01"])),
        ("f5", True),
        ("01", 1),
    ]:
        data = bytes.fromhex(hex_input)
        assert anatomy(cbor.decode_item(data)[0]) == anatomy(expected)
        assert anatomy(cbor.decode_item_reference(data)) == anatomy(expected)
