"""The multiplexer's SDU: an 8-byte header, then a slice of one mini-protocol's byte stream.

Messages are not aligned with SDUs: one message may span several SDUs and one SDU may carry several
messages of the same mini-protocol and direction. `Demuxer` splits a TCP byte stream into SDUs,
`StreamReassembler` (reassembly.py) turns one (protocol, direction) stream back into whole CBOR messages,
and `MessageDemultiplexer` does both for a whole bearer, sans-I/O: `receive_data(bytes)`, then
`next_message()` until NEED_DATA. Its ingress limits are the caller's to give (the wire layer does not know
the mini-protocol table): `conformance.protocol.mux.demultiplexer_for` builds one from the table.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import construct as c

from .errors import DecodeError, TruncatedInput
from .reassembly import NEED_DATA, IngressOverrun, MuxError, NeedData, StreamReassembler, detached

HEADER_SIZE = 8
MAX_PAYLOAD = 0xFFFF
"""Largest payload a 16-bit length can state; the node accepts any length up to this on receive."""
NODE_SDU_PAYLOAD = 12_288
"""Payload size the Haskell node's socket bearer sends (not a protocol limit)."""

INITIATOR = 0
RESPONDER = 1

SduHeader = c.Struct(
    "timestamp" / c.Int32ub,
    "direction" / c.BitStruct("mode" / c.BitsInteger(1), "protocol" / c.BitsInteger(15)),
    "length" / c.Int16ub,
)
"""Transmission time (lower 32 bits of a microsecond clock), mode bit (1 = sent by the responder),
mini-protocol number, payload length: all big-endian."""

SduFormat = c.Struct("header" / SduHeader, "payload" / c.Bytes(c.this.header.length))


_HEADER = struct.Struct(">IHH")
"""The same layout as SduHeader, read without construct on the hot path (a test checks they agree)."""
MAX_PROTOCOL = 0x7FFF

__all__ = [
    "HEADER_SIZE",
    "INITIATOR",
    "MAX_PAYLOAD",
    "NEED_DATA",
    "NODE_SDU_PAYLOAD",
    "RESPONDER",
    "SDU",
    "Demuxer",
    "IngressOverrun",
    "MessageDemultiplexer",
    "MuxError",
    "MuxMessage",
    "NeedData",
    "SduFormat",
    "SduHeader",
    "StreamReassembler",
    "UnknownMiniProtocol",
    "decode_sdu",
    "segment",
]


class UnknownMiniProtocol(MuxError):
    """An SDU for a mini-protocol number that is not running: the node tears the connection down."""

    requirement = "MUX-PROTO-01"

    def __init__(self, number: int, running: list[int], **where: object) -> None:
        super().__init__(
            f"an SDU of a running mini-protocol {running}, not of mini-protocol {number} ({self.requirement})",
            **where,  # type: ignore[arg-type]
        )
        self.number = number


@dataclass(frozen=True)
class SDU:
    """One service data unit. `mode` is 0 when sent by the mini-protocol's initiator, 1 by its responder."""

    timestamp: int
    mode: int
    protocol: int
    payload: bytes

    def encode(self) -> bytes:
        """The SDU's bytes; a zero or over-long payload is built as given, so tests can send bad SDUs."""
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(self.payload)} bytes exceeds the 16-bit length field")
        return bytes(
            SduFormat.build(
                {
                    "header": {
                        "timestamp": self.timestamp & 0xFFFFFFFF,
                        "direction": {"mode": self.mode, "protocol": self.protocol},
                        "length": len(self.payload),
                    },
                    "payload": self.payload,
                }
            )
        )


def decode_sdu(data: bytes, offset: int = 0) -> tuple[SDU, int]:
    """Decode one SDU at `offset`; return it and the offset after it. Raises TruncatedInput if incomplete."""
    if len(data) - offset < HEADER_SIZE:
        raise TruncatedInput("an 8-byte SDU header", offset=offset, protocol="mux")
    header = SduHeader.parse(data[offset : offset + HEADER_SIZE])
    if header.length == 0:
        raise MuxError("a payload length above zero (short SDU)", offset=offset + 6, protocol="mux")
    end = offset + HEADER_SIZE + header.length
    if end > len(data):
        raise TruncatedInput(f"{header.length} payload bytes", offset=offset, protocol="mux")
    sdu = SDU(header.timestamp, header.direction.mode, header.direction.protocol, bytes(data[offset + 8 : end]))
    return sdu, end


