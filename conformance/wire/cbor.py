"""CBOR items, declared in construct, with their exact encoding remembered.

The construct declaration below (`Head`, `ItemGrammar`, `CborItem`) is the reference grammar of RFC 8949:
the initial byte (major type, additional info), every argument width, definite and indefinite lengths,
string chunks, tags and simple values. Decoding gives plain Python values; where an item was encoded in a
form other than the shortest one (a wide integer argument, an indefinite length, chunked strings), the value
is an instance of a subclass that remembers that form, so `encode(decode(b)) == b` for every well-formed `b`.
Plain values (from scripts or strategies) encode in the shortest form.

`decode_item`/`encode_item` are a fast path that derives its argument-width table from `Head` and is pinned to
the construct grammar by differential tests; `check_well_formed` validates large embedded payloads (blocks,
transactions) at the speed of the native cbor2 decoder and falls back to our own scanner for the verdict and
the error location.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cbor2
import construct as c

from .errors import EncodeError, MalformedCbor, TrailingBytes, TruncatedInput

# --------------------------------------------------------------------------------------------------
# The reference grammar, in construct.

ARGUMENT_WIDTHS = {24: c.Int8ub, 25: c.Int16ub, 26: c.Int32ub, 27: c.Int64ub}

Head = c.Struct(
    "initial" / c.BitStruct("major" / c.BitsInteger(3), "info" / c.BitsInteger(5)),
    "argument" / c.Switch(c.this.initial.info, ARGUMENT_WIDTHS, default=c.Pass),
)
"""The head of every CBOR item: 3-bit major type, 5-bit additional info, then a 0/1/2/4/8-byte argument."""

MAX_DEPTH = 500
"""Nesting depth beyond which the harness refuses an item (a bound on stack use, not a CBOR rule)."""

INDEFINITE = 31


def _remaining(ctx: Any) -> int:
    stream = ctx._io
    return len(stream.getbuffer()) - stream.tell()


def _count(ctx: Any) -> int:
    return _argument_value(ctx.head)


def _argument_value(head: Any) -> int:
    info = head.initial.info
    return info if info < 24 else head.argument


class ClaimBeyondInput(c.ConstructError):  # type: ignore[misc]
    """A length that the rest of the input cannot hold: the input is truncated (or lies)."""


def _claim_fits(ctx: Any) -> bool:
    """A claimed length must be backed by input before anything is read or allocated (2^64 stays a number)."""
    if ctx._building:
        return True
    major, info = ctx.head.initial.major, ctx.head.initial.info
    if info == INDEFINITE or major not in (2, 3, 4, 5):
        return True
    per_entry = 2 if major == 5 else 1
    claimed = _argument_value(ctx.head) * per_entry
    if claimed > _remaining(ctx):
        raise ClaimBeyondInput(f"{claimed} items or bytes claimed, {_remaining(ctx)} bytes left")
    return True


_HEAD_IS_VALID = c.Check(
    lambda ctx: (
        ctx.head.initial.info < 28
        or (ctx.head.initial.info == INDEFINITE and ctx.head.initial.major in (2, 3, 4, 5, 7))
    )
)


def _nesting(ctx: Any) -> int:
    """How many containers enclose the item being parsed (each CborItem level adds one context)."""
    depth = -1
    while ctx is not None and "head" in ctx:
        depth += 1
        ctx = ctx.get("_")
    return depth


def _within_depth(ctx: Any) -> bool:
    """A container (array, map, tag, indefinite string) may open only above MAX_DEPTH enclosing ones."""
    if ctx._building:
        return True
    major, info = ctx.head.initial.major, ctx.head.initial.info
    opens = major in (4, 5, 6) or (info == INDEFINITE and major in (2, 3))
    return not opens or _nesting(ctx) < MAX_DEPTH


def _is_break(item: Any, *_: Any) -> bool:
    return item is BREAK


def _chunk(major: int) -> c.Construct:
    """One chunk of an indefinite string: a definite string of the same major type, or the break."""
    return c.Struct(
        "head" / Head,
        c.Check(
            lambda ctx: (
                (ctx.head.initial.major == major and ctx.head.initial.info < 28)
                or (ctx.head.initial.major == 7 and ctx.head.initial.info == INDEFINITE)
            )
        ),
        c.Check(_claim_fits),
        "data" / c.If(lambda ctx: ctx.head.initial.major == major, c.Bytes(_count)),
    )


def _string(major: int) -> c.Construct:
    return c.IfThenElse(
        lambda ctx: ctx.head.initial.info == INDEFINITE,
        c.RepeatUntil(lambda chunk, *_: chunk.data is None, _chunk(major)),
        c.Bytes(_count),
    )


def _sequence(per_entry: int, entry: c.Construct) -> c.Construct:
    return c.IfThenElse(
        lambda ctx: ctx.head.initial.info == INDEFINITE,
        c.RepeatUntil(_is_break, entry),
        c.Array(lambda ctx: _count(ctx) * per_entry, entry),
    )


_item = c.LazyBound(lambda: CborItem)  # type: ignore[has-type]

ItemGrammar = c.Struct(
    "head" / Head,
    _HEAD_IS_VALID,
    c.Check(_claim_fits),
    c.Check(_within_depth),
    "content"
    / c.Switch(
        c.this.head.initial.major,
        {
            0: c.Pass,
            1: c.Pass,
            2: _string(2),
            3: _string(3),
            4: _sequence(1, _item),
            5: _sequence(2, _item),
            6: _item,
            7: c.Pass,
        },
    ),
)
"""One CBOR data item as RFC 8949 lays it out; maps are read as a flat key, value, key, value run."""


# --------------------------------------------------------------------------------------------------
# Values that remember their encoding.

WIDTH_OF_INFO = {info: width.sizeof() for info, width in ARGUMENT_WIDTHS.items()}
INFO_OF_WIDTH = {width: info for info, width in WIDTH_OF_INFO.items()}


def shortest_width(n: int) -> int:
    """Bytes of argument the shortest head for `n` needs (0 = inside the initial byte)."""
    if n < 24:
        return 0
    if n < 0x100:
        return 1
    if n < 0x10000:
        return 2
    if n < 0x100000000:
        return 4
    return 8


class WideInt(int):
    """An integer whose argument was written wider than necessary (seen on mainnet)."""

    width: int

    def __new__(cls, value: int, width: int) -> WideInt:
        obj = super().__new__(cls, value)
        obj.width = width
        return obj

    def __getnewargs__(self) -> tuple[int, int]:  # type: ignore[override]
        """Copy, deep-copy and pickle rebuild the value with its width (int's own gives only the number)."""
        return int(self), self.width

    def __repr__(self) -> str:
        return f"WideInt({int(self)}, width={self.width})"


class EncodedBytes(bytes):
    """A byte string written with a wide length or as indefinite-length chunks."""

    width: int | None
    chunks: list[bytes] | None

    def __new__(
        cls, value: bytes, width: int | None = None, chunks: list[bytes] | None = None
    ) -> EncodedBytes:
        obj = super().__new__(cls, value)
        obj.width = width
        obj.chunks = chunks
        return obj

    def __repr__(self) -> str:
        return f"EncodedBytes({bytes(self)!r}, width={self.width}, chunks={self.chunks!r})"


class EncodedText(str):
    """A text string written with a wide length or as indefinite-length chunks."""

    width: int | None
    chunks: list[str] | None

    def __new__(cls, value: str, width: int | None = None, chunks: list[str] | None = None) -> EncodedText:
        obj = super().__new__(cls, value)
        obj.width = width
        obj.chunks = chunks
        return obj


class EncodedList(list):  # type: ignore[type-arg]
    """An array written with an indefinite length or a wide count."""

    def __init__(self, items: Any = (), *, indefinite: bool = False, width: int | None = None) -> None:
        super().__init__(items)
        self.indefinite = indefinite
        self.width = width

    def __repr__(self) -> str:
        form = "indefinite" if self.indefinite else f"width={self.width}"
        return f"EncodedList({list(self)!r}, {form})"


class Map:
    """A CBOR map as its ordered (key, value) pairs: keys may be unhashable and order is kept for hashing."""

    __slots__ = ("pairs", "indefinite", "width")

    def __init__(
        self, pairs: list[tuple[Any, Any]], *, indefinite: bool = False, width: int | None = None
    ) -> None:
        self.pairs = pairs
        self.indefinite = indefinite
        self.width = width

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Map):
            return self.pairs == other.pairs
        if isinstance(other, dict):
            return self.pairs == list(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Map({self.pairs!r}{', indefinite' if self.indefinite else ''})"


@dataclass(eq=False)
class Tag:
    """A tagged item; `width` is the tag number's argument width when it was not the shortest."""

    number: int
    value: Any
    width: int | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tag):
            return NotImplemented
        return (self.number, self.value) == (other.number, other.value)


