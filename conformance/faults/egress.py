"""Faults in the bytes on the socket (the fault zoo's `egress`): the SDUs we write after the handshake,
changed one at a time. The reference peer's egress writes whole SDUs, so a write is cut at its headers.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from .model import Egress

HEADER = struct.Struct(">IHH")
MODE_BIT = 0x8000


class EgressTamper:
    """Called by the connection with each write after the handshake; returns (bytes, close after)."""

    def __init__(self, faults: Sequence[Egress], numbers: Mapping[str, int]) -> None:
        self._faults = [(numbers[f.protocol], f) for f in faults]
        self._counts: dict[int, int] = {}
        self._silent = False  # after a cut-and-wait: nothing more is written (the cut SDU never ends)

    def __call__(self, data: bytes) -> tuple[bytes, bool]:
        if self._silent:
            return b"", False
        out = bytearray()
        at = 0
        while at + HEADER.size <= len(data):
            stamp, word, length = HEADER.unpack_from(data, at)
            sdu = data[at : at + HEADER.size + length]
            at += HEADER.size + length
            number = word & ~MODE_BIT
            self._counts[number] = self._counts.get(number, 0) + 1
            fault = next((f for n, f in self._faults if n == number and f.nth == self._counts[number]), None)
            if fault is None:
                out += sdu
                continue
            payload = sdu[HEADER.size :]
            if fault.kind == "mode-bit":
                out += HEADER.pack(stamp, word ^ MODE_BIT, length) + payload
            elif fault.kind == "protocol-number":
                out += HEADER.pack(stamp, (word & MODE_BIT) | fault.value, length) + payload
            elif fault.kind == "zero-length":
                out += HEADER.pack(stamp, word, 0) + HEADER.pack(stamp, word, length) + payload
            elif fault.kind == "length":
                out += HEADER.pack(stamp, word, fault.value) + payload  # a header that lies about its length
            elif fault.kind in ("cut-and-close", "cut-and-wait"):
                out += HEADER.pack(stamp, word, length) + payload[: fault.value]
                self._silent = True
                return bytes(out), fault.kind == "cut-and-close"
            else:  # the loader admits no other kind
                raise ValueError(f"unknown egress fault {fault.kind!r}")
        out += data[at:]
        return bytes(out), False
