"""The native well-formedness scanner (wire/cbor/_wellformed.c) against the Python scanner it speeds up.

The native scanner only says yes (where the item ends) or no; every no is judged again, and located, by
`scan_item_python`. So the one thing that must hold is that both give the same answer on any input: the
same end offset for a well-formed item, a no exactly where Python raises. test_properties_cbor.py runs it
as one more judge on generated, random and mutated input; here: the RFC 8949 corner cases one by one, the
golden payloads from real chains (whole and damaged), the depth bound inside enclosing containers, and the
spans the large-payload check keeps, with and without it.
"""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Iterator

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import wire
from conformance.vectors import load_vectors
from conformance.wire.cbor import MAX_DEPTH, OPAQUE_TAGS, scan

native = pytest.mark.skipif(not scan.NATIVE, reason="the native scanner was not built (no C compiler at install)")


def _compiler_at_hand() -> bool:
    command = (sysconfig.get_config_var("CC") or "").split()
    return bool(command) and shutil.which(command[0]) is not None


def test_native_scanner_is_built_where_a_compiler_is() -> None:
    """The install builds it wherever it can (the extension is optional only for machines without a C
    compiler); a silent fallback would leave the block figures at cbor2's speed."""
    if not _compiler_at_hand():
        pytest.skip("no C compiler: the optional extension cannot be built here")
    assert scan.NATIVE, "reinstall (pip install -e .) to build conformance/wire/cbor/_wellformed.c"


def python_verdict(data: bytes, pos: int = 0) -> int:
    try:
        return scan.scan_item_python(data, pos)
    except wire.DecodeError:
        return -1


def native_verdict(data: bytes | bytearray | memoryview, pos: int = 0, enclosing: int = 0) -> int:
    assert scan._native is not None
    return scan._native.item_end(data, pos, enclosing)


CORNERS = {
    # well-formed (RFC 8949 section 3 and appendix A)
    "00": 1,
    "1b0000000000000001": 9,  # 1 in an 8-byte argument (not shortest, still well-formed)
    "62c3a9": 3,  # "é": two-byte UTF-8
    "64f0908d88": 5,  # a four-byte UTF-8 character
    "7f61c361a9ff": -1,  # a character split over two text chunks: each chunk must be UTF-8
    "7f6161ff": 4,  # one text chunk
    "5f4101ff": 4,  # one byte chunk
    "5fff": 2,  # no chunks at all
    "bf0000ff": 4,  # indefinite map, one entry
    "9f9fffff": 4,  # indefinite in indefinite
    "f820": 2,  # simple value 32 in two bytes
    "f7": 1,  # undefined
    "f97e00": 3,  # half NaN
    "c11a514b67b0": 6,  # a tag
    "d8184100": 4,  # tag 24 over a byte string
    "80": 1,
    "a0": 1,
    # ill-formed
    "": -1,
    "ff": -1,  # a break outside any indefinite container
    "1c": -1,  # additional info 28 is reserved
    "5d": -1,  # ... for a string too
    "fe": -1,  # ... and for major 7
    "1f": -1,  # an indefinite unsigned integer
    "3f": -1,  # an indefinite negative integer
    "df00": -1,  # an indefinite tag
    "f818": -1,  # a two-byte simple value below 32
    "f81f": -1,
    "bf00ff": -1,  # a key without a value before the break
    "5f6100ff": -1,  # a text chunk in a byte string
    "5f5f4100ffff": -1,  # an indefinite chunk
    "5f00ff": -1,  # an integer among chunks
    "62c0af": -1,  # overlong UTF-8
    "63eda080": -1,  # a UTF-16 surrogate in UTF-8
    "64f4908080": -1,  # beyond U+10FFFF
    "61c3": -1,  # a cut multi-byte character
    "61ff": -1,  # not UTF-8 at all
    "19": -1,  # a truncated argument
    "1b00000000": -1,
    "43010203"[:-2]: -1,  # a truncated string
    "8201": -1,  # an array short of an element
    "a101": -1,  # a map short of a value
    "9bffffffffffffffff": -1,  # 2^64-1 elements claimed
    "bbffffffffffffffff": -1,  # 2^64-1 pairs claimed (2n overflows 64 bits)
    "bb8000000000000001": -1,  # 2^63+1 pairs: 2n wraps around to 2
    "5bffffffffffffffff": -1,  # 2^64-1 bytes claimed
    "9f": -1,  # an indefinite array never closed
    "c1": -1,  # a tag without content
}


@native
@pytest.mark.parametrize("hex_input", list(CORNERS))
def test_rfc_corner_cases(hex_input: str) -> None:
    data = bytes.fromhex(hex_input)
    assert native_verdict(data) == CORNERS[hex_input]
    assert python_verdict(data) == CORNERS[hex_input]


