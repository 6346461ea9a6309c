"""The socket side of the mux: received bytes cut into SDUs (for the mux checker and the transcript) with
struct, not construct, since it runs on every read; the header layout is `conformance.wire.mux`'s."""

from __future__ import annotations

import struct

from conformance.wire.mux import HEADER_SIZE, SDU, MuxError

_HEADER = struct.Struct(">IHH")


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
