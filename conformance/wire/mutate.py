"""Byte mutators: building invalid input on purpose is a feature of a conformance harness.

Each mutator takes valid bytes and returns damaged ones; `damaged` is the hypothesis strategy that
applies one of them, so property tests and negative scenarios share one definition.
"""

from __future__ import annotations

from hypothesis import strategies as st


def flip(data: bytes, at: int, mask: int) -> bytes:
    """XOR one byte with a non-zero mask."""
    return data[:at] + bytes((data[at] ^ mask,)) + data[at + 1 :]


def truncate(data: bytes, length: int) -> bytes:
    return data[:length]


def insert(data: bytes, at: int, byte: int) -> bytes:
    return data[:at] + bytes((byte,)) + data[at:]


def duplicate(data: bytes, start: int, end: int, at: int) -> bytes:
    """Copy `data[start:end]` in again at `at`."""
    return data[:at] + data[start:end] + data[at:]


@st.composite
def damaged(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding damaged once: a flipped byte, a truncation, an inserted byte or a duplicated slice."""
    data = draw(valid.filter(bool))
    n = len(data)
    how = draw(st.sampled_from(["flip", "truncate", "insert", "duplicate"]))
    if how == "flip":
        return flip(data, draw(st.integers(0, n - 1)), draw(st.integers(1, 255)))
    if how == "truncate":
        return truncate(data, draw(st.integers(0, n - 1)))
    if how == "insert":
        return insert(data, draw(st.integers(0, n)), draw(st.integers(0, 255)))
    start = draw(st.integers(0, n - 1))
    return duplicate(data, start, draw(st.integers(start + 1, n)), draw(st.integers(0, n)))