def segment(
    payload: bytes, *, protocol: int, mode: int, max_payload: int = NODE_SDU_PAYLOAD, timestamp: int = 0
) -> list[SDU]:
    """Split one mini-protocol byte run over as many SDUs as `max_payload` requires."""
    if not 0 < max_payload <= MAX_PAYLOAD:
        raise ValueError("max_payload must be within 1..65535")
    return [SDU(timestamp, mode, protocol, payload[i : i + max_payload]) for i in range(0, len(payload), max_payload)]


class Demuxer:
    """Cuts a bearer's byte stream into SDUs, keeping a partial SDU until the rest arrives.

    `feed` returns a list, so each SDU is handed out exactly once however the caller iterates.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[SDU]:
        """Add received bytes; return every SDU now complete, in order."""
        self._buffer += data
        received = bytes(self._buffer)  # one copy per read, however many SDUs it completes
        offset = 0
        sdus: list[SDU] = []
        try:
            while True:
                sdu, offset = decode_sdu(received, offset)
                sdus.append(sdu)
        except TruncatedInput:
            return sdus
        finally:
            del self._buffer[:offset]

    @property
    def pending(self) -> int:
        """Bytes of an incomplete SDU waiting for more input."""
        return len(self._buffer)


class MuxMessage(NamedTuple):
    """One whole message of one mini-protocol and direction, with the timestamp of the SDU that ended it."""

    protocol: int
    mode: int
    timestamp: int
    data: bytes


class MessageDemultiplexer:
    """A bearer's bytes in, whole messages out, one reassembly stream per (mini-protocol, mode).

    `limits` maps every running mini-protocol number to its ingress queue size in bytes, and nothing
    else runs: an SDU for another number fails at once (UnknownMiniProtocol), so there are at most two
    streams (one per direction) per entry. There is no default: `protocol.mux.demultiplexer_for` gives
    the limits of the negotiated protocols. Memory is bounded by the sum of the limits plus one SDU.

    Sans-I/O: `receive_data(data)` buffers and checks at once; `next_message()` hands out each message
    exactly once, in the order completed, then NEED_DATA. Any mux error fails the whole demultiplexer
    (the node closes the connection): the messages completed before the fault can still be taken, then
    every call raises that same error without buffering anything.
    """

    def __init__(self, limits: Mapping[int, int], names: Mapping[int, str] | None = None) -> None:
        for number, limit in limits.items():
            if not 0 <= number <= MAX_PROTOCOL or limit < 1:
                raise ValueError(f"mini-protocol {number}: a number in 0..32767 and a limit above 0")
        self._limits = dict(limits)
        self._names = dict(names or {})
        self._streams: dict[tuple[int, int], StreamReassembler] = {}
        self._order: deque[tuple[int, int, int]] = deque()  # (protocol, mode, timestamp) per message
        self._partial = bytearray()  # an incomplete SDU: at most HEADER_SIZE + MAX_PAYLOAD bytes
        self._offset = 0  # bearer offset of the next byte to arrive
        self._error: DecodeError | None = None

    @property
    def limits(self) -> dict[int, int]:
        """The running mini-protocols and their ingress queue sizes."""
        return dict(self._limits)

    @property
    def error(self) -> DecodeError | None:
        """The fault that failed this demultiplexer, if any."""
        return self._error

    @property
    def streams(self) -> int:
        """Reassembly streams open: at most two (one per direction) per running mini-protocol."""
        return len(self._streams)

    @property
    def pending(self) -> int:
        """Bytes held: an incomplete SDU plus every stream's undelivered bytes."""
        return len(self._partial) + sum(s.pending for s in self._streams.values())

    def pending_of(self, protocol: int, mode: int) -> int:
        """Bytes one (mini-protocol, direction) stream holds and has not handed out (after every whole
        message is taken: the start of an unfinished one, whose size a state's byte limit bounds)."""
        stream = self._streams.get((protocol, mode))
        return stream.pending if stream is not None else 0

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Take bytes read from the bearer; raise the first mux or CBOR fault they contain."""
        if self._error is not None:
            raise detached(self._error)
        view = memoryview(data).cast("B")
        pos = 0
        if self._partial:
            pos = self._complete_partial(view)
            if self._partial:
                return
        size = len(view)
        while size - pos >= HEADER_SIZE:
            timestamp, word, length = _HEADER.unpack_from(view, pos)
            self._check_length(length, self._offset + pos)
            end = pos + HEADER_SIZE + length
            if end > size:
                break
            self._route(timestamp, word, view[pos + HEADER_SIZE : end], self._offset + pos)
            pos = end
        self._partial += view[pos:]
        self._offset += size

    def next_message(self) -> MuxMessage | NeedData:
        """The next whole message, each exactly once; NEED_DATA if none; the fault once all are out."""
        if self._order:
            protocol, mode, timestamp = self._order.popleft()
            # _order holds one entry per complete message a stream holds, so there is one to take
            return MuxMessage(protocol, mode, timestamp, self._streams[protocol, mode].take())
        if self._error is not None:
            raise detached(self._error)
        return NEED_DATA

    def feed(self, data: bytes | bytearray | memoryview) -> list[MuxMessage]:
        """`receive_data`, then every message now complete. On a fault the messages before it stay
        available through `next_message()`."""
        self.receive_data(data)
        out: list[MuxMessage] = []
        while self._order:
            protocol, mode, timestamp = self._order.popleft()
            out.append(MuxMessage(protocol, mode, timestamp, self._streams[protocol, mode].take()))
        return out

    def _complete_partial(self, view: memoryview) -> int:
        """Move bytes from `view` into the partial SDU until it is whole; route it; return bytes taken."""
        partial = self._partial
        start = self._offset - len(partial)
        pos = 0
        if len(partial) < HEADER_SIZE:
            pos = min(HEADER_SIZE - len(partial), len(view))
            partial += view[:pos]
            if len(partial) < HEADER_SIZE:
                self._offset += pos
                return pos
        timestamp, word, length = _HEADER.unpack_from(partial, 0)
        self._check_length(length, start)
        take = min(HEADER_SIZE + length - len(partial), len(view) - pos)
        partial += view[pos : pos + take]
        pos += take
        self._offset += pos
        if len(partial) == HEADER_SIZE + length:
            payload = bytes(partial[HEADER_SIZE:])
            partial.clear()
            self._route(timestamp, word, payload, start)
        return pos

    def _check_length(self, length: int, offset: int) -> None:
        if length == 0:
            self._fail(MuxError("a payload length above zero (short SDU)", offset=offset + 6, protocol="mux"))

    def _route(self, timestamp: int, word: int, payload: memoryview | bytes, offset: int) -> None:
        protocol, mode = word & MAX_PROTOCOL, word >> 15
        stream = self._streams.get((protocol, mode))
        if stream is None:
            limit = self._limits.get(protocol)
            if limit is None:
                self._fail(UnknownMiniProtocol(protocol, sorted(self._limits), offset=offset + 4, protocol="mux"))
            name = self._names.get(protocol, f"mux:{protocol}")
            stream = self._streams[protocol, mode] = StreamReassembler(name, limit)
        before = stream.ready
        try:
            stream.receive_data(payload)
        except DecodeError as exc:
            self._queue(protocol, mode, timestamp, stream.ready - before)
            self._fail(exc)
        self._queue(protocol, mode, timestamp, stream.ready - before)

    def _queue(self, protocol: int, mode: int, timestamp: int, count: int) -> None:
        self._order.extend([(protocol, mode, timestamp)] * count)

    def _fail(self, error: DecodeError) -> None:
        """Fail the whole demultiplexer: keep complete messages, drop every partial byte, raise."""
        self._error = detached(error)
        self._partial = bytearray()
        for stream in self._streams.values():
            stream.abort(error)
        try:
            raise error
        finally:
            del error  # no cycle error -> traceback -> this frame -> error: freed at once, not by gc