@dataclass(frozen=True)
class Simple:
    """A simple value other than false/true/null/undefined; `wide` if written as f8 xx."""

    value: int
    wide: bool = False


class _Undefined:
    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()


class EncodedFloat(float):
    """A float with the width (2, 4 or 8 bytes) it was written in, and its exact bits when decoded
    (a NaN's payload is not kept by the float value itself)."""

    width: int
    bits: int | None

    def __new__(cls, value: float, width: int, bits: int | None = None) -> EncodedFloat:
        obj = super().__new__(cls, value)
        obj.width = width
        obj.bits = bits
        return obj

    def __getnewargs__(self) -> tuple[float, int, int | None]:  # type: ignore[override]
        """Copy, deep-copy and pickle rebuild the value with its width and bits."""
        return float(self), self.width, self.bits

    def __repr__(self) -> str:
        return f"EncodedFloat({float(self)!r}, width={self.width}, bits={self.bits})"


def _float_bits(obj: float) -> tuple[int, int]:
    """(width, bits) to write a float with: the remembered ones, else the shortest exact form."""
    if isinstance(obj, EncodedFloat):
        if obj.bits is not None:
            return obj.width, obj.bits
        width = obj.width
    else:
        width = _shortest_float_width(obj)
    fmt = {2: ">e", 4: ">f", 8: ">d"}[width]
    return width, int.from_bytes(struct.pack(fmt, obj), "big")


