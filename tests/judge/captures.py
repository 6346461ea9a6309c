"""Captures for the judge's tests: made by the project's own reference peer over real loopback sockets
(each connection's transcript pcap), then, for the faults a peer cannot make on purpose, rewritten with
dpkt (timestamps moved, packets dropped, duplicated, swapped or split, FIN turned into RST)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dpkt
from peer.connection_helpers import until  # the tests' one bounded poll (tests/peer/)

from conformance.peer import keep_alive
from conformance.peer.node import PeerConfig, Server, connect, serve
from conformance.wire.mux import HEADER_SIZE

KEEP_ALIVE_PROTOCOL = 8
FIN, SYN, RST, PUSH, ACK = dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_RST, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Packet:
    """One TCP/IPv4 packet of a capture, as fields that a test can change and write back."""

    time: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes

    def frame(self) -> bytes:
        tcp = dpkt.tcp.TCP(
            sport=self.sport,
            dport=self.dport,
            seq=self.seq,
            ack=self.ack,
            flags=self.flags,
            win=65535,
            data=self.payload,
        )
        ip = dpkt.ip.IP(
            src=ipaddress.IPv4Address(self.src).packed,
            dst=ipaddress.IPv4Address(self.dst).packed,
            p=dpkt.ip.IP_PROTO_TCP,
            ttl=64,
            data=tcp,
        )
        ip.len = len(ip)
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))

    def sdu_protocols(self) -> list[int]:
        """Mini-protocol numbers of the SDU headers in this payload (the peer writes whole SDUs)."""
        out, pos = [], 0
        while pos + HEADER_SIZE <= len(self.payload):
            word = int.from_bytes(self.payload[pos + 4 : pos + 6], "big")
            out.append(word & 0x7FFF)
            pos += HEADER_SIZE + int.from_bytes(self.payload[pos + 6 : pos + 8], "big")
        return out


def read(path: Path) -> list[Packet]:
    with path.open("rb") as handle:
        out = []
        for ts, frame in dpkt.pcap.Reader(handle):
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = ip.data
            out.append(
                Packet(
                    float(ts),
                    str(ipaddress.IPv4Address(ip.src)),
                    tcp.sport,
                    str(ipaddress.IPv4Address(ip.dst)),
                    tcp.dport,
                    tcp.seq,
                    tcp.ack,
                    tcp.flags,
                    bytes(tcp.data),
                )
            )
        return out


def write(path: Path, packets: Iterable[Packet], *, pcapng: bool = False) -> Path:
    with path.open("wb") as handle:
        writer = dpkt.pcapng.Writer(handle) if pcapng else dpkt.pcap.Writer(handle)
        for packet in packets:
            writer.writepkt(packet.frame(), ts=packet.time)
    return path


def shifted(packets: list[Packet], start: int, seconds: float) -> list[Packet]:
    """Every packet from index `start` on, `seconds` later."""
    return packets[:start] + [replace(p, time=p.time + seconds) for p in packets[start:]]


def first_index(packets: list[Packet], predicate: Callable[[Packet], bool]) -> int:
    return next(i for i, p in enumerate(packets) if predicate(p))


async def peer_pair(
    directory: Path,
    served: dict[tuple[str, str], Any],
    following: dict[tuple[str, str], Any],
    done: Callable[[Any], bool],
    *,
    server: dict[str, Any] | None = None,
    **client: Any,
) -> tuple[Path, Path]:
    """A responder and an initiator of the reference peer on 127.0.0.1, both writing transcripts; the
    initiator closes once `done(connection)` holds. Returns (initiator's pcap, responder's pcap)."""
    responder: Server = await serve(
        "127.0.0.1", 0, PeerConfig(behaviours=served, transcript_dir=directory / "responder", **(server or {}))
    )
    connection = await connect(
        "127.0.0.1",
        responder.port,
        PeerConfig(behaviours=following, transcript_dir=directory / "initiator", **client),
    )
    assert connection.negotiated is not None, connection.transcript
    assert await until(lambda: done(connection), timeout=20), connection.finished
    await asyncio.sleep(0.05)
    await connection.close()
    await responder.close()
    theirs = responder.connections[0]
    for side in (connection, theirs):
        assert side.violations == [] and side.own_violations == [], side.violations
    return next((directory / "initiator").glob("*.pcap")), next((directory / "responder").glob("*.pcap"))


def keep_alive_capture(directory: Path, rounds: int = 3) -> tuple[Path, Path]:
    """Keep-alive alone, initiator-only: `rounds` requests and answers, then the initiator closes."""
    return run(
        peer_pair(
            directory,
            {("keep-alive", "responder"): keep_alive.server()},
            {("keep-alive", "initiator"): keep_alive.client(0.01, rounds=rounds)},
            lambda c: ("keep-alive", "initiator") in c.finished,
            initiator_only=True,
        )
    )
