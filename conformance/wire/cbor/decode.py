"""The fast decoder: hand-written, the same values as the construct grammar. It shares only the width
table (head.py) with the grammar; differential tests (tests/test_properties_cbor.py, test_cbor.py,
test_golden_vectors.py) pin the two together on generated items, every encoding form and golden vectors."""

from __future__ import annotations

from typing import Any

from ..errors import MalformedCbor, TrailingBytes, TruncatedInput
from .head import (
    INDEFINITE,
    MAX_DEPTH,
    WIDTH_OF_INFO,
    deep_enough,
)
from .values import (
    BREAK,
    UNDEFINED,
    EncodedBytes,
    EncodedFloat,
    EncodedList,
    EncodedText,
    Map,
    Simple,
    Tag,
    WideInt,
    float_from_bits,
)

_WIDTH = {info: WIDTH_OF_INFO.get(info, 0) for info in range(32)}
_SMALLEST_NEEDING = {1: 24, 2: 0x100, 4: 0x10000, 8: 0x100000000}
"""The smallest argument for which each width is the shortest form (below it the width is non-canonical)."""
_SIMPLE = {20: False, 21: True, 22: None, 23: UNDEFINED}


def decode_item(data: bytes, pos: int = 0, *, allow_trailing: bool = False) -> tuple[Any, int]:
    """Decode one item starting at `pos`; return it and the offset just after it.

    Unless `allow_trailing`, the item must end exactly at the end of `data`.
    """
    try:
        value, end = _decode(data, pos, 0)
    except RecursionError:  # only deep input gets here: decode it again with room for MAX_DEPTH levels
        with deep_enough():
            value, end = _decode(data, pos, 0)
    if value is BREAK:
        raise MalformedCbor("a data item, not a break code", offset=pos)
    if not allow_trailing and end != len(data):
        raise TrailingBytes(f"end of input after one CBOR item ({len(data) - end} bytes left)", offset=end)
    return value, end


def truncated(what: str, offset: int, needed: int) -> TruncatedInput:
    """A TruncatedInput that also says how long the input must at least be (`needed`), so a reader of a
    byte stream can wait for that much before looking again."""
    error = TruncatedInput(what, offset=offset)
    error.needed = needed  # type: ignore[attr-defined]
    return error


def read_argument(data: bytes, pos: int, info: int) -> tuple[int, int, int]:
    """Read the argument after the initial byte at `pos`; returns (value, width, next offset)."""
    if info < 24:
        return info, 0, pos + 1
    width = _WIDTH[info]
    if width == 0:
        raise MalformedCbor(f"additional info {info} is reserved", offset=pos)
    end = pos + 1 + width
    if end > len(data):
        raise truncated(f"{width}-byte argument", pos, end)
    return int.from_bytes(data[pos + 1 : end], "big"), width, end


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise TruncatedInput("a CBOR item", offset=pos)
    initial = data[pos]
    major = initial >> 5
    info = initial & 0x1F
    if info < 24:  # the argument is in the initial byte: the most common case, kept inline
        n, width, p, canonical = info, 0, pos + 1, True
    elif info == INDEFINITE:
        return _decode_indefinite(data, pos, major, depth)
    else:
        n, width, p = read_argument(data, pos, info)
        canonical = n >= _SMALLEST_NEEDING[width]
    if major == 0:
        return (n if canonical else WideInt(n, width)), p
    if major == 1:
        return (-1 - n if canonical else WideInt(-1 - n, width)), p
    if major == 2 or major == 3:
        end = p + n
        if end > len(data):
            raise TruncatedInput(f"{n} bytes of string", offset=pos)
        raw = data[p:end]
        value: Any = raw if major == 2 else utf8_text(raw, pos)
        if not canonical:
            value = (EncodedBytes if major == 2 else EncodedText)(value, width=width)
        return value, end
    if depth >= MAX_DEPTH:
        raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=pos)
    if major == 4:
        if n > len(data) - p:
            raise TruncatedInput(f"{n} array items", offset=pos)
        items = []
        for _ in range(n):
            item, p = _decode(data, p, depth + 1)
            if item is BREAK:
                raise MalformedCbor("a data item, not a break code in a definite array", offset=p - 1)
            items.append(item)
        return (items if canonical else EncodedList(items, width=width)), p
    if major == 5:
        if 2 * n > len(data) - p:
            raise TruncatedInput(f"{n} map entries", offset=pos)
        pairs = []
        for _ in range(n):
            key, p = _decode(data, p, depth + 1)
            val, p = _decode(data, p, depth + 1)
            if key is BREAK or val is BREAK:
                raise MalformedCbor("a data item, not a break code in a definite map", offset=p - 1)
            pairs.append((key, val))
        return Map(pairs, width=None if canonical else width), p
    if major == 6:
        inner, p = _decode(data, p, depth + 1)
        if inner is BREAK:
            raise MalformedCbor("tag content, not a break code", offset=p - 1)
        return Tag(n, inner, None if canonical else width), p
    # major 7
    if info < 24:
        return _SIMPLE.get(info, Simple(info) if info < 20 else None), p
    if info == 24:
        if n < 32:
            raise MalformedCbor("two-byte simple value of at least 32", offset=pos)
        return Simple(n, wide=True), p
    return EncodedFloat(float_from_bits(n, width), width, n), p


def utf8_text(raw: bytes, pos: int) -> str:
    """A text string's content, or MalformedCbor at `pos` when it is not UTF-8 (the scanner checks it too)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedCbor("UTF-8 text", offset=pos) from None


def _decode_indefinite(data: bytes, pos: int, major: int, depth: int) -> tuple[Any, int]:
    p = pos + 1
    if major == 7:
        return BREAK, p
    if major in (0, 1, 6):
        raise MalformedCbor(f"a definite argument for major type {major}", offset=pos)
    if depth >= MAX_DEPTH:
        raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=pos)
    if major in (2, 3):
        chunks: list[Any] = []
        while True:
            if p >= len(data):
                raise TruncatedInput("a string chunk or break code", offset=p)
            if data[p] == 0xFF:
                p += 1
                break
            if data[p] >> 5 != major or data[p] & 0x1F == INDEFINITE:
                raise MalformedCbor(f"a definite chunk of major type {major}", offset=p)
            chunk, p = _decode(data, p, depth + 1)
            chunks.append(chunk)
        if major == 2:
            return EncodedBytes(b"".join(chunks), chunks=chunks), p
        return EncodedText("".join(chunks), chunks=chunks), p
    items: list[Any] = []
    while True:
        item, p = _decode(data, p, depth + 1)
        if item is BREAK:
            break
        items.append(item)
    if major == 4:
        return EncodedList(items, indefinite=True), p
    if len(items) % 2:
        raise MalformedCbor("a value after the last map key", offset=p - 1)
    return Map(list(zip(items[0::2], items[1::2], strict=True)), indefinite=True), p