class _Break:
    def __repr__(self) -> str:
        return "BREAK"


BREAK = _Break()
"""The 0xff stop code; only ever an internal marker, never a decoded value."""


# --------------------------------------------------------------------------------------------------
# The construct adapter: grammar containers <-> values.


def _width_of_head(head: Any) -> int:
    info = head.initial.info
    return WIDTH_OF_INFO.get(info, 0)


def _head(major: int, argument: int, width: int | None = None) -> c.Container:
    if width is None:
        width = shortest_width(argument)
    if width == 0:
        if argument >= 24:
            raise EncodeError(f"{argument} does not fit in the initial byte")
        return c.Container(initial=c.Container(major=major, info=argument), argument=None)
    if argument >= 1 << (8 * width):
        raise EncodeError(f"{argument} does not fit in a {width}-byte argument")
    return c.Container(initial=c.Container(major=major, info=INFO_OF_WIDTH[width]), argument=argument)


def _indefinite_head(major: int) -> c.Container:
    return c.Container(initial=c.Container(major=major, info=INDEFINITE), argument=None)


def _float_from_bits(bits: int, width: int) -> float:
    fmt = {2: ">e", 4: ">f", 8: ">d"}[width]
    return float(struct.unpack(fmt, bits.to_bytes(width, "big"))[0])


def _shortest_float_width(value: float) -> int:
    for width, fmt in ((2, ">e"), (4, ">f")):
        try:
            packed = struct.pack(fmt, value)
        except (OverflowError, struct.error):
            continue
        back = struct.unpack(fmt, packed)[0]
        if back == value or (math.isnan(value) and math.isnan(back)):
            return width
    return 8


