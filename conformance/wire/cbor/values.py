"""Decoded CBOR values, and the subclasses that remember a non-shortest encoding (wide arguments,
indefinite lengths, chunks, float widths and NaN payloads), so that `encode(decode(b)) == b`."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any


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

    def __new__(cls, value: bytes, width: int | None = None, chunks: list[bytes] | None = None) -> EncodedBytes:
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

    def __init__(self, pairs: list[tuple[Any, Any]], *, indefinite: bool = False, width: int | None = None) -> None:
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


def float_bits(obj: float) -> tuple[int, int]:
    """(width, bits) to write a float with: the remembered ones, else the shortest exact form."""
    if isinstance(obj, EncodedFloat):
        if obj.bits is not None:
            return obj.width, obj.bits
        width = obj.width
    else:
        width = shortest_float_width(obj)
    fmt = {2: ">e", 4: ">f", 8: ">d"}[width]
    return width, int.from_bytes(struct.pack(fmt, obj), "big")


class _Break:
    def __repr__(self) -> str:
        return "BREAK"


BREAK = _Break()
"""The 0xff stop code; only ever an internal marker, never a decoded value."""


def float_from_bits(bits: int, width: int) -> float:
    """The value of an IEEE 754 half, single or double given as its bits."""
    fmt = {2: ">e", 4: ">f", 8: ">d"}[width]
    return float(struct.unpack(fmt, bits.to_bytes(width, "big"))[0])


def shortest_float_width(value: float) -> int:
    """The fewest bytes (2, 4 or 8) that keep `value` exactly (any NaN fits in 2)."""
    for width, fmt in ((2, ">e"), (4, ">f")):
        try:
            packed = struct.pack(fmt, value)
        except (OverflowError, struct.error):
            continue
        back = struct.unpack(fmt, packed)[0]
        if back == value or (math.isnan(value) and math.isnan(back)):
            return width
    return 8