@native
def test_any_buffer_and_any_offset() -> None:
    data = bytes.fromhex("00820102ff")
    for form in (data, bytearray(data), memoryview(data)):
        assert native_verdict(form, 1) == 4
    assert native_verdict(data, 5) == -1  # at the end: nothing to read
    assert native_verdict(data, 6) == -1 and native_verdict(data, -1) == -1  # outside the input


@native
@pytest.mark.parametrize("enclosing", [0, 1, 2, 250, MAX_DEPTH - 1, MAX_DEPTH])
def test_depth_counts_the_enclosing_containers(enclosing: int) -> None:
    """An element of a block is checked on its own, inside the block's arrays: they count against the bound."""
    room = MAX_DEPTH - enclosing
    assert native_verdict(b"\x81" * room + b"\x00", 0, enclosing) == room + 1
    assert native_verdict(b"\x81" * (room + 1) + b"\x00", 0, enclosing) == -1
    assert native_verdict(b"\x9f" * (room + 1) + b"\x00" + b"\xff" * (room + 1), 0, enclosing) == -1
    assert native_verdict(b"\xc1" * (room + 1) + b"\x00", 0, enclosing) == -1
    assert native_verdict(b"\x00", 0, MAX_DEPTH + 1) == -1  # no room at all: refused, not scanned


def _golden_payloads() -> list[bytes]:
    return [vector.data for vector in load_vectors() if vector.valid and vector.kind in ("payload", "message")]


GOLDEN = _golden_payloads()


@native
def test_every_golden_payload_is_one_item_to_both() -> None:
    """Real bytes from real chains and nodes (blocks up to a 648 KB epoch boundary block)."""
    assert len(GOLDEN) > 200
    for data in GOLDEN:
        assert native_verdict(data) == len(data) == python_verdict(data)


def _damaged(data: bytes, how: str, at: int, byte: int) -> bytes:
    if how == "flip":
        return data[:at] + bytes([data[at] ^ byte]) + data[at + 1 :]
    if how == "truncate":
        return data[:at]
    return data[:at] + bytes([byte]) + data[at:]


@native
@given(st.sampled_from(GOLDEN), st.sampled_from(["flip", "truncate", "insert"]), st.floats(0, 1), st.integers(1, 255))
def test_damaged_golden_payloads_get_the_same_answer(data: bytes, how: str, where: float, byte: int) -> None:
    damaged = _damaged(data, how, min(int(where * len(data)), len(data) - 1), byte)
    assert native_verdict(damaged) == python_verdict(damaged)


def _block_copies() -> Iterator[bytes]:
    """Fresh copies of the golden blocks large enough to be checked element by element."""
    for data in GOLDEN:
        if len(data) >= scan.SPANS_FROM and data[0] in (0x82, 0x83, 0x84, 0x85):
            yield bytes(bytearray(data))


def test_large_payload_spans_are_the_elements_with_and_without_the_native_scanner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The offsets the check keeps for a block's reader cut out exactly the elements cbor2 decodes."""
    copies = list(_block_copies())
    assert len(copies) >= 5
    for use_native in (True, False):
        if use_native and not scan.NATIVE:
            continue
        monkeypatch.setattr(scan, "_native", scan._native if use_native else None)
        for data in copies:
            data = bytes(bytearray(data))
            scan.check_well_formed(data)
            spans = scan.spans_of(data)
            assert spans is not None, data[:8].hex()
            whole = cbor2.loads(data, semantic_decoders=OPAQUE_TAGS)
            assert [cbor2.loads(data[a:b], semantic_decoders=OPAQUE_TAGS) for a, b in spans.items] == whole
            for index, inner in spans.inner.items():
                assert [cbor2.loads(data[a:b], semantic_decoders=OPAQUE_TAGS) for a, b in inner] == whole[index]


@pytest.mark.parametrize("use_native", [True, False])
def test_a_damaged_large_payload_is_refused_and_located(use_native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block cut short, and one with a reserved head inside: the verdict and the place are the Python
    scanner's, whichever fast path said no first."""
    if use_native and not scan.NATIVE:
        pytest.skip("the native scanner was not built")
    monkeypatch.setattr(scan, "_native", scan._native if use_native else None)
    block = max(_block_copies(), key=len)
    with pytest.raises(wire.TruncatedInput):
        scan.check_well_formed(block[:-1])
    spans = scan.array_spans(block, 0)
    at = spans[-1][0]  # the last element's first byte: a reserved additional info there
    broken = block[:at] + b"\x1c" + block[at + 1 :]
    with pytest.raises(wire.MalformedCbor) as raised:
        scan.check_well_formed(broken)
    assert raised.value.offset == at
