"""TCP reassembly of one direction of one connection: segments in capture order, contiguous bytes out.

Sequence numbers are followed modulo 2**32 from the SYN (or from the first segment, when the capture
missed the SYN). A retransmitted or overlapping segment gives only its new bytes; a segment from the
future waits, keyed by its stream offset, until the bytes before it arrive. That wait is bounded: past
`max_buffered` bytes, or as soon as the other side acknowledges bytes beyond it, or when the connection
ends, the hole is declared lost (the capture dropped packets), the bytes after it are delivered with
`gap` set, and the reader resynchronises on the SDU headers after it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from .capture import FIN, RST, SYN, Segment

MAX_BUFFERED = 4 * 1024 * 1024
"""Out-of-order bytes one direction holds while it waits for a missing segment."""
MAX_SEGMENTS = 4096
"""Out-of-order segments one direction holds (many tiny ones cost more than their bytes)."""
_HALF = 1 << 31
_MOD = 1 << 32


@dataclass(frozen=True, slots=True)
class Chunk:
    """Contiguous bytes of the stream at `offset`, delivered at capture time `time`; `gap` says bytes
    before it were never captured (the reader must find the next SDU boundary)."""

    time: float
    offset: int
    data: bytes
    gap: bool = False


class TcpDirection:
    """The bytes one endpoint sent, in order, each once (sans-I/O: `segment` returns what it completes)."""

    def __init__(self, max_buffered: int = MAX_BUFFERED, max_segments: int = MAX_SEGMENTS) -> None:
        self.max_buffered = max_buffered
        self.max_segments = max_segments
        self.syn = False
        self.start_missed = False
        self.fin_time: float | None = None
        self.rst_time: float | None = None
        self.retransmitted = 0
        """Bytes received again (retransmissions and overlaps), dropped."""
        self.lost = 0
        """Bytes never captured (holes given up on)."""
        self.delivered = 0
        self._next: int | None = None  # the sequence number expected next (mod 2**32)
        self._offset = 0  # stream offset of _next
        self._waiting: list[tuple[int, bytes]] = []  # heap of (stream offset, bytes) from the future
        self._waiting_bytes = 0
        self._fin_seq: int | None = None

    @property
    def offset(self) -> int:
        """Stream offset of the next byte expected."""
        return self._offset

    @property
    def buffered(self) -> int:
        """Out-of-order bytes held."""
        return self._waiting_bytes

    def segment(self, seg: Segment) -> list[Chunk]:
        """Take one segment sent in this direction; return the bytes it makes contiguous."""
        flags = seg.flags
        if flags & RST:
            if self.rst_time is None:
                self.rst_time = seg.time
        if flags & SYN:
            if self._next is None:
                self.syn = True
                self._next = (seg.seq + 1) % _MOD
            if not seg.payload:
                return []
            seq = (seg.seq + 1) % _MOD
        else:
            seq = seg.seq
        if flags & FIN and self.fin_time is None:
            self.fin_time = seg.time
            self._fin_seq = (seq + len(seg.payload)) % _MOD
        data = seg.payload
        if not data:
            return []
        if self._next is None:
            self.start_missed = True
            self._next = seq
        delta = (seq - self._next) % _MOD
        if delta >= _HALF:
            delta -= _MOD
        if delta > 0:
            return self._wait(seg.time, self._offset + delta, data)
        if delta < 0:
            if len(data) <= -delta:
                self.retransmitted += len(data)
                return []
            self.retransmitted += -delta
            data = data[-delta:]
        out = [self._deliver(seg.time, data, False)]
        if self._waiting:
            out.extend(self._drain(seg.time))
        return out

    def acknowledged(self, ack: int, time: float) -> list[Chunk]:
        """The receiver acknowledged up to `ack`: bytes before it that the capture does not hold were
        sent and received but not captured, so no retransmission will fill the hole: skip it now (a
        hole with nothing after it yet is announced by an empty chunk with `gap` set)."""
        if self._next is None:
            return []
        beyond = (ack - self._next) % _MOD
        if beyond == 0 or beyond >= _HALF or (self._fin_seq is not None and self._next == self._fin_seq):
            return []  # nothing missing, an old ack, or the ack of our FIN's sequence number
        out: list[Chunk] = []
        while self._waiting and self._waiting[0][0] < self._offset + beyond:
            out.extend(self._skip_hole(time))
        beyond = (ack - self._next) % _MOD
        if 0 < beyond < _HALF:
            self.lost += beyond
            self._offset += beyond
            self._next = ack % _MOD
            out.append(Chunk(time, self._offset, b"", True))
        return out

    def flush(self, time: float) -> list[Chunk]:
        """The connection ended: whatever waits behind a hole is delivered after it, as a gap."""
        out: list[Chunk] = []
        while self._waiting:
            out.extend(self._skip_hole(time))
        return out

    def _deliver(self, time: float, data: bytes, gap: bool) -> Chunk:
        chunk = Chunk(time, self._offset, data, gap)
        self._offset += len(data)
        self.delivered += len(data)
        assert self._next is not None
        self._next = (self._next + len(data)) % _MOD
        return chunk

    def _wait(self, time: float, offset: int, data: bytes) -> list[Chunk]:
        heapq.heappush(self._waiting, (offset, data))
        self._waiting_bytes += len(data)
        out: list[Chunk] = []
        while self._waiting and (self._waiting_bytes > self.max_buffered or len(self._waiting) > self.max_segments):
            out.extend(self._skip_hole(time))
        return out

    def _skip_hole(self, time: float) -> list[Chunk]:
        """Give up on the bytes before the first waiting segment: they were not captured."""
        offset = self._waiting[0][0]
        if offset > self._offset:
            hole = offset - self._offset
            self.lost += hole
            self._offset = offset
            assert self._next is not None
            self._next = (self._next + hole) % _MOD
            return self._drain(time, gap=True)
        return self._drain(time)

    def _drain(self, time: float, gap: bool = False) -> list[Chunk]:
        out: list[Chunk] = []
        while self._waiting and self._waiting[0][0] <= self._offset:
            offset, data = heapq.heappop(self._waiting)
            self._waiting_bytes -= len(data)
            overlap = self._offset - offset
            if overlap >= len(data):
                self.retransmitted += len(data)
                continue
            self.retransmitted += overlap
            out.append(self._deliver(time, data[overlap:], gap))
            gap = False
        return out
