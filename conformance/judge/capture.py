"""Packets out of a pcap or pcapng file, one at a time, as TCP segments.

dpkt reads the file: it is pure Python (no tshark or libpcap to install), maintained, reads both pcap
and pcapng, and the reference peer already uses it to write its transcripts, so the judge adds no
dependency. The link, IP and TCP headers are then read with struct (a fixed layout, read on every
packet: dpkt's per-layer objects cost more than the rest of the judge). Packets are streamed from the
file, never loaded whole, so memory does not grow with the capture. Anything that is not TCP over IPv4
or IPv6 is skipped (counted in `CaptureReader.skipped`).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import dpkt

_PCAP_MAGICS = {0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1}
_PCAPNG_MAGIC = 0x0A0D0D0A
_TCP = 6
_ETHER_IP4, _ETHER_IP6, _ETHER_VLAN, _ETHER_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8

# link types (https://www.tcpdump.org/linktypes.html)
DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_RAW_OPENBSD, DLT_LOOP, DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2 = (
    0,
    1,
    101,
    14,
    108,
    113,
    228,
    229,
    276,
)
_RAW_LINKS = {DLT_RAW, DLT_RAW_OPENBSD, 12, DLT_IPV4, DLT_IPV6}
_IP_HEADER = struct.Struct(">BBHHHBBH4s4s")
_TCP_HEADER = struct.Struct(">HHIIBB")

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


class CaptureError(Exception):
    """The file is missing or is not a pcap or pcapng capture the judge can read."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment: capture time (seconds), both endpoints, sequence number, flags, payload and the
    acknowledgement number (meaningful when the ACK flag is set)."""

    time: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    flags: int
    payload: bytes
    ack: int = 0

    @property
    def source(self) -> tuple[str, int]:
        return (self.src, self.sport)

    @property
    def destination(self) -> tuple[str, int]:
        return (self.dst, self.dport)


class CaptureReader:
    """Iterates the TCP segments of a capture in file order; `size` is the file's length in bytes."""

    def __init__(self, path: Path) -> None:
        try:
            self._file: IO[bytes] = path.open("rb")
        except OSError as error:
            raise CaptureError(f"cannot open {path}: {error.strerror or error}") from None
        self.path = path
        self.size = path.stat().st_size
        self.skipped = 0
        self.packets = 0
        self.damaged: str | None = None
        """Why reading stopped before the end of the file, if it did."""
        head = self._file.read(4)
        self._file.seek(0)
        if len(head) < 4:
            self._file.close()
            raise CaptureError(f"{path} is not a pcap or pcapng capture (empty or too short)")
        magic = int.from_bytes(head, "big")
        try:
            if magic in _PCAP_MAGICS:
                self._reader: dpkt.pcap.Reader | dpkt.pcapng.Reader = dpkt.pcap.Reader(self._file)
                self.format = "pcap"
            elif magic == _PCAPNG_MAGIC:
                self._reader = dpkt.pcapng.Reader(self._file)
                self.format = "pcapng"
            else:
                raise CaptureError(f"{path} is not a pcap or pcapng capture (magic {head.hex()})")
        except (ValueError, dpkt.Error, struct.error) as error:
            self._file.close()
            raise CaptureError(f"{path}: unreadable capture header: {error}") from None
        self.linktype = self._reader.datalink()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Segment]:
        link = self.linktype
        try:
            for ts, frame in self._reader:
                self.packets += 1
                segment = _segment(float(ts), link, frame)
                if segment is None:
                    self.skipped += 1
                else:
                    yield segment
        except (ValueError, dpkt.Error, struct.error) as error:
            # a file cut short (a capture stopped mid-write) or damaged: what came before is still judged
            self.damaged = f"the file ends in a cut or damaged record after packet {self.packets} ({error})"


def _segment(ts: float, link: int, frame: bytes) -> Segment | None:
    """The TCP segment in one link-layer frame, or None for anything else (ARP, UDP, fragments...)."""
    ip = _network_layer(link, frame)
    if ip is None:
        return None
    version = ip[0] >> 4 if ip else 0
    if version == 4:
        if len(ip) < 20:
            return None
        first, _tos, total, _ident, fragment, _ttl, proto, _sum, src, dst = _IP_HEADER.unpack_from(ip)
        if proto != _TCP or fragment & 0x1FFF or fragment & 0x2000:  # fragments are not reassembled
            return None
        start = (first & 0x0F) * 4
        end = min(len(ip), total) if total else len(ip)
        tcp = ip[start:end]
        source, destination = _ipv4(src), _ipv4(dst)
    elif version == 6:
        if len(ip) < 40 or ip[6] != _TCP:  # extension headers are not followed
            return None
        length = int.from_bytes(ip[4:6], "big")
        tcp = ip[40 : 40 + length]
        source, destination = _ipv6(ip[8:24]), _ipv6(ip[24:40])
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, offset, flags = _TCP_HEADER.unpack_from(tcp)
    return Segment(ts, source, sport, destination, dport, seq, flags, bytes(tcp[(offset >> 4) * 4 :]), ack)


def _network_layer(link: int, frame: bytes) -> bytes | None:
    if link == DLT_EN10MB:
        if len(frame) < 14:
            return None
        kind, pos = int.from_bytes(frame[12:14], "big"), 14
        while kind in (_ETHER_VLAN, _ETHER_QINQ) and len(frame) >= pos + 4:
            kind, pos = int.from_bytes(frame[pos + 2 : pos + 4], "big"), pos + 4
        return frame[pos:] if kind in (_ETHER_IP4, _ETHER_IP6) else None
    if link in (DLT_NULL, DLT_LOOP):
        return frame[4:]
    if link in _RAW_LINKS:
        return frame
    if link == DLT_LINUX_SLL:
        return frame[16:] if int.from_bytes(frame[14:16], "big") in (_ETHER_IP4, _ETHER_IP6) else None
    if link == DLT_LINUX_SLL2:
        return frame[20:] if int.from_bytes(frame[0:2], "big") in (_ETHER_IP4, _ETHER_IP6) else None
    return None


def _ipv4(packed: bytes) -> str:
    return ".".join(str(b) for b in packed)


def _ipv6(packed: bytes) -> str:
    return f"[{ipaddress.IPv6Address(packed)}]"
