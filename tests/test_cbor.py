"""The CBOR layer: exact round trips of non-shortest forms, canonicality reports, and bounded failure."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given

from conformance.vectors import load_vectors
from conformance.wire import cbor
from conformance.wire.errors import DecodeError, EncodeError, MalformedCbor, TrailingBytes, TruncatedInput
from conformance.wire.schema import cbor_values

ROUND_TRIPS = [
    "1b00000000000064b2",  # 25778 in the 8-byte form, as in a real mainnet Alonzo withdrawal
    "1bffffffffffffffff",  # max uint64 (GenTx_Shelley TTL)
    "3bffffffffffffffff",  # most negative int64-ish value CBOR allows
    "5f42010243030405ff",  # chunked byte string
    "7f61616162ff",  # chunked text
    "9f0102ff",  # indefinite array
    "bf0102ff",  # indefinite map
    "990001 01".replace(" ", ""),  # array count in a 2-byte argument
    "d9010280",  # tag 258 (set) on an empty array
    "d8184401020304",  # tag 24 around bytes
    "f90000",  # half-precision zero
    "f820",  # simple value 32
    "a2 01 02 01 03".replace(" ", ""),  # duplicate keys kept as given
]


@pytest.mark.parametrize("hex_", ROUND_TRIPS)
def test_round_trip_is_byte_exact_on_both_paths(hex_: str) -> None:
    data = bytes.fromhex(hex_)
    fast, _ = cbor.decode_item(data)
    reference = cbor.decode_item_reference(data)
    assert cbor.encode_item(fast) == data
    assert cbor.encode_item_reference(reference) == data
    assert cbor.encode_item(reference) == data


def test_non_shortest_integer_keeps_its_value_and_width() -> None:
    value, _ = cbor.decode_item(bytes.fromhex("1b00000000000064b2"))
    assert value == 25778
    assert isinstance(value, cbor.WideInt) and value.width == 8


def test_plain_values_encode_in_the_shortest_form() -> None:
    assert cbor.encode_item(25778) == bytes.fromhex("1964b2")
    assert cbor.encode_item([1, b"\x01"]) == bytes.fromhex("820141 01".replace(" ", ""))


def test_canonicality_reports_the_mainnet_wide_integer_without_failing() -> None:
    vector = next(v for v in load_vectors() if v.id == "blk-pallas-alonzo21-block")
    value, _ = cbor.decode_item(vector.data)
    reports = list(cbor.canonicality(value))
    assert any("integer 25778 in a 8-byte argument" in r.what for r in reports)
    assert any(r.what == "indefinite-length array" for r in reports)


def test_canonical_bytes_report_nothing() -> None:
    value, _ = cbor.decode_item(bytes.fromhex("8301820203820405"))
    assert list(cbor.canonicality(value)) == []


@pytest.mark.parametrize(
    ("hex_", "error"),
    [
        ("ff", MalformedCbor),  # a lone break
        ("1c", MalformedCbor),  # reserved additional info
        ("1f", MalformedCbor),  # indefinite integer
        ("5f01ff", MalformedCbor),  # a chunk of the wrong major type
        ("81ff", MalformedCbor),  # break inside a definite array
        ("bf01ff", MalformedCbor),  # key without a value
        ("f818", MalformedCbor),  # two-byte simple below 32
        ("1b", TruncatedInput),
        ("9f", TruncatedInput),
        ("0102", TrailingBytes),
    ],
)
def test_malformed_input_raises_the_typed_error(hex_: str, error: type[DecodeError]) -> None:
    data = bytes.fromhex(hex_)
    with pytest.raises(error):
        cbor.decode_item(data)
    with pytest.raises(DecodeError):
        cbor.check_well_formed(data)
    with pytest.raises(DecodeError):
        cbor.decode_item_reference(data)


@pytest.mark.parametrize(
    "hex_", ["9bffffffffffffffff", "5bffffffffffffffff", "bb7fffffffffffffff", "5b0000000100000000"]
)
def test_huge_claimed_lengths_are_refused_without_allocating(hex_: str) -> None:
    data = bytes.fromhex(hex_)
    for decode in (cbor.decode_item, cbor.decode_item_reference, cbor.scan_item, cbor.check_well_formed):
        with pytest.raises(TruncatedInput if decode is not cbor.decode_item_reference else DecodeError):
            decode(data)


def test_deep_nesting_is_a_typed_error_not_a_recursion_crash() -> None:
    data = b"\x81" * 100_000 + b"\x00"
    with pytest.raises(MalformedCbor):
        cbor.decode_item(data)
    with pytest.raises(MalformedCbor):
        cbor.check_well_formed(data)


def test_argument_widths_come_from_the_construct_head_declaration() -> None:
    parsed = cbor.Head.parse(bytes.fromhex("1a000186a0"))
    assert (parsed.initial.major, parsed.initial.info, parsed.argument) == (0, 26, 100000)
    assert cbor.WIDTH_OF_INFO == {24: 1, 25: 2, 26: 4, 27: 8}


@pytest.mark.parametrize("width", [None, 0, 1, 2, 4, 8])
def test_a_head_written_alone_is_the_head_the_grammar_reads(width: int | None) -> None:
    """encode_head (used to build mutated messages) writes what the reference grammar parses back."""
    for n in (0, 23, 24, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**64 - 1):
        try:
            head = cbor.encode_head(4, n, width)
        except EncodeError:
            assert width is not None and (n >= 24 if width == 0 else n >= 1 << (8 * width))
            continue
        parsed = cbor.Head.parse(head)
        argument = parsed.initial.info if parsed.argument is None else parsed.argument
        expected_width = cbor.shortest_width(n) if width is None else width
        assert (parsed.initial.major, argument, len(head) - 1) == (4, n, expected_width)


def test_nan_payload_survives_the_round_trip() -> None:
    for hex_ in ("f97e01", "fa7fc00001"):
        data = bytes.fromhex(hex_)
        assert cbor.encode_item(cbor.decode_item(data)[0]) == data
        assert cbor.encode_item_reference(cbor.decode_item_reference(data)) == data


def test_a_trailing_break_code_is_not_hidden_by_the_fast_check() -> None:
    with pytest.raises(TrailingBytes):
        cbor.check_well_formed(bytes.fromhex("00ff"))


@pytest.mark.parametrize("opener", [b"\x81", b"\xc1", b"\x9f"])
def test_all_paths_share_one_nesting_bound(opener: bytes) -> None:
    def nested(depth: int) -> bytes:
        closer = b"\xff" * depth if opener == b"\x9f" else b""
        return opener * depth + b"\x00" + closer

    for decode in (cbor.decode_item, cbor.decode_item_reference, cbor.scan_item, cbor.check_well_formed):
        decode(nested(cbor.MAX_DEPTH))
        with pytest.raises(MalformedCbor):
            decode(nested(cbor.MAX_DEPTH + 1))


COPIES: dict[str, Callable[[Any], Any]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda value: pickle.loads(pickle.dumps(value)),  # noqa: S301 - our own bytes
}
"""A peer keeps decoded values and replays them: every way Python duplicates a value must keep its encoding."""


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("hex_", [*ROUND_TRIPS, "f97e01", "fa3fc00000", "fb7ff8000000000001", "f7", "1a00001234"])
def test_decoded_items_copy_deepcopy_and_pickle_with_their_encoding(hex_: str, how: str) -> None:
    data = bytes.fromhex(hex_)
    duplicate = COPIES[how](cbor.decode_item(data)[0])
    assert cbor.encode_item(duplicate) == data
    assert type(duplicate) is type(cbor.decode_item(data)[0])


@given(cbor_values())
def test_any_decoded_item_survives_copying(value: Any) -> None:
    data = cbor.encode_item(value)
    decoded, _ = cbor.decode_item(data)
    for how in COPIES.values():
        assert cbor.encode_item(how(decoded)) == data


def _ends(data: bytes, start: int, count: int) -> list[tuple[int, int]]:
    """Element offsets found by our own scanner, independently of the cbor2 element check."""
    spans = []
    for _ in range(count):
        end = cbor.scan_item(data, start)
        spans.append((start, end))
        start = end
    return spans


def test_a_large_array_is_checked_element_by_element_and_its_offsets_kept() -> None:
    inner = [1, [2, 3], b"\x00" * 40, {1: [4]}]
    data = cbor.encode_item([7, inner, b"\xaa" * 5000, cbor.Tag(24, b"\x80")])
    cbor.check_well_formed(data)
    spans = cbor.spans_of(data)
    assert spans is not None
    assert list(spans.items) == _ends(data, 1, 4)
    assert set(spans.inner) == {1}  # the arrays among the elements, one level down
    assert list(spans.inner[1]) == _ends(data, spans.items[1][0] + 1, 4)
    assert cbor.spans_of(bytes(bytearray(data))) is None  # another object, even with equal bytes
    small = cbor.encode_item([1, 2])
    cbor.check_well_formed(small)
    assert cbor.spans_of(small) is None  # small payloads are checked whole


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d[:-1], TruncatedInput),  # the last element cut short
        (lambda d: d + b"\x00", TrailingBytes),
        (lambda d: b"\x85" + d[1:], TruncatedInput),  # one element more claimed than present
        (lambda d: d[:-2] + b"\x1c" + d[-1:], MalformedCbor),  # a reserved additional info inside an element
    ],
)
def test_the_element_check_refuses_what_the_scanner_refuses(change: Callable[[bytes], bytes], error: type) -> None:
    data = change(cbor.encode_item([7, [1, 2], b"\xaa" * 5000, [3, 4]]))
    if error is TrailingBytes:
        assert cbor.scan_item(data) == len(data) - 1  # the scanner's own verdict: one item, then a byte more
    else:
        with pytest.raises(error):
            cbor.scan_item(data)
    with pytest.raises(error):
        cbor.check_well_formed(data)
    assert cbor.spans_of(data) is None


def test_a_vouched_payload_skips_the_check_only_as_that_very_object() -> None:
    """The chain store vouches for the blocks it renders (its sender's own check would walk each one again);
    equal bytes in another object are checked as always, so a vouch never covers what a remote sent."""
    malformed = b"\x82" + cbor.encode_item(b"\x00" * 5000) + b"\x1c"  # a reserved additional info at the end
    cbor.vouch(malformed)
    cbor.check_well_formed(malformed)  # taken on trust: the renderer's own tests check what it renders
    assert cbor.spans_of(malformed) is None  # a vouch says nothing of where the elements are
    with pytest.raises(MalformedCbor):
        cbor.check_well_formed(bytes(bytearray(malformed)))


def test_the_payloads_remembered_are_bounded() -> None:
    from conformance.wire.cbor import scan

    payloads = [cbor.encode_item([index, b"\x00" * 70_000]) for index in range(scan.KEPT_ITEMS + 100)]
    for payload in payloads:
        cbor.check_well_formed(payload)
    assert len(scan._known._by_id) <= scan.KEPT_ITEMS and scan._known._bytes <= scan.KEPT_BYTES
    assert cbor.spans_of(payloads[-1]) is not None and cbor.spans_of(payloads[0]) is None


def test_wide_arrays_are_checked_in_one_call_not_element_by_element() -> None:
    """Many tiny elements (a hostile block, say) would cost a Python step each; such arrays are checked
    whole, at cbor2's speed, at either level, and still get the same verdicts."""
    from conformance.wire.cbor import scan

    wide = cbor.encode_item([0] * 5000)
    cbor.check_well_formed(wide)
    assert cbor.spans_of(wide) is None
    nested = cbor.encode_item([1, [0] * 5000, b"\x00" * 10])
    cbor.check_well_formed(nested)
    spans = cbor.spans_of(nested)
    assert spans is not None and set(spans.inner) == set()  # the wide element was decoded in one call
    assert len(spans.items) == 3 and scan.SPANNED_AT_MOST < 5000
    with pytest.raises(TruncatedInput):
        cbor.check_well_formed(wide[:-1])


def test_the_value_of_the_last_small_check_is_kept_for_that_very_object() -> None:
    """A header's reader takes what the tag-24 check decoded instead of decoding the header again."""
    data = cbor.encode_item([[1, 2, b"\x00" * 32], cbor.Tag(30, [1, 2]), "x"])
    cbor.check_well_formed(data)
    assert cbor.value_of(data) == [[1, 2, b"\x00" * 32], None, "x"]  # tags opaque, as the readers want them
    assert cbor.value_of(bytes(bytearray(data))) is cbor.NOT_KEPT
    cbor.check_well_formed(cbor.encode_item(1))
    assert cbor.value_of(data) is cbor.NOT_KEPT  # only the last check's