class _ItemAdapter(c.Adapter):  # type: ignore[misc]
    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        head = obj.head
        major = head.initial.major
        info = head.initial.info
        width = _width_of_head(head)
        canonical = info == INDEFINITE or width == shortest_width(_argument_value(head))
        if major == 0:
            n = _argument_value(head)
            return n if canonical else WideInt(n, width)
        if major == 1:
            n = -1 - _argument_value(head)
            return n if canonical else WideInt(n, width)
        if major in (2, 3):
            return self._decode_string(major, obj, canonical, width)
        if major == 4:
            items = list(obj.content[:-1]) if info == INDEFINITE else list(obj.content)
            if any(item is BREAK for item in items):
                raise c.ValidationError("break code inside a definite-length array", path=path)
            if info == INDEFINITE:
                return EncodedList(items, indefinite=True)
            return items if canonical else EncodedList(items, width=width)
        if major == 5:
            flat = list(obj.content[:-1]) if info == INDEFINITE else list(obj.content)
            if any(item is BREAK for item in flat) or len(flat) % 2:
                raise c.ValidationError("break code inside a map, or a key without a value", path=path)
            pairs = list(zip(flat[0::2], flat[1::2], strict=True))
            return Map(pairs, indefinite=info == INDEFINITE, width=None if canonical else width)
        if major == 6:
            if obj.content is BREAK:
                raise c.ValidationError("break code as tag content", path=path)
            return Tag(_argument_value(head), obj.content, None if canonical else width)
        return self._decode_simple(head, info, path)

    @staticmethod
    def _decode_string(major: int, obj: Any, canonical: bool, width: int) -> Any:
        kind: Any = EncodedBytes if major == 2 else EncodedText
        if obj.head.initial.info == INDEFINITE:
            raw_chunks = [chunk for chunk in obj.content if chunk.data is not None]
            chunks: list[Any] = []
            for chunk in raw_chunks:
                data = chunk.data
                piece = data if major == 2 else _utf8(data)
                cw = _width_of_head(chunk.head)
                if cw != shortest_width(len(data)):
                    piece = kind(piece, width=cw)
                chunks.append(piece)
            joined: Any = b"".join(chunks) if major == 2 else "".join(chunks)
            return kind(joined, chunks=chunks)
        data = obj.content
        value: Any = data if major == 2 else _utf8(data)
        return value if canonical else kind(value, width=width)

    @staticmethod
    def _decode_simple(head: Any, info: int, path: str) -> Any:
        if info == INDEFINITE:
            return BREAK
        if info in (25, 26, 27):
            width = WIDTH_OF_INFO[info]
            return EncodedFloat(_float_from_bits(head.argument, width), width, head.argument)
        if info == 24:
            if head.argument < 32:
                raise c.ValidationError("two-byte simple value below 32", path=path)
            return Simple(head.argument, wide=True)
        return {20: False, 21: True, 22: None, 23: UNDEFINED}.get(info, Simple(info))

    def _encode(self, obj: Any, context: Any, path: str) -> c.Container:
        return _to_container(obj)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise c.ValidationError(f"text string is not UTF-8: {exc}") from exc


def _to_container(obj: Any) -> c.Container:
    if obj is BREAK:
        return c.Container(head=_indefinite_head(7), content=None)
    if obj is False or obj is True or obj is None or obj is UNDEFINED:
        info = 23 if obj is UNDEFINED else {False: 20, True: 21, None: 22}[obj]  # type: ignore[index]
        return c.Container(head=_head(7, info), content=None)
    if isinstance(obj, int):
        width = obj.width if isinstance(obj, WideInt) else None
        if obj >= 0:
            return c.Container(head=_head(0, obj, width), content=None)
        return c.Container(head=_head(1, -1 - obj, width), content=None)
    if isinstance(obj, (bytes, str)):
        major = 2 if isinstance(obj, bytes) else 3
        chunks = getattr(obj, "chunks", None)
        if chunks is not None:
            pieces = [_string_chunk(major, piece) for piece in chunks]
            pieces.append(c.Container(head=_indefinite_head(7), data=None))
            return c.Container(head=_indefinite_head(major), content=pieces)
        data = obj if isinstance(obj, bytes) else obj.encode("utf-8")
        return c.Container(head=_head(major, len(data), getattr(obj, "width", None)), content=data)
    if isinstance(obj, list):
        if getattr(obj, "indefinite", False):
            return c.Container(head=_indefinite_head(4), content=[*obj, BREAK])
        return c.Container(head=_head(4, len(obj), getattr(obj, "width", None)), content=list(obj))
    if isinstance(obj, (Map, dict)):
        pairs = obj.pairs if isinstance(obj, Map) else list(obj.items())
        flat = [part for pair in pairs for part in pair]
        if isinstance(obj, Map) and obj.indefinite:
            return c.Container(head=_indefinite_head(5), content=[*flat, BREAK])
        width = obj.width if isinstance(obj, Map) else None
        return c.Container(head=_head(5, len(pairs), width), content=flat)
    if isinstance(obj, Tag):
        return c.Container(head=_head(6, obj.number, obj.width), content=obj.value)
    if isinstance(obj, Simple):
        if obj.wide:
            return c.Container(head=_head(7, obj.value, 1), content=None)
        return c.Container(head=_head(7, obj.value), content=None)
    if isinstance(obj, float):
        width, bits = _float_bits(obj)
        return c.Container(head=_head(7, bits, width), content=None)
    raise EncodeError(f"no CBOR encoding for {type(obj).__name__}")


