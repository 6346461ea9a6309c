"""Faults in the bytes on the socket (the fault zoo's `egress`): the SDUs we write after the handshake,
changed one at a time. The reference peer's egress writes whole SDUs, so a write is cut at its headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from conformance.peer.mux_io import header
from conformance.wire.mux import decode_sdu

from .model import Egress


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
        while at < len(data):
            start = at
            sdu, at = decode_sdu(data, at)  # our own writes: whole, well-formed SDUs
            number, payload = sdu.protocol, sdu.payload
            self._counts[number] = self._counts.get(number, 0) + 1
            fault = next((f for n, f in self._faults if n == number and f.nth == self._counts[number]), None)
            if fault is None:
                out += data[start:at]
                continue
            stamp, mode, length = sdu.timestamp, sdu.mode, len(payload)
            if fault.kind == "mode-bit":
                out += header(stamp, number, 1 - mode, length) + payload
            elif fault.kind == "protocol-number":
                out += header(stamp, fault.value, mode, length) + payload
            elif fault.kind == "zero-length":
                out += header(stamp, number, mode, 0) + header(stamp, number, mode, length) + payload
            elif fault.kind == "length":
                out += header(stamp, number, mode, fault.value) + payload  # a header that lies about its length
            elif fault.kind in ("cut-and-close", "cut-and-wait"):
                out += header(stamp, number, mode, length) + payload[: fault.value]
                self._silent = True
                return bytes(out), fault.kind == "cut-and-close"
            else:  # the loader admits no other kind
                raise ValueError(f"unknown egress fault {fault.kind!r}")
        return bytes(out), False
