"""The fast encoder: plain values in the shortest form, encoding-remembering values exactly as they were
written. Pinned to the grammar's encoder (`encode_item_reference`) by differential tests."""

from __future__ import annotations

from typing import Any

from ..errors import EncodeError
from .head import (
    INDEFINITE,
    INFO_OF_WIDTH,
    shortest_width,
)
from .values import (
    UNDEFINED,
    Map,
    Simple,
    Tag,
    WideInt,
    float_bits,
)


def encode_item(value: Any) -> bytes:
    """Encode a value (plain or encoding-remembering) to bytes."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def encode_head(major: int, n: int, width: int | None = None) -> bytes:
    """The head of an item of `major` type with argument `n`, in `width` argument bytes (None: shortest)."""
    if width is None:
        width = shortest_width(n)
    if width == 0:
        if n >= 24:
            raise EncodeError(f"{n} does not fit in the initial byte")
        return bytes((major << 5 | n,))
    if n >= 1 << (8 * width) or width not in INFO_OF_WIDTH:
        raise EncodeError(f"{n} does not fit in a {width}-byte argument")
    return bytes((major << 5 | INFO_OF_WIDTH[width],)) + n.to_bytes(width, "big")


def _put_head(out: list[bytes], major: int, n: int, width: int | None) -> None:
    out.append(encode_head(major, n, width))


_ONE_BYTE_HEADS = [[bytes((major << 5 | n,)) for n in range(24)] for major in range(8)]


def _shortest_head(major: int, n: int) -> bytes:
    """`encode_head(major, n)` for the common case, without the width bookkeeping."""
    if n < 24:
        return _ONE_BYTE_HEADS[major][n]
    if n < 0x100:
        return bytes((major << 5 | 24, n))
    if n < 0x10000:
        return bytes((major << 5 | 25,)) + n.to_bytes(2, "big")
    return encode_head(major, n, None)


def _encode(obj: Any, out: list[bytes]) -> None:
    # Plain values first (exactly int, bytes or list: no width, chunks or indefinite length to remember),
    # since messages are mostly made of them; everything else takes the general path below.
    kind = type(obj)
    if kind is int:
        out.append(_shortest_head(0, obj) if obj >= 0 else _shortest_head(1, -1 - obj))
        return
    if kind is bytes:
        out.append(_shortest_head(2, len(obj)))
        out.append(obj)
        return
    if kind is list:
        out.append(_shortest_head(4, len(obj)))
        for item in obj:
            _encode(item, out)
        return
    if obj is False:
        out.append(b"\xf4")
    elif obj is True:
        out.append(b"\xf5")
    elif obj is None:
        out.append(b"\xf6")
    elif isinstance(obj, int):
        width = obj.width if isinstance(obj, WideInt) else None
        if obj >= 0:
            _put_head(out, 0, int(obj), width)
        else:
            _put_head(out, 1, -1 - int(obj), width)
    elif isinstance(obj, (bytes, str)):
        major = 2 if isinstance(obj, bytes) else 3
        chunks = getattr(obj, "chunks", None)
        if chunks is not None:
            out.append(bytes((major << 5 | INDEFINITE,)))
            for piece in chunks:
                _encode_definite_string(major, piece, out)
            out.append(b"\xff")
        else:
            _encode_definite_string(major, obj, out)
    elif isinstance(obj, list):
        if getattr(obj, "indefinite", False):
            out.append(b"\x9f")
            for item in obj:
                _encode(item, out)
            out.append(b"\xff")
        else:
            _put_head(out, 4, len(obj), getattr(obj, "width", None))
            for item in obj:
                _encode(item, out)
    elif isinstance(obj, (Map, dict)):
        pairs = obj.pairs if isinstance(obj, Map) else list(obj.items())
        if isinstance(obj, Map) and obj.indefinite:
            out.append(b"\xbf")
        else:
            _put_head(out, 5, len(pairs), obj.width if isinstance(obj, Map) else None)
        for key, val in pairs:
            _encode(key, out)
            _encode(val, out)
        if isinstance(obj, Map) and obj.indefinite:
            out.append(b"\xff")
    elif isinstance(obj, Tag):
        _put_head(out, 6, obj.number, obj.width)
        _encode(obj.value, out)
    elif obj is UNDEFINED:
        out.append(b"\xf7")
    elif isinstance(obj, Simple):
        if obj.wide:
            out.append(bytes((0xF8, obj.value)))
        else:
            _put_head(out, 7, obj.value, 0)
    elif isinstance(obj, float):
        width, bits = float_bits(obj)
        out.append(bytes((0xE0 | INFO_OF_WIDTH[width],)) + bits.to_bytes(width, "big"))
    else:
        raise EncodeError(f"no CBOR encoding for {type(obj).__name__}")


def _encode_definite_string(major: int, piece: Any, out: list[bytes]) -> None:
    data = piece if isinstance(piece, bytes) else piece.encode("utf-8")
    _put_head(out, major, len(data), getattr(piece, "width", None))
    out.append(bytes(data))
