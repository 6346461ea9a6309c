"""Well-formedness without building values: `scan_item` finds where an item ends (iteratively, so depth
costs no stack; the reassembler and the mux use it), and `check_well_formed` validates large opaque
payloads (blocks, transactions) at native speed, falling back to the Python scanner for the verdict.

Native speed comes from the C twin of the scanner (`_wellformed.c`, built at install where a C compiler
is at hand): it says only yes (where the item ends) or no, 20x faster than cbor2 builds the values, and
every no is judged again, and located, by the Python scanner. Without it, cbor2 gives the fast yes.

A large payload that is an array is checked element by element, two levels deep, so the check also finds
where each element starts and ends; `spans_of` gives those offsets for the last few payloads checked, so a
block's reader (header, body parts) does not walk the block a second time.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cbor2

from ..errors import MalformedCbor, TrailingBytes, TruncatedInput
from .decode import read_argument, truncated, utf8_text
from .head import (
    INDEFINITE,
    MAX_DEPTH,
)

try:
    from . import _wellformed as _native
except ImportError:  # installed where no C compiler was at hand: cbor2 and the Python scanner do it all
    _native = None  # type: ignore[assignment]
if _native is not None and _native.MAX_DEPTH != MAX_DEPTH:  # a stale build: its verdicts would differ
    _native = None  # type: ignore[assignment]

NATIVE = _native is not None
"""Whether the native scanner is in use (the benchmarks say which checker their figures are for)."""


def _ignore_tag_content(value: Any, *_: Any) -> None:
    return None


OPAQUE_TAGS = {n: _ignore_tag_content for n in (*range(0, 64), 100, 256, 258, 259, 260, 261, 1004, 55799)}
"""Tags cbor2 would interpret: their content only needs to be well-formed here, not meaningful."""


SPANNED_AT_MOST = 16
"""Arrays of more elements are checked in one call, not element by element: a block has 2 and 5, and a
hostile payload of many tiny elements must not cost a Python step each."""
SPANS_FROM = 4096
"""Payloads of at least this many bytes are checked element by element (the spans are worth keeping);
smaller ones in one call, which costs less than walking their elements."""
KEPT_ITEMS = 512
KEPT_BYTES = 32 << 20
"""The payloads remembered as checked (with their spans) or vouched for: the most recent, at most this
many and this many bytes together (a block-fetch batch of mainnet blocks fits)."""


@dataclass(frozen=True)
class Spans:
    """Where the elements of a definite-length array start and end (offsets into the payload), and, for
    an element that is itself a definite-length array, where its elements are (`inner`, by index)."""

    items: tuple[tuple[int, int], ...]
    inner: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)


class _Known:
    """Payloads known to be well-formed, by identity of the bytes object (kept alive here, so an id is
    never reused while its entry lives), oldest dropped first."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[bytes, Spans]] = {}
        self._order: deque[int] = deque()
        self._bytes = 0
        self._lock = threading.Lock()  # the suite's loop and a peer's thread may check at once

    def get(self, data: bytes) -> Spans | None:
        entry = self._by_id.get(id(data))
        return entry[1] if entry is not None and entry[0] is data else None

    def add(self, data: bytes, spans: Spans) -> None:
        with self._lock:
            if id(data) in self._by_id:
                return
            self._by_id[id(data)] = (data, spans)
            self._order.append(id(data))
            self._bytes += len(data)
            while self._order and (len(self._order) > KEPT_ITEMS or self._bytes > KEPT_BYTES):
                dropped = self._by_id.pop(self._order.popleft())
                self._bytes -= len(dropped[0])


_known = _Known()
_VOUCHED = Spans(())


def spans_of(data: bytes) -> Spans | None:
    """The spans `check_well_formed` found in this very bytes object (compared by identity), or None."""
    spans = _known.get(data)
    return spans if spans is not None and spans.items else None


def vouch(data: bytes) -> bytes:
    """Say that `data` is one well-formed item because the caller built it from well-formed parts (the chain
    store renders blocks so): `check_well_formed` of this very object then returns at once. For a sender's
    own check of what it sends, which would otherwise walk every block it serves once more."""
    if len(data) >= SPANS_FROM and type(data) is bytes:
        _known.add(data, _VOUCHED)
    return data


_last_value: tuple[Any, Any] = (None, None)
NOT_KEPT = object()


def value_of(data: bytes) -> Any:
    """What cbor2 made of `data` when `check_well_formed` last checked this very object (tags opaque: their
    content None), else NOT_KEPT: a header's reader after its tag-24 check need not decode it again."""
    checked, value = _last_value
    return value if checked is data else NOT_KEPT


