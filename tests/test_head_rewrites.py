"""encode(decode(b)) == b for every input the decoder accepts, tried systematically on the golden messages.

Each golden message vector is walked item by item; every CBOR head is rewritten, one at a time, into each
longer argument width (info 24/25/26/27: 1, 2, 4 or 8 bytes), and every array, map and string into its other
length form (definite <-> indefinite; a definite string as one chunk of an indefinite one, and back). The
node's CBOR library accepts all of these wherever the declaration does, so each rewritten input must either
be refused with the typed DecodeError family, or decode to an equal message that encodes back to exactly
the rewritten bytes.

Bytes embedded under tag 24 (headers, blocks, transactions) are one byte string of the message: the head of
that string is rewritten like any other, its content is not (it is kept verbatim and hashed, so re-encoding
it is a copy, and the largest block alone would add over 10^5 rewrites of a copied byte string).
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import wire
from conformance.vectors import Vector, load_vectors
from conformance.wire import cbor, mux

MESSAGES = [v for v in load_vectors() if v.kind == "message" and v.valid]
"""The golden message vectors (the issue's 3,293 width rewrites are theirs)."""

STREAM_MESSAGES = [
    replace(vector, id=f"{vector.id}[{i}]", kind="message", data=message)
    for vector in load_vectors()
    if vector.kind == "stream"
    for i, message in enumerate(mux.StreamReassembler(vector.protocol).feed(vector.data))
]
"""The messages of recorded golden streams (real MsgBlocks a node sent), one vector each."""

WIDTHS = (1, 2, 4, 8)
INFO_OF_WIDTH = {1: 24, 2: 25, 4: 26, 8: 27}
INDEFINITE = 31
BREAK = b"\xff"


@dataclass(frozen=True)
class Head:
    """Where one item's head sits in the message, and what it says."""

    start: int
    size: int  # the initial byte and its argument
    major: int
    argument: int | None  # None: indefinite length
    end: int  # just after the whole item (after its break code when indefinite)


def walk(data: bytes, pos: int = 0) -> list[Head]:
    """Every head of the item at `pos`, outermost first (tag-24 content is a string here, not walked)."""
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    if info == INDEFINITE:
        argument, size = None, 1
    elif info < 24:
        argument, size = info, 1
    else:
        width = 1 << (info - 24)
        argument, size = int.from_bytes(data[pos + 1 : pos + 1 + width], "big"), 1 + width
    p = pos + size
    inside: list[Head] = []
    if major in (2, 3) and argument is not None:
        p += argument
    elif major in (2, 3, 4, 5, 6):  # chunks of a string, items of an array, keys and values, tag content
        count = {4: argument, 5: None if argument is None else 2 * argument, 6: 1}.get(major)
        while (count is None and data[p] != 0xFF) or (count is not None and count > 0):
            nested = walk(data, p)
            inside.extend(nested)
            p = nested[0].end
            count = None if count is None else count - 1
        p += argument is None  # the break code
    return [Head(pos, size, major, argument, p), *inside]


def shortest_head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes((major << 5 | argument,))
    width = next(w for w in WIDTHS if argument < 1 << (8 * w))
    return bytes((major << 5 | INFO_OF_WIDTH[width],)) + argument.to_bytes(width, "big")


def rewrites(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(what, rewritten message) for every single-head rewrite of `data`."""
    for head in walk(data):
        before, after = data[: head.start], data[head.end :]
        body = data[head.start + head.size : head.end]
        if head.argument is not None and head.major != 7:
            for width in WIDTHS:
                if width > head.size - 1:
                    wide = bytes((head.major << 5 | INFO_OF_WIDTH[width],)) + head.argument.to_bytes(width, "big")
                    yield f"width {width} at {head.start}", before + wide + body + after
        if head.major in (4, 5):
            if head.argument is not None:
                yield (
                    f"indefinite at {head.start}",
                    before + bytes((head.major << 5 | INDEFINITE,)) + body + BREAK + after,
                )
            else:
                item, _ = cbor.decode_item(data[head.start : head.end])
                definite = shortest_head(head.major, len(item) if head.major == 4 else len(item.pairs))
                yield f"definite at {head.start}", before + definite + body[:-1] + after
        if head.major in (2, 3):
            if head.argument is not None:
                whole = data[head.start : head.end]
                yield (
                    f"chunked at {head.start}",
                    before + bytes((head.major << 5 | INDEFINITE,)) + whole + BREAK + after,
                )
            else:
                value, _ = cbor.decode_item(data[head.start : head.end])
                plain = bytes(value) if head.major == 2 else str(value)
                yield f"unchunked at {head.start}", before + cbor.encode_item(plain) + after


@dataclass
class Tally:
    tried: int = 0
    width: int = 0
    form: int = 0
    refused: int = 0
    broken: list[str] = field(default_factory=list)
    """One line per rewrite that decoded but encoded to other bytes."""


def check_rewrites(vectors: list[Vector]) -> Tally:
    tally = Tally()
    for vector in vectors:
        for what, data in rewrites(vector.data):
            tally.tried += 1
            if what.startswith("width"):
                tally.width += 1
            else:
                tally.form += 1
            try:
                message = wire.decode(vector.protocol, data, vector.state)
            except wire.DecodeError:
                tally.refused += 1
                continue
            again = wire.encode(message)
            if again != data:
                tally.broken.append(f"{vector.id}: {what}: {data[:40].hex()} -> {again[:40].hex()}")
    return tally


def test_the_walker_finds_every_head() -> None:
    data = bytes.fromhex("83 1819 9f 01 a1 61 61 40 ff d8 18 43 820102".replace(" ", ""))
    heads = list(walk(data))
    assert [(h.start, h.major, h.argument) for h in heads] == [
        (0, 4, 3),
        (1, 0, 25),
        (3, 4, None),
        (4, 0, 1),
        (5, 5, 1),
        (6, 3, 1),
        (8, 2, 0),
        (10, 6, 24),
        (12, 2, 3),
    ]
    assert heads[2].end == 10 and heads[0].end == len(data)


def test_rewrites_are_well_formed_and_keep_the_value() -> None:
    data = bytes.fromhex("8301a1616140820203")
    seen = list(rewrites(data))
    assert len(seen) > 20
    for what, rewritten in seen:
        assert rewritten != data, what
        assert _plain(cbor.decode_item(rewritten)[0]) == _plain(cbor.decode_item(data)[0]), what


def _plain(value: object) -> object:
    from conformance.golden import _hashable, plain

    return _hashable(plain(value))


def test_every_rewrite_of_every_golden_message_decodes_back_to_its_bytes_or_is_refused() -> None:
    tally = check_rewrites(MESSAGES)
    assert len(MESSAGES) >= 100 and tally.tried >= 3000  # loading the vectors broke, or the walker did
    assert tally.broken == [], f"{len(tally.broken)} of {tally.tried} rewrites re-encode differently:\n" + "\n".join(
        tally.broken[:40]
    )


def test_every_rewrite_of_every_message_of_a_golden_stream_decodes_back_to_its_bytes_or_is_refused() -> None:
    tally = check_rewrites(STREAM_MESSAGES)
    assert len(STREAM_MESSAGES) >= 12 and tally.tried >= 100
    assert tally.broken == [], "\n".join(tally.broken[:40])


@pytest.mark.parametrize(
    ("protocol", "hex_bytes"),
    [
        ("keep-alive", "980102"),
        ("keep-alive", "98021800191234"),
        ("handshake", "8200b800"),
        ("chain-sync", "820682980000"),
        ("local-state-query", "82009800"),
        ("block-fetch", "83009800820a41aa"),
        ("local-tx-monitor", "830c00b800"),
    ],
)
def test_the_widths_the_issue_found_lost_are_kept(protocol: str, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert wire.encode(wire.decode(protocol, data)) == data


@pytest.mark.parametrize("protocol", list(wire.CODECS))
@settings(deadline=None)  # one example decodes every rewrite of its message: hundreds for a long one
@given(data=st.data())
def test_every_rewrite_of_generated_messages_decodes_back_to_its_bytes_or_is_refused(
    protocol: str, data: st.DataObject
) -> None:
    """The same on messages generated from the declarations, which reach shapes no golden vector has."""
    message = data.draw(wire.CODECS[protocol].strategy(), label="message")
    encoded = wire.encode(message)
    for what, rewritten in rewrites(encoded):
        try:
            decoded = wire.decode(protocol, rewritten)
        except wire.DecodeError:
            continue
        assert wire.encode(decoded) == rewritten, f"{what}: {rewritten.hex()}"


# --------------------------------------------------------------------------------------------------
# Decoded values are kept and replayed: they must copy, deep-copy and pickle, and still encode exactly.


@pytest.mark.parametrize("vector", MESSAGES + STREAM_MESSAGES, ids=[v.id for v in MESSAGES + STREAM_MESSAGES])
def test_decoded_messages_copy_deepcopy_and_pickle(vector: Vector) -> None:
    message = wire.decode(vector.protocol, vector.data, vector.state)
    for duplicate in (copy.copy(message), copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert duplicate == message
        assert wire.encode(duplicate) == vector.data


def test_rewritten_messages_copy_deepcopy_and_pickle() -> None:
    """The width-remembering values of every accepted rewrite survive copying (not only golden bytes)."""
    for vector in MESSAGES:
        if len(vector.data) > 4096:
            continue
        for _, data in rewrites(vector.data):
            try:
                message = wire.decode(vector.protocol, data, vector.state)
            except wire.DecodeError:
                continue
            for duplicate in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
                assert wire.encode(duplicate) == data
