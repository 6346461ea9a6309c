"""The multiplexer's SDU: an 8-byte header, then a slice of one mini-protocol's byte stream.

Messages are not aligned with SDUs: one message may span several SDUs and one SDU may carry several
messages of the same mini-protocol and direction. `Demuxer` splits a TCP byte stream into SDUs and
`StreamReassembler` turns one (protocol, direction) stream back into whole CBOR messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import construct as c

from .cbor import scan_item
from .errors import DecodeError, TruncatedInput

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


class MuxError(DecodeError):
    """A violation of the SDU framing itself (zero length, truncated header or payload, overrun)."""


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
    sdu = SDU(
        header.timestamp, header.direction.mode, header.direction.protocol, bytes(data[offset + 8 : end])
    )
    return sdu, end


def segment(
    payload: bytes, *, protocol: int, mode: int, max_payload: int = NODE_SDU_PAYLOAD, timestamp: int = 0
) -> list[SDU]:
    """Split one mini-protocol byte run over as many SDUs as `max_payload` requires."""
    if not 0 < max_payload <= MAX_PAYLOAD:
        raise ValueError("max_payload must be within 1..65535")
    return [
        SDU(timestamp, mode, protocol, payload[i : i + max_payload])
        for i in range(0, len(payload), max_payload)
    ]


class Demuxer:
    """Cuts a bearer's byte stream into SDUs, keeping a partial SDU until the rest arrives."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._consumed = 0

    def feed(self, data: bytes) -> Iterator[SDU]:
        """Add received bytes and yield every SDU now complete."""
        self._buffer += data
        received = bytes(self._buffer)  # one copy per read, however many SDUs it completes
        offset = 0
        try:
            while True:
                sdu, offset = decode_sdu(received, offset)
                yield sdu
        except TruncatedInput:
            pass
        finally:
            self._consumed += offset
            del self._buffer[:offset]

    @property
    def pending(self) -> int:
        """Bytes of an incomplete SDU waiting for more input."""
        return len(self._buffer)


class StreamReassembler:
    """Rebuilds whole CBOR messages from one (protocol, direction) byte stream.

    `limit` bounds the bytes buffered for an incomplete message (the ingress queue of the Haskell mux);
    exceeding it raises MuxError instead of growing without bound.
    """

    def __init__(self, protocol: str = "", limit: int | None = None) -> None:
        self.protocol = protocol
        self.limit = limit
        self._buffer = bytearray()
        self._offset = 0
        self._needed = 0  # bytes the buffered message needs at least before it is worth scanning again

    def feed(self, payload: bytes) -> Iterator[bytes]:
        """Add one SDU payload and yield every message it completes, in order."""
        self._buffer += payload
        if self.limit is not None and len(self._buffer) > self.limit:
            raise MuxError(
                f"at most {self.limit} bytes queued for this stream (have {len(self._buffer)})",
                protocol=self.protocol,
            )
        if len(self._buffer) < self._needed:
            return  # a large message (a block) still arriving: no rescan per SDU
        data = bytes(self._buffer)
        start = 0
        self._needed = 0
        try:
            while start < len(data):
                end = scan_item(data, start)
                yield data[start:end]
                start = end
        except TruncatedInput as short:
            self._needed = getattr(short, "needed", len(data) + 1) - start
        except DecodeError as exc:
            raise exc.located(protocol=self.protocol, offset=self._offset + start) from None
        finally:
            self._offset += start
            del self._buffer[:start]

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held back."""
        return len(self._buffer)


class MessageDemultiplexer:
    """A bearer's bytes in, whole messages out, one reassembly stream per (mini-protocol, mode).

    `limits` maps a mini-protocol number to its ingress queue size in bytes (see PROTOCOLS.md §1.3);
    a stream without an entry is unbounded.
    """

    def __init__(self, limits: dict[int, int] | None = None) -> None:
        self._sdus = Demuxer()
        self._streams: dict[tuple[int, int], StreamReassembler] = {}
        self._limits = limits or {}

    def feed(self, data: bytes) -> Iterator[tuple[SDU, bytes]]:
        """Yield (the SDU that completed it, message bytes) for every message the new bytes complete."""
        for sdu in self._sdus.feed(data):
            key = (sdu.protocol, sdu.mode)
            stream = self._streams.get(key)
            if stream is None:
                stream = StreamReassembler(f"mux:{sdu.protocol}", self._limits.get(sdu.protocol))
                self._streams[key] = stream
            for message in stream.feed(sdu.payload):
                yield sdu, message
