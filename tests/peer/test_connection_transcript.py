"""Transcripts read back: the JSON lines decode to the messages exchanged, and the pcap (via dpkt) holds
one TCP stream whose bytes are exactly what each side wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest

from conformance import wire
from conformance.peer.node import PeerConfig, connect
from conformance.wire.mux import Demuxer

from .connection_helpers import fast_keep_alive, node, run, server_side, until

pytestmark = pytest.mark.timeout(60)


def exchange(tmp_path: Path) -> tuple[Path, Path]:
    """A keep-alive exchange with transcripts on both ends; the folders of the client and the server."""
    client_dir, server_dir = tmp_path / "client", tmp_path / "server"

    async def main() -> None:
        async with await node(transcript_dir=server_dir) as server:
            config = PeerConfig(behaviours=fast_keep_alive(rounds=2), transcript_dir=client_dir, initiator_only=True)
            client = await connect("127.0.0.1", server.port, config)
            assert await until(lambda: ("keep-alive", "initiator") in client.finished)
            await client.close()
            assert (await (await server_side(server)).wait_closed(5)) is not None

    run(main())
    return client_dir, server_dir


def packets(path: Path) -> list[dpkt.tcp.TCP]:
    with path.open("rb") as handle:
        return [dpkt.ethernet.Ethernet(raw).data.data for _, raw in dpkt.pcap.Reader(handle)]


def streams(tcps: list[dpkt.tcp.TCP]) -> dict[int, bytes]:
    """The payload bytes per source port, checking that sequence numbers follow on without gaps."""
    out: dict[int, bytearray] = {}
    expected: dict[int, int] = {}
    for tcp in tcps:
        if tcp.sport in expected and tcp.data:
            assert tcp.seq == expected[tcp.sport]
        expected[tcp.sport] = tcp.seq + len(tcp.data) + (1 if tcp.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)
        out.setdefault(tcp.sport, bytearray()).extend(tcp.data)
    return {port: bytes(data) for port, data in out.items()}


def test_json_lines_hold_every_sdu_and_message_decodable(tmp_path: Path) -> None:
    client_dir, _ = exchange(tmp_path)
    (path,) = client_dir.glob("initiator-*.jsonl")
    lines = [json.loads(line) for line in path.open(encoding="utf-8")]
    kinds = {line["kind"] for line in lines}
    assert kinds == {"sdu", "message", "event"}
    messages = [line for line in lines if line["kind"] == "message"]
    assert [m["name"] for m in messages if m["protocol"] == "keep-alive"] == [
        "MsgKeepAlive",
        "MsgKeepAliveResponse",
        "MsgKeepAlive",
        "MsgKeepAliveResponse",
        "MsgDone",
    ]
    for line in messages:
        assert {"time", "direction", "protocol", "hex", "fields"} <= set(line)
        decoded = wire.decode(line["protocol"], bytes.fromhex(line["hex"]), state=line.get("state"))
        assert decoded.name == line["name"]
    received = [m for m in messages if m["direction"] == "received" and m["protocol"] == "keep-alive"]
    assert all(m["state"] == "StServer" for m in received)
    assert any(line["kind"] == "event" and line["protocol"] == "negotiated" for line in lines)


def test_pcap_is_one_tcp_stream_with_the_bytes_each_side_wrote(tmp_path: Path) -> None:
    client_dir, server_dir = exchange(tmp_path)
    client_pcap = next(client_dir.glob("*.pcap"))
    server_pcap = next(server_dir.glob("*.pcap"))
    tcps = packets(client_pcap)
    assert [t.flags & 0x3F for t in tcps[:3]] == [dpkt.tcp.TH_SYN, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, dpkt.tcp.TH_ACK]
    assert any(t.flags & dpkt.tcp.TH_FIN for t in tcps[-3:])
    ends = {(t.sport, t.dport) for t in tcps}
    assert len(ends) == 2  # one connection, both directions
    seen_by_client = streams(tcps)
    seen_by_server = streams(packets(server_pcap))
    assert sorted(seen_by_client.values()) == sorted(seen_by_server.values())  # what one wrote, the other read
    client_port = tcps[0].sport
    sdus = Demuxer().feed(seen_by_client[client_port])
    lines = [json.loads(line) for line in next(client_dir.glob("*.jsonl")).open()]
    sent = [bytes.fromhex(line["hex"]) for line in lines if line["kind"] == "sdu" and line["direction"] == "sent"]
    assert [s.payload for s in sdus] == sent
    assert sdus[0].protocol == 0 and sdus[0].mode == 0


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_follows_the_stream(tmp_path: Path) -> None:
    client_dir, _ = exchange(tmp_path)
    pcap = next(client_dir.glob("*.pcap"))
    shown = subprocess.run(
        ["tshark", "-r", str(pcap), "-q", "-z", "follow,tcp,raw,0"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and "Follow: tcp,raw" in shown.stdout