def _string_chunk(major: int, piece: Any) -> c.Container:
    data = piece if isinstance(piece, bytes) else piece.encode("utf-8")
    return c.Container(head=_head(major, len(data), getattr(piece, "width", None)), data=data)


CborItem = _ItemAdapter(ItemGrammar)
"""A complete CBOR item as a construct: `CborItem.parse(b)` gives the value, `CborItem.build(v)` the bytes."""

CborDocument = c.Struct("item" / CborItem, c.Terminated)
"""Exactly one item and nothing after it."""


_REFERENCE_STACK = 40 * MAX_DEPTH
"""Python frames the construct path may use: construct spends about 25 frames on each nesting level."""


def _deep_enough() -> Any:
    import contextlib
    import sys

    @contextlib.contextmanager
    def raised() -> Any:
        before = sys.getrecursionlimit()
        sys.setrecursionlimit(max(before, _REFERENCE_STACK))
        try:
            yield
        finally:
            sys.setrecursionlimit(before)

    return raised()


def decode_item_reference(data: bytes) -> Any:
    """Decode through the construct grammar (slow; the reference the fast path is tested against)."""
    try:
        with _deep_enough():
            item = CborDocument.parse(data).item
    except c.TerminatedError as exc:
        raise TrailingBytes("end of input after one CBOR item", path=str(exc.path or "")) from None
    except (c.StreamError, ClaimBeyondInput) as exc:
        raise TruncatedInput(f"more input ({exc})") from None
    except (c.ConstructError, RecursionError, ValueError, OverflowError) as exc:
        raise MalformedCbor(f"well-formed CBOR ({type(exc).__name__}: {exc})") from None
    if item is BREAK:
        raise MalformedCbor("a data item, not a break code", offset=0)
    return item


def encode_item_reference(value: Any) -> bytes:
    """Encode through the construct grammar."""
    try:
        with _deep_enough():
            return bytes(CborItem.build(value))
    except c.ConstructError as exc:
        raise EncodeError(str(exc)) from None


# --------------------------------------------------------------------------------------------------
# The fast path (same values, same bytes; pinned to the grammar by tests).

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
        with _deep_enough():
            value, end = _decode(data, pos, 0)
    if value is BREAK:
        raise MalformedCbor("a data item, not a break code", offset=pos)
    if not allow_trailing and end != len(data):
        raise TrailingBytes(f"end of input after one CBOR item ({len(data) - end} bytes left)", offset=end)
    return value, end


def _short(what: str, offset: int, needed: int) -> TruncatedInput:
    """A TruncatedInput that also says how long the input must at least be (`needed`), so a reader of a
    byte stream can wait for that much before looking again."""
    error = TruncatedInput(what, offset=offset)
    error.needed = needed  # type: ignore[attr-defined]
    return error


def _argument(data: bytes, pos: int, info: int) -> tuple[int, int, int]:
    """Read the argument after the initial byte at `pos`; returns (value, width, next offset)."""
    if info < 24:
        return info, 0, pos + 1
    width = _WIDTH[info]
    if width == 0:
        raise MalformedCbor(f"additional info {info} is reserved", offset=pos)
    end = pos + 1 + width
    if end > len(data):
        raise _short(f"{width}-byte argument", pos, end)
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
        n, width, p = _argument(data, pos, info)
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
        value: Any = raw if major == 2 else _text(raw, pos)
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
    return EncodedFloat(_float_from_bits(n, width), width, n), p


