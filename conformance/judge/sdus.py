"""A direction's bytes cut into SDUs, finding the first SDU boundary when the capture missed the start.

From a SYN the stream starts on an SDU header and `conformance.peer.mux_io.SduReader` cuts it. A capture
that begins mid-connection, or loses bytes on the way, starts anywhere: the cutter then looks for the
first offset where `CHAIN` SDU headers in a row decode consistently (a payload length above zero, a
known mini-protocol number, each header where the previous payload ends) and one of their payloads
begins with a well-formed CBOR array (every message is one; whole, or going on), and resumes there. The
search holds at most `SEARCH_WINDOW` bytes, and each byte is looked at a bounded number of times.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from conformance.peer.mux_io import SduReader
from conformance.protocol.mux import MINI_PROTOCOLS
from conformance.wire.cbor import scan_item
from conformance.wire.errors import DecodeError, TruncatedInput
from conformance.wire.mux import HEADER_SIZE, MAX_PAYLOAD, SDU

_HEADER = struct.Struct(">IHH")
CHAIN = 3
"""Consecutive SDU headers that must agree before the cutter believes it found a boundary."""
SEARCH_WINDOW = 4 * (HEADER_SIZE + MAX_PAYLOAD)
"""Bytes held while searching: enough for CHAIN SDUs of the largest size."""
KNOWN_NUMBERS = frozenset(p.number for table in MINI_PROTOCOLS.values() for p in table)


@dataclass(frozen=True, slots=True)
class Resync:
    """The cutter found an SDU boundary at stream `offset` after skipping `skipped` bytes."""

    offset: int
    skipped: int


class SduCutter:
    """Bytes of one direction in (with their stream offset), SDUs out; `aligned` False until a boundary
    is known. `resyncs` lists every boundary found by search; `skipped` counts bytes that were no SDU."""

    def __init__(self, aligned: bool) -> None:
        self.aligned = aligned
        self.resyncs: list[Resync] = []
        self.skipped = 0
        self._reader = SduReader()
        self._search = bytearray()
        self._search_offset = 0  # stream offset of _search[0]
        self._tried = 0  # positions of _search already ruled out
        self._times: deque[tuple[int, int, float]] = deque()  # (offset, length, time) of searched chunks

    @property
    def pending(self) -> int:
        """Bytes of an unfinished SDU (or of a search) held."""
        return self._reader.pending if self.aligned else len(self._search)

    def lose_sync(self) -> None:
        """Bytes were lost before the next chunk: search for a boundary again."""
        self.skipped += self._reader.pending
        self.aligned = False
        self._reader = SduReader()
        self._search = bytearray()
        self._times.clear()
        self._tried = 0

    def feed(self, offset: int, data: bytes, time: float, *, final: bool = False) -> list[tuple[float, SDU]]:
        """The bytes at stream `offset`, captured at `time`; every SDU now complete, with the capture time
        of the chunk that completed it. Raises MuxError (a zero-length SDU)."""
        if self.aligned:
            return [(time, sdu) for sdu in self._reader.feed(data)]
        if not self._search:
            self._search_offset = offset
            self._times.clear()
        if data:
            self._search += data
            self._times.append((offset, len(data), time))
        start = self._find(final)
        if start is None:
            excess = len(self._search) - SEARCH_WINDOW
            if excess > 0:
                del self._search[:excess]
                self._search_offset += excess
                self.skipped += excess
                self._tried = max(0, self._tried - excess)
                while self._times and self._times[0][0] + self._times[0][1] <= self._search_offset:
                    self._times.popleft()
            return []
        self.skipped += start
        begin = self._search_offset + start
        self.resyncs.append(Resync(begin, start))
        buffer, base, times = self._search, self._search_offset, list(self._times)
        self._search = bytearray()
        self._times.clear()
        self._tried = 0
        self.aligned = True
        out: list[tuple[float, SDU]] = []
        for chunk_offset, length, when in times:  # each SDU keeps the time of the chunk that ended it
            lo, hi = max(chunk_offset, begin) - base, chunk_offset + length - base
            if hi > lo:
                out.extend((when, sdu) for sdu in self._reader.feed(bytes(buffer[lo:hi])))
        return out

    def _find(self, final: bool) -> int | None:
        buffer = self._search
        size = len(buffer)
        for start in range(self._tried, size - HEADER_SIZE + 1):
            verdict = _chain(buffer, start, final)
            if verdict is True:
                return start
            if verdict is None:  # not enough bytes to tell yet: try again from here with more
                self._tried = start
                return None
        self._tried = max(0, size - HEADER_SIZE + 1)
        return None


def _chain(buffer: bytearray, start: int, final: bool) -> bool | None:
    """True when CHAIN consistent headers begin at `start` and one of their payloads begins a message;
    False when they do not; None when the bytes end before it can be told (with `final`, a consistent
    chain of at least two headers that reaches the end exactly counts)."""
    pos, size, message = start, len(buffer), False
    for count in range(CHAIN):
        if size - pos < HEADER_SIZE:
            return (message and pos == size and count >= 2) if final else None
        _stamp, word, length = _HEADER.unpack_from(buffer, pos)
        if length == 0 or (word & 0x7FFF) not in KNOWN_NUMBERS:
            return False
        end = pos + HEADER_SIZE + length
        if end > size:
            return False if final else None
        if word & 0x7FFF == 0 and not _whole_message(buffer, pos + HEADER_SIZE, end):
            return False  # a handshake SDU is one whole message (what zero bytes mistaken for one are not)
        message = message or _begins_message(buffer, pos + HEADER_SIZE, end)
        pos = end
    return message


def _whole_message(buffer: bytearray, start: int, end: int) -> bool:
    if not 0x80 <= buffer[start] <= 0x9F:
        return False
    try:
        return scan_item(bytes(buffer[start:end])) == end - start
    except DecodeError:
        return False


def _begins_message(buffer: bytearray, start: int, end: int) -> bool:
    """Whether a payload begins with a well-formed CBOR array (every message is `[tag, ...]`), whole or
    going on in the next SDU."""
    if not 0x80 <= buffer[start] <= 0x9F:
        return False
    try:
        scan_item(bytes(buffer[start:end]))
    except TruncatedInput:  # a message that goes on in the next SDU
        return True
    except DecodeError:
        return False
    return True
