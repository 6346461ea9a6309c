"""What every CBOR item begins with: the head (major type, additional info, argument), its widths, and
the depth bound. The one table of argument widths (`ARGUMENT_WIDTHS`) is read by the construct grammar,
the fast decoder and encoder, and the scanner."""

from __future__ import annotations

from typing import Any

import construct as c

ARGUMENT_WIDTHS = {24: c.Int8ub, 25: c.Int16ub, 26: c.Int32ub, 27: c.Int64ub}

Head = c.Struct(
    "initial" / c.BitStruct("major" / c.BitsInteger(3), "info" / c.BitsInteger(5)),
    "argument" / c.Switch(c.this.initial.info, ARGUMENT_WIDTHS, default=c.Pass),
)
"""The head of every CBOR item: 3-bit major type, 5-bit additional info, then a 0/1/2/4/8-byte argument."""

MAX_DEPTH = 500
"""Nesting depth beyond which the harness refuses an item (a bound on stack use, not a CBOR rule)."""

INDEFINITE = 31


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


_REFERENCE_STACK = 40 * MAX_DEPTH
"""Python frames the construct path may use: construct spends about 25 frames on each nesting level."""


def deep_enough() -> Any:
    """A context in which Python has stack for MAX_DEPTH nesting levels (construct, or deep fast decodes)."""
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