def _text(raw: bytes, pos: int) -> str:
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


def encode_item(value: Any) -> bytes:
    """Encode a value (plain or encoding-remembering) to bytes."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _put_head(out: list[bytes], major: int, n: int, width: int | None) -> None:
    if width is None:
        width = shortest_width(n)
    if width == 0:
        if n >= 24:
            raise EncodeError(f"{n} does not fit in the initial byte")
        out.append(bytes((major << 5 | n,)))
        return
    if n >= 1 << (8 * width) or width not in INFO_OF_WIDTH:
        raise EncodeError(f"{n} does not fit in a {width}-byte argument")
    out.append(bytes((major << 5 | INFO_OF_WIDTH[width],)) + n.to_bytes(width, "big"))


def _encode(obj: Any, out: list[bytes]) -> None:
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
        width, bits = _float_bits(obj)
        out.append(bytes((0xE0 | INFO_OF_WIDTH[width],)) + bits.to_bytes(width, "big"))
    else:
        raise EncodeError(f"no CBOR encoding for {type(obj).__name__}")


def _encode_definite_string(major: int, piece: Any, out: list[bytes]) -> None:
    data = piece if isinstance(piece, bytes) else piece.encode("utf-8")
    _put_head(out, major, len(data), getattr(piece, "width", None))
    out.append(bytes(data))


# --------------------------------------------------------------------------------------------------
# Well-formedness of large opaque payloads, and canonicality.


def _ignore_tag_content(value: Any, *_: Any) -> None:
    return None


_OPAQUE_TAGS = {n: _ignore_tag_content for n in (*range(0, 64), 100, 256, 258, 259, 260, 261, 1004, 55799)}
"""Tags cbor2 would interpret: their content only needs to be well-formed here, not meaningful."""


def check_well_formed(data: bytes) -> None:
    """Raise a DecodeError unless `data` is exactly one well-formed CBOR item.

    The native cbor2 decoder gives the fast yes for the common case (with a seekable stream it leaves the
    stream exactly at the end of the item, which tells trailing bytes apart). When cbor2 says no (it also
    refuses well-formed items whose content it would interpret), our own scanner decides and locates the
    fault.
    """
    stream = io.BytesIO(data)
    try:
        cbor2.CBORDecoder(stream, semantic_decoders=_OPAQUE_TAGS).decode()
        if stream.tell() == len(data):
            return
    except Exception:  # noqa: BLE001, S110 - any refusal by cbor2 is re-judged by our own scanner below
        pass
    end = scan_item(data)
    if end != len(data):
        raise TrailingBytes(f"end of input after one CBOR item ({len(data) - end} bytes left)", offset=end)


def scan_item(data: bytes, pos: int = 0) -> int:
    """Walk one item without building values (iterative, so depth costs no stack); return its end."""
    end = len(data)
    # Each frame: [items left (-1 = until break), kind (string major for chunks, -1 array/tag, -2 map), seen].
    stack: list[list[int]] = []
    p = pos
    while True:
        if p >= end:
            raise TruncatedInput("a CBOR item", offset=p)
        initial = data[p]
        major = initial >> 5
        info = initial & 0x1F
        frame = stack[-1] if stack else None
        if frame is not None and frame[1] >= 0:  # inside an indefinite string: chunks or break only
            if initial == 0xFF:
                p += 1
                stack.pop()
                if _item_done(stack):
                    return p
                continue
            if major != frame[1] or info == INDEFINITE:
                raise MalformedCbor(f"a definite chunk of major type {frame[1]}", offset=p)
        if info == INDEFINITE:
            if major == 7:
                if frame is None or frame[0] != -1:
                    raise MalformedCbor("a data item, not a break code", offset=p)
                if frame[1] == -2 and frame[2] % 2:
                    raise MalformedCbor("a value after the last map key", offset=p)
                p += 1
                stack.pop()
                if _item_done(stack):
                    return p
                continue
            if major in (0, 1, 6):
                raise MalformedCbor(f"a definite argument for major type {major}", offset=p)
            p += 1
            if len(stack) >= MAX_DEPTH:
                raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=p)
            stack.append([-1, major if major in (2, 3) else (-2 if major == 5 else -1), 0])
            continue
        n, width, p2 = _argument(data, p, info)
        if major == 7 and info == 24 and n < 32:
            raise MalformedCbor("two-byte simple value of at least 32", offset=p)
        p = p2
        if major in (2, 3):
            if p + n > end:
                raise _short(f"{n} bytes of string", p, p + n)
            if major == 3:
                _text(data[p : p + n], p)
            p += n
        elif major in (4, 5):
            count = n if major == 4 else 2 * n
            if count > end - p:
                raise _short(f"{count} items", p, p + count)
            if count:
                if len(stack) >= MAX_DEPTH:
                    raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=p)
                stack.append([count, -1, 0])
                continue
        elif major == 6:
            if len(stack) >= MAX_DEPTH:
                raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=p)
            stack.append([1, -1, 0])
            continue
        if _item_done(stack):
            return p


def _item_done(stack: list[list[int]]) -> bool:
    """Count one finished item against the enclosing containers; True when the outermost is complete."""
    while stack:
        frame = stack[-1]
        if frame[1] >= 0:  # a chunk inside an indefinite string
            return False
        frame[2] += 1
        if frame[0] == -1:
            return False
        frame[0] -= 1
        if frame[0] > 0:
            return False
        stack.pop()
    return True


@dataclass(frozen=True)
class NonCanonical:
    """One place where an encoding is not the shortest form (reported, never an error)."""

    path: str
    what: str


def is_shortest(value: Any) -> bool:
    """Whether `canonicality(value)` would report nothing (a quick yes/no for hot paths)."""
    if isinstance(value, (WideInt, EncodedBytes, EncodedText)):
        return False
    if isinstance(value, list):
        if isinstance(value, EncodedList) and (value.indefinite or value.width is not None):
            return False
        return all(is_shortest(item) for item in value)
    if isinstance(value, Tag):
        return value.width is None and is_shortest(value.value)
    if isinstance(value, Map):
        if value.indefinite or value.width is not None:
            return False
        return all(is_shortest(k) and is_shortest(v) for k, v in value.pairs)
    if isinstance(value, (EncodedFloat, Simple)):
        return next(canonicality(value), None) is None
    return True


def canonicality(value: Any, path: str = "$") -> Iterator[NonCanonical]:
    """Yield every place in a decoded value whose encoding is not the shortest (RFC 8949 section 4.2.1)."""
    if isinstance(value, WideInt):
        yield NonCanonical(path, f"integer {int(value)} in a {value.width}-byte argument")
    elif isinstance(value, (EncodedBytes, EncodedText)):
        if value.chunks is not None:
            yield NonCanonical(path, "indefinite-length (chunked) string")
        elif value.width is not None:
            yield NonCanonical(path, f"string length in a {value.width}-byte argument")
    elif isinstance(value, EncodedFloat):
        if value.width != _shortest_float_width(value):
            yield NonCanonical(path, f"float in {value.width} bytes where fewer keep its value")
    elif isinstance(value, Simple) and value.wide and value.value < 24:
        yield NonCanonical(path, "simple value in two bytes")
    if isinstance(value, list):
        if getattr(value, "indefinite", False):
            yield NonCanonical(path, "indefinite-length array")
        elif isinstance(value, EncodedList) and value.width is not None:
            yield NonCanonical(path, f"array count in a {value.width}-byte argument")
        for i, item in enumerate(value):
            yield from canonicality(item, f"{path}[{i}]")
    elif isinstance(value, Map):
        if value.indefinite:
            yield NonCanonical(path, "indefinite-length map")
        elif value.width is not None:
            yield NonCanonical(path, f"map count in a {value.width}-byte argument")
        for i, (key, val) in enumerate(value.pairs):
            yield from canonicality(key, f"{path}.key[{i}]")
            yield from canonicality(val, f"{path}{{{i}}}")
    elif isinstance(value, Tag):
        if value.width is not None:
            yield NonCanonical(path, f"tag number in a {value.width}-byte argument")
        yield from canonicality(value.value, f"{path}#{value.number}")
