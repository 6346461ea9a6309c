"""What a connection saw and did: JSON lines (SDUs, messages, events) and a pcap of the byte stream.

The JSON lines say, for every SDU and every whole message in both directions, when, which protocol, in
which protocol state, the bytes as hex and the decoded fields. The pcap holds the exact bytes each side
wrote, wrapped in synthesized Ethernet/IPv4/TCP headers with consistent sequence and acknowledgement
numbers (SYN, SYN-ACK, ACK first, FIN at the end), so Wireshark follows the connection as one TCP stream;
dpkt writes it (a maintained pcap writer instead of hand-made framing).
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import dpkt

from conformance.wire import Message

SENT = "sent"
RECEIVED = "received"
PCAP_CHUNK = 16_000
"""Bytes per synthesized TCP segment (an IPv4 packet holds at most 65,535 bytes)."""


def _jsonable(value: Any) -> Any:
    """Decoded fields as JSON: bytes as hex, mappings and sequences recursively, anything else as text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass
class TranscriptEntry:
    """One SDU, message or event of a connection, in one direction."""

    time: float
    direction: str  # "sent" or "received" (events: "local")
    kind: str  # "sdu", "message" or "event"
    protocol: str
    data: bytes = b""
    mode: int | None = None
    state: str | None = None
    name: str | None = None
    fields: Any = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hex(self) -> str:
        return self.data.hex()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": round(self.time, 6),
            "direction": self.direction,
            "kind": self.kind,
            "protocol": self.protocol,
        }
        for key in ("mode", "state", "name", "detail"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        if self.kind != "event" or self.data:
            out["hex"] = self.hex
        if self.fields is not None:
            out["fields"] = _jsonable(self.fields)
        out.update(_jsonable(self.extra))
        return out


def message_entry(
    direction: str, protocol: str, message: Message | bytes, *, mode: int, state: str | None
) -> TranscriptEntry:
    """A transcript entry for one whole message (decoded, or bytes that did not decode)."""
    if isinstance(message, Message):
        return TranscriptEntry(
            time.time(),
            direction,
            "message",
            protocol,
            bytes(message.raw or b""),
            mode,
            state,
            message.name,
            message.fields,
        )
    return TranscriptEntry(time.time(), direction, "message", protocol, bytes(message), mode, state)


class PcapStream:
    """One TCP connection as a pcap: `initiator` and `responder` are (ip, port) of each end."""

    def __init__(self, out: IO[bytes], initiator: tuple[str, int], responder: tuple[str, int]) -> None:
        self._writer = dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_EN10MB)
        self._ends = {"initiator": initiator, "responder": responder}
        self._seq = {"initiator": 1000, "responder": 5000}
        self._packet("initiator", dpkt.tcp.TH_SYN, b"")
        self._seq["initiator"] += 1
        self._packet("responder", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, b"")
        self._seq["responder"] += 1
        self._packet("initiator", dpkt.tcp.TH_ACK, b"")
        self._closed = False

    def write(self, sender: str, data: bytes) -> None:
        """Bytes `sender` ("initiator" or "responder") wrote on the connection."""
        for start in range(0, len(data), PCAP_CHUNK):
            chunk = data[start : start + PCAP_CHUNK]
            self._packet(sender, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, chunk)
            self._seq[sender] += len(chunk)

    def close(self, sender: str) -> None:
        """`sender` closed the connection: FIN from it, FIN back, last ACK."""
        if self._closed:
            return
        self._closed = True
        other = "responder" if sender == "initiator" else "initiator"
        for side in (sender, other):
            self._packet(side, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, b"")
            self._seq[side] += 1
        self._packet(sender, dpkt.tcp.TH_ACK, b"")

    def _packet(self, sender: str, flags: int, payload: bytes) -> None:
        other = "responder" if sender == "initiator" else "initiator"
        (src, sport), (dst, dport) = self._ends[sender], self._ends[other]
        tcp = dpkt.tcp.TCP(
            sport=sport,
            dport=dport,
            seq=self._seq[sender],
            ack=self._seq[other] if flags & dpkt.tcp.TH_ACK else 0,
            flags=flags,
            win=65535,
            data=payload,
        )
        ip = dpkt.ip.IP(
            src=ipaddress.IPv4Address(src).packed,
            dst=ipaddress.IPv4Address(dst).packed,
            p=dpkt.ip.IP_PROTO_TCP,
            ttl=64,
            data=tcp,
        )
        ip.len = len(ip)  # dpkt fills the checksums when the packet is serialized
        eth = dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x00\x01" if sender == "initiator" else b"\x02\x00\x00\x00\x00\x02",
            dst=b"\x02\x00\x00\x00\x00\x02" if sender == "initiator" else b"\x02\x00\x00\x00\x00\x01",
            type=dpkt.ethernet.ETH_TYPE_IP,
            data=ip,
        )
        self._writer.writepkt(bytes(eth), ts=time.time())


def _ipv4(host: str, fallback: str) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        return fallback


class TranscriptFiles:
    """The JSON lines and the pcap of one connection, under `directory`, named by `stem`."""

    def __init__(
        self, directory: Path, stem: str, *, role: str, local: tuple[str, int], remote: tuple[str, int]
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = directory / f"{stem}.jsonl"
        self.pcap_path = directory / f"{stem}.pcap"
        self._jsonl = self.jsonl_path.open("w", encoding="utf-8")
        self._pcap_file = self.pcap_path.open("wb")
        local = (_ipv4(local[0], "10.0.0.1" if role == "initiator" else "10.0.0.2"), local[1] or 49152)
        remote = (_ipv4(remote[0], "10.0.0.2" if role == "initiator" else "10.0.0.1"), remote[1] or 3001)
        if local == remote:  # a Unix socket: two made-up ends
            local, remote = ("10.0.0.1", 49152), ("10.0.0.2", 3001)
            if role == "responder":
                local, remote = remote, local
        self.role = role
        ends = (local, remote) if role == "initiator" else (remote, local)
        self._pcap = PcapStream(self._pcap_file, ends[0], ends[1])

    def entry(self, entry: TranscriptEntry) -> None:
        self._jsonl.write(json.dumps(entry.to_json(), separators=(",", ":")) + "\n")

    def wire(self, direction: str, data: bytes) -> None:
        """Bytes written (`sent`) or read (`received`) on the socket."""
        other = "responder" if self.role == "initiator" else "initiator"
        self._pcap.write(self.role if direction == SENT else other, data)

    def close(self, closed_by_us: bool) -> None:
        other = "responder" if self.role == "initiator" else "initiator"
        self._pcap.close(self.role if closed_by_us else other)
        self._jsonl.close()
        self._pcap_file.close()