def check_well_formed(data: bytes) -> None:
    """Raise a DecodeError unless `data` is exactly one well-formed CBOR item.

    The native cbor2 decoder gives the fast yes for the common case (with a seekable stream it leaves the
    stream exactly at the end of the item, which tells trailing bytes apart). When cbor2 says no (it also
    refuses well-formed items whose content it would interpret), our own scanner decides and locates the
    fault.
    """
    if len(data) >= SPANS_FROM and type(data) is bytes:
        if _known.get(data) is not None:
            return
        spans = _checked_spans(data)
        if spans is not None:
            _known.add(data, spans)
            return
        if _native is not None and _native.item_end(data) == len(data):
            return
    global _last_value
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream, semantic_decoders=OPAQUE_TAGS).decode()
        if stream.tell() == len(data):
            _last_value = (data, value)  # replaced whole: a reader on another thread sees one pair or the other
            return
    except Exception:  # noqa: BLE001, S110 - any refusal by cbor2 is re-judged by our own scanner below
        pass
    end = scan_item(data)
    if end != len(data):
        raise TrailingBytes(f"end of input after one CBOR item ({len(data) - end} bytes left)", offset=end)


def _checked_spans(data: bytes) -> Spans | None:
    """The spans of `data` when it is one definite-length array, every element of which is well-formed and
    which ends exactly at the end of `data`; None otherwise (the caller then judges it the general way)."""
    try:
        found = _array_spans(data, 0, _element_ends(data), levels=2, enclosing=0, most=SPANNED_AT_MOST)
    except Exception:  # noqa: BLE001 - any refusal: the general path gives the verdict and the place
        return None
    if found is None or found[0] != len(data):
        return None
    return found[1]


ElementEnd = Callable[[int, int], int]
"""(start, enclosing) -> where the well-formed item at `start`, inside `enclosing` containers (they count
against MAX_DEPTH), ends; raises (any exception) when it is not one."""


def _element_ends(data: bytes) -> ElementEnd:
    """The native scanner over `data`, else cbor2's decoder on a stream of it. cbor2's own depth bound is
    lower than ours, so a deep element it refuses goes to the general path, which judges the whole."""
    native = _native
    if native is not None:

        def native_end(start: int, enclosing: int) -> int:
            end: int = native.item_end(data, start, enclosing)
            if end < 0:
                raise MalformedCbor("a well-formed item", offset=start)
            return end

        return native_end
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(stream, semantic_decoders=OPAQUE_TAGS)

    def cbor2_end(start: int, enclosing: int) -> int:
        stream.seek(start)
        decoder.decode()
        return stream.tell()

    return cbor2_end


def _array_spans(
    data: bytes, pos: int, end_of: ElementEnd, levels: int, enclosing: int, most: int | None
) -> tuple[int, Spans] | None:
    """(end, spans) of the definite-length array at `pos`, inside `enclosing` arrays, each element checked
    by `end_of`, `levels` deep; None when the item at `pos` is not such an array of at most `most` elements."""
    initial = data[pos]
    info = initial & 0x1F
    if initial >> 5 != 4 or info > 27:
        return None
    count, _, start = read_argument(data, pos, info)
    if count > len(data) - start:  # every element takes a byte at least
        raise MalformedCbor("an array claims more elements than there are bytes", offset=pos)
    if most is not None and count > most:
        return None
    items: list[tuple[int, int]] = []
    inner: dict[int, tuple[tuple[int, int], ...]] = {}
    for index in range(count):
        nested = _array_spans(data, start, end_of, levels - 1, enclosing + 1, most) if levels > 1 else None
        if nested is not None:
            end, spans = nested
            inner[index] = spans.items
        else:
            end = end_of(start, enclosing + 1)
        items.append((start, end))
        start = end
    return start, Spans(tuple(items), inner)


def array_spans(data: bytes, pos: int, enclosing: int = 0) -> list[tuple[int, int]]:
    """Start and end offsets of the elements of the definite-length array at `pos` (inside `enclosing`
    containers), each element checked; raises ValueError or the DecodeError family when there is no such
    array or an element is ill-formed."""
    found = _array_spans(data, pos, _element_ends(data), levels=1, enclosing=enclosing, most=None)
    if found is None:
        raise ValueError("not a definite-length array")
    return list(found[1].items)


def scan_item(data: bytes, pos: int = 0) -> int:
    """Where the one well-formed item at `pos` ends; the DecodeError family, located, when it is not one.
    The native scanner answers first; its every no is re-judged by `scan_item_python`."""
    if _native is not None:
        end: int = _native.item_end(data, pos)
        if end >= 0:
            return end
    return scan_item_python(data, pos)


def scan_item_python(data: bytes, pos: int = 0) -> int:
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
        n, width, p2 = read_argument(data, p, info)
        if major == 7 and info == 24 and n < 32:
            raise MalformedCbor("two-byte simple value of at least 32", offset=p)
        p = p2
        if major in (2, 3):
            if p + n > end:
                raise truncated(f"{n} bytes of string", p, p + n)
            if major == 3:
                utf8_text(data[p : p + n], p)
            p += n
        elif major in (4, 5):
            count = n if major == 4 else 2 * n
            if count > end - p:
                raise truncated(f"{count} items", p, p + count)
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
