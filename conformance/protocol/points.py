"""Points and tips as the wire layer decodes them: None (origin) or {"slot", "hash"}; a tip is
{"point", "block_no"}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PointKey = tuple[int, bytes] | None


class NotAPoint(ValueError):
    """A value that is neither origin nor a (slot, hash) point."""


def point_key(point: Any) -> PointKey:
    """A comparable form of a point: None for origin, else (slot, hash bytes)."""
    if point is None or (isinstance(point, (list, tuple)) and len(point) == 0):
        return None
    if type(point) is dict and len(point) == 2 and "slot" in point and "hash" in point:  # as decoded: cheap
        slot, digest = point["slot"], point["hash"]
    elif isinstance(point, Mapping) and set(point) == {"slot", "hash"}:
        slot, digest = point["slot"], point["hash"]
    elif isinstance(point, (list, tuple)) and len(point) == 2:
        slot, digest = point
    else:
        raise NotAPoint(f"{point!r} is not a point")
    if not isinstance(slot, int) or isinstance(slot, bool) or slot < 0:
        raise NotAPoint(f"{point!r} has no slot number")
    if not isinstance(digest, (bytes, bytearray)):
        raise NotAPoint(f"{point!r} has no hash bytes")
    return (slot, bytes(digest))


def point_slot(point: Any) -> int:
    """The point's slot; origin comes before slot 0."""
    key = point_key(point)
    return -1 if key is None else key[0]


def tip_block_no(tip: Any) -> int | None:
    """The block number of a tip, or None when the tip is malformed."""
    if isinstance(tip, (dict, Mapping)):  # a dict (the common case) without the abstract class's check
        number = tip.get("block_no")
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return None


def tip_point(tip: Any) -> Any:
    return tip.get("point") if isinstance(tip, (dict, Mapping)) else None


def render(point: Any) -> str:
    """A point for humans: origin or slot@hash-prefix."""
    try:
        key = point_key(point)
    except NotAPoint:
        return repr(point)
    return "origin" if key is None else f"{key[0]}@{key[1][:4].hex()}"
