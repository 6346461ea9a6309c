"""The socket side of the mux: received bytes cut into SDUs (for the mux checker and the transcript) with
struct, not construct, since it runs on every read; the header layout is `conformance.wire.mux`'s."""

from __future__ import annotations

import struct

from conformance.wire.mux import HEADER_SIZE, SDU, MuxError

_HEADER = struct.Struct(">IHH")
SDU_TIMEOUT = 30.0
"""Seconds the node allows to read the rest of an SDU once its first bytes arrived (`sduTimeout`)."""
SDU_HANDSHAKE_TIMEOUT = 10.0
"""The same during the handshake (`sduHandshakeTimeout`)."""


class SduTimeout(Exception):
    """The remote started an SDU and did not finish it in time: the node's bearer gives up and closes
    (no catalogue rule names it; it is the connection's close error)."""

    def __init__(self, limit: float, pending: int) -> None:
        super().__init__(f"an SDU unfinished after {limit:g} s ({pending} bytes of it received)")
        self.limit = limit
        self.pending = pending


def header(timestamp: int, protocol: int, mode: int, length: int) -> bytes:
    """An SDU header: timestamp (lower 32 bits), mode bit and mini-protocol number, payload length."""
    return _HEADER.pack(timestamp & 0xFFFFFFFF, protocol | mode << 15, length)


class SduReader:
    """Keeps a partial SDU between reads; `feed` returns every SDU now complete, each exactly once.

    A zero-length SDU raises MuxError (MUX-SDU-01) at once, as the node's decoder does.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0  # bearer offset of the buffer's first byte

    @property
    def pending(self) -> int:
        """Bytes of an incomplete SDU waiting for the rest."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[SDU]:
        buffer = self._buffer
        buffer += data
        sdus: list[SDU] = []
        pos = 0
        size = len(buffer)
        try:
            while size - pos >= HEADER_SIZE:
                timestamp, word, length = _HEADER.unpack_from(buffer, pos)
                if length == 0:
                    raise MuxError(
                        "a payload length above zero (short SDU)", offset=self._offset + pos + 6, protocol="mux"
                    )
                end = pos + HEADER_SIZE + length
                if end > size:
                    break
                sdus.append(SDU(timestamp, word >> 15, word & 0x7FFF, bytes(buffer[pos + HEADER_SIZE : end])))
                pos = end
        finally:
            del buffer[:pos]
            self._offset += pos
        return sdus
