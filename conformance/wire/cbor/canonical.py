"""The canonicality report: where a decoded value was not written in the shortest form (RFC 8949
section 4.2.1). Reported, never an error: the node's CBOR library accepts every such form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .values import (
    EncodedBytes,
    EncodedFloat,
    EncodedList,
    EncodedText,
    Map,
    Simple,
    Tag,
    WideInt,
    shortest_float_width,
)


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
        if value.width != shortest_float_width(value):
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
