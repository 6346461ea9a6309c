"""The judge times a responder's first state as the node does: its responders start on demand (from their
first inbound SDU; keep-alive's from the first inbound SDU of any, StartOnDemandAny), not at the handshake.
Captures: one chain-sync request then one keep-alive round, moved in time with dpkt."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.judge import ConnectionReport, judge_capture
from conformance.peer.defaults import default_behaviours
from conformance.peer.node import PeerConfig, connect, serve
from conformance.wire.message import Message

from .captures import Packet, first_index, read, run, shifted, until, write

pytestmark = pytest.mark.timeout(60)
CHAIN_SYNC, KEEP_ALIVE = 2, 8


async def _chain_sync_then_keep_alive(directory: Path) -> Path:
    """The responder's pcap of: handshake, MsgFindIntersect and its answer, one keep-alive round, close."""
    responders = {k: f for k, f in default_behaviours("node-to-node", "responder").items() if k[1] == "responder"}
    server = await serve("127.0.0.1", 0, PeerConfig(behaviours=responders, transcript_dir=directory))
    client = await connect("127.0.0.1", server.port, PeerConfig(behaviours={}, initiator_only=True))
    await client.send("chain-sync", Message("chain-sync", "MsgFindIntersect", {"points": []}))
    assert (await client.receive("chain-sync", 5)).name == "MsgIntersectNotFound"
    await client.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": 5}))
    assert (await client.receive("keep-alive", 5)).name == "MsgKeepAliveResponse"
    await client.close()
    assert await until(lambda: bool(server.connections) and server.connections[0].closed.done())
    await server.close()
    return next(directory.glob("*.pcap"))


@pytest.fixture(scope="module")
def packets(tmp_path_factory: pytest.TempPathFactory) -> list[Packet]:
    return read(run(_chain_sync_then_keep_alive(tmp_path_factory.mktemp("on-demand"))))


def _first_request(packets: list[Packet], protocol: int) -> int:
    initiator = packets[0].sport
    return first_index(packets, lambda p: p.sport == initiator and protocol in p.sdu_protocols())


def _judged(packets: list[Packet], path: Path) -> ConnectionReport:
    result = judge_capture(write(path, packets))
    assert len(result.connections) == 1
    return result.connections[0]


def _findings(report: ConnectionReport) -> list[tuple[str, str, str, str | None]]:
    return [(f.requirement, f.side, f.protocol, f.state) for f in report.findings]


def test_late_first_messages_after_the_handshake_are_no_violation(packets: list[Packet], tmp_path: Path) -> None:
    """Chain-sync's first message 4000 s after the handshake (past StIdle's 3373 s, had its clock run),
    the first MsgKeepAlive 95 s after that (past handshake + 97 s): the node's responders had not started."""
    late = shifted(packets, _first_request(packets, CHAIN_SYNC), 4000.0)
    late = shifted(late, _first_request(late, KEEP_ALIVE), 95.0)
    report = _judged(late, tmp_path / "late.pcap")
    assert report.findings == [], _findings(report)
    assert report.messages["keep-alive"] == 2 and report.messages["chain-sync"] == 2


def test_keep_alive_counts_from_the_first_data_of_any_mini_protocol(packets: list[Packet], tmp_path: Path) -> None:
    """The first MsgKeepAlive 98 s after the first chain-sync data: StClient's 97 s had begun then."""
    late = shifted(packets, _first_request(packets, KEEP_ALIVE), 98.0)
    report = _judged(late, tmp_path / "late-keep-alive.pcap")
    assert _findings(report) == [("KA-TIME-01", "initiator", "keep-alive", "StClient")]
