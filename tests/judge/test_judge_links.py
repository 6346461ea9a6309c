"""The same connection captured on other links (raw IP, Linux cooked, loopback) and over IPv6 is judged
the same; and a Session can start in a named state (what the judge does for a conversation joined
mid-way)."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import dpkt
import pytest

from conformance.judge import judge_capture
from conformance.protocol import Session
from conformance.wire import Message, encode

from .captures import Packet, read

pytestmark = pytest.mark.timeout(60)


def _tcp(packet: Packet) -> dpkt.tcp.TCP:
    return dpkt.tcp.TCP(
        sport=packet.sport, dport=packet.dport, seq=packet.seq, ack=packet.ack, flags=packet.flags, data=packet.payload
    )


def _ipv4(packet: Packet) -> bytes:
    ip = dpkt.ip.IP(
        src=ipaddress.IPv4Address(packet.src).packed,
        dst=ipaddress.IPv4Address(packet.dst).packed,
        p=dpkt.ip.IP_PROTO_TCP,
        data=_tcp(packet),
    )
    ip.len = len(ip)
    return bytes(ip)


def _ipv6(packet: Packet) -> bytes:
    def address(text: str) -> bytes:
        return ipaddress.IPv6Address("::ffff:" + text).packed

    tcp = bytes(_tcp(packet))
    header = struct.pack(
        ">IHBB16s16s", 6 << 28, len(tcp), dpkt.ip.IP_PROTO_TCP, 64, address(packet.src), address(packet.dst)
    )
    return header + tcp


LINKS = {
    "raw IPv4": (101, _ipv4),
    "Linux cooked": (113, lambda p: struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800) + _ipv4(p)),
    "BSD loopback": (0, lambda p: struct.pack("<I", 2) + _ipv4(p)),
    "IPv6 over Ethernet": (1, lambda p: b"\x04" * 6 + b"\x02" * 6 + b"\x86\xdd" + _ipv6(p)),
}


@pytest.mark.parametrize("link", list(LINKS))
def test_other_links_and_ipv6_give_the_same_judgement(
    keep_alive_pcaps: tuple[Path, Path], tmp_path: Path, link: str
) -> None:
    linktype, frame = LINKS[link]
    path = tmp_path / "link.pcap"
    with path.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=linktype)
        for packet in read(keep_alive_pcaps[0]):
            writer.writepkt(frame(packet), ts=packet.time)
    report = judge_capture(path).connections[0]
    original = judge_capture(keep_alive_pcaps[0]).connections[0]
    assert report.findings == [] and report.messages == original.messages
    assert report.roles_from == "SYN" and report.version == 16
    if link.startswith("IPv6"):
        assert report.endpoints[0].startswith("[::ffff:7f00:1]:")


def test_a_session_started_in_a_named_state_takes_that_states_messages() -> None:
    session = Session("keep-alive", 16, on_violation="record", state="StServer")
    assert session.state == "StServer" and session.agency == "responder"
    reply = encode(Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 5}))
    assert session.observe("responder", reply) == "StClient"  # the table takes it from StServer
    # the rule beyond the table cannot know the cookie asked before it joined: why the judge keeps only
    # the table's checks for instances joined mid-way
    assert [(type(v).__name__, v.requirement) for v in session.violations] == [("RuleViolation", "KA-COOKIE-01")]
    with pytest.raises(ValueError, match="no state"):
        Session("keep-alive", state="StNowhere")
