"""The reference grammar of RFC 8949 in construct (`Head`, `ItemGrammar`, `CborItem`), and the adapter
between its containers and the values of values.py: slow, declarative, the reference the fast path is tested
against (`decode_item_reference`, `encode_item_reference`)."""

from __future__ import annotations

from typing import Any

import construct as c

from ..errors import EncodeError, MalformedCbor, TrailingBytes, TruncatedInput
from .head import (
    INDEFINITE,
    INFO_OF_WIDTH,
    MAX_DEPTH,
    WIDTH_OF_INFO,
    Head,
    deep_enough,
    shortest_width,
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
    float_bits,
    float_from_bits,
)


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
            return EncodedFloat(float_from_bits(head.argument, width), width, head.argument)
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
        width, bits = float_bits(obj)
        return c.Container(head=_head(7, bits, width), content=None)
    raise EncodeError(f"no CBOR encoding for {type(obj).__name__}")


def _string_chunk(major: int, piece: Any) -> c.Container:
    data = piece if isinstance(piece, bytes) else piece.encode("utf-8")
    return c.Container(head=_head(major, len(data), getattr(piece, "width", None)), data=data)


CborItem = _ItemAdapter(ItemGrammar)
"""A complete CBOR item as a construct: `CborItem.parse(b)` gives the value, `CborItem.build(v)` the bytes."""

CborDocument = c.Struct("item" / CborItem, c.Terminated)
"""Exactly one item and nothing after it."""


def decode_item_reference(data: bytes) -> Any:
    """Decode through the construct grammar (slow; the reference the fast path is tested against)."""
    try:
        with deep_enough():
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
        with deep_enough():
            return bytes(CborItem.build(value))
    except c.ConstructError as exc:
        raise EncodeError(str(exc)) from None
