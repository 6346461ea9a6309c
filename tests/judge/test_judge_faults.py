"""Faulty captures: each made by the reference peer doing what a faulty peer does, or by rewriting a
clean capture with dpkt. The judge must find exactly the injected violation, with its requirement id
and the side at fault, and nothing else."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from conformance.judge import ConnectionReport, judge_capture
from conformance.peer import tx_submission
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.mux_io import header
from conformance.peer.node import PeerConfig, connect, serve
from conformance.wire.message import Message

from .captures import ACK, FIN, RST, Packet, first_index, peer_pair, read, run, shifted, until, write

pytestmark = pytest.mark.timeout(60)
KEEP_ALIVE = 8


def only(path: Path) -> ConnectionReport:
    result = judge_capture(path)
    assert len(result.connections) == 1
    return result.connections[0]


def findings(report: ConnectionReport) -> list[tuple[str, str, str, str | None]]:
    return [(f.requirement, f.side, f.protocol, f.state) for f in report.findings]


# -- time limits -------------------------------------------------------------------------------------


def test_a_reply_later_than_the_state_limit_is_the_responders_fault(
    keep_alive_pcaps: tuple[Path, Path], tmp_path: Path
) -> None:
    packets = read(keep_alive_pcaps[1])
    responder_port = packets[0].dport
    reply = first_index(packets, lambda p: p.sport == responder_port and KEEP_ALIVE in p.sdu_protocols())
    late = write(tmp_path / "late.pcap", shifted(packets, reply, 61.0))
    report = only(late)
    assert findings(report) == [("KA-TIME-01", "responder", "keep-alive", "StServer")]
    finding = report.findings[0]
    assert (
        finding.severity == "MUST" and finding.hex == packets[reply].payload[8:].hex()
    )  # the message, without its SDU header
    assert "60 s" in finding.message and 61.0 < finding.time < 62.0
    assert report.messages["keep-alive"] == 7  # the late reply was judged, and so was everything after it


def test_a_silent_responder_then_a_reset_names_who_held_agency_too_long(
    keep_alive_pcaps: tuple[Path, Path], tmp_path: Path
) -> None:
    packets = read(keep_alive_pcaps[0])
    initiator_port = packets[0].sport
    request = first_index(packets, lambda p: p.sport == initiator_port and KEEP_ALIVE in p.sdu_protocols())
    asked = packets[request]
    reset = replace(asked, time=asked.time + 61.4, seq=asked.seq + len(asked.payload), flags=RST | ACK, payload=b"")
    report = only(write(tmp_path / "reset.pcap", [*packets[: request + 1], reset]))
    assert findings(report) == [("KA-TIME-01", "responder", "keep-alive", "StServer")]
    ending = report.ending
    assert ending is not None and (ending.kind, ending.side) == ("RST", "initiator")
    assert ending.after_last_message is not None and abs(ending.after_last_message - 61.4) < 0.01
    assert ending.reason == "the responder held agency in keep-alive StServer for 61.4 s; the node's limit is 60 s"


def test_a_reset_after_a_clean_exchange_is_no_violation(keep_alive_pcaps: tuple[Path, Path], tmp_path: Path) -> None:
    packets = read(keep_alive_pcaps[1])
    fin = first_index(packets, lambda p: bool(p.flags & FIN))
    reset = replace(packets[fin], flags=RST | ACK)
    report = only(write(tmp_path / "rst.pcap", [*packets[:fin], reset]))
    assert report.findings == []
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("RST", "initiator")
    assert report.ending.reason.startswith("no protocol fault")


# -- faults the reference peer makes on purpose ---------------------------------------------------------


async def _scripted_fault(directory: Path, fault: str) -> Path:
    """A responder that runs no keep-alive server, and an initiator that breaks one rule."""
    server = await serve("127.0.0.1", 0, PeerConfig(behaviours={}, transcript_dir=directory))
    connection = await connect("127.0.0.1", server.port, PeerConfig(behaviours={}, initiator_only=True))
    assert connection.negotiated is not None
    request = Message("keep-alive", "MsgKeepAlive", {"cookie": 7})
    if fault == "agency":
        await connection.send("keep-alive", request)
        await connection.send("keep-alive", request, check=False)  # the responder has agency in StServer
        assert await until(lambda: connection.closed.done())
    elif fault == "unknown protocol":
        await connection.send_sdu(header(0, 99, 0, 2) + bytes.fromhex("8100"))  # mini-protocol 99 is not running
        assert await until(lambda: connection.closed.done())
    else:
        await connection.send_sdu(header(0, KEEP_ALIVE, 0, 100) + bytes(10))  # 10 of 100 payload bytes
        await asyncio.sleep(0.05)
        await connection.close()
    assert await until(lambda: bool(server.connections) and server.connections[0].closed.done())
    await server.close()
    return next(directory.glob("*.pcap"))


def test_a_message_sent_without_agency_is_the_senders_fault(tmp_path: Path) -> None:
    report = only(run(_scripted_fault(tmp_path, "agency")))
    assert findings(report) == [("KA-AGENCY-01", "initiator", "keep-alive", "StServer")]
    assert report.findings[0].hex == "8200" + "07"
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("FIN", "responder")
    assert "broke KA-AGENCY-01" in report.ending.reason


def test_an_sdu_cut_short_by_the_close_is_the_closers_fault(tmp_path: Path) -> None:
    report = only(run(_scripted_fault(tmp_path, "truncated")))
    assert findings(report) == [("MUX-SDU-01", "initiator", "mux", None)]
    assert "10 bytes" in report.findings[0].message or "18 bytes" in report.findings[0].message
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("FIN", "initiator")


def test_the_issues_case_a_node_resets_after_the_initiator_held_a_non_blocking_request_too_long(
    tmp_path: Path,
) -> None:
    """The responder asks for transaction ids without blocking; the initiator does not answer within 10 s
    and the responder resets: the judge names the initiator, the state and both durations."""
    ours, theirs = Mempool(golden_transactions()), Mempool()
    _, responder_pcap = run(
        peer_pair(
            tmp_path,
            {("tx-submission2", "responder"): tx_submission.inbound(theirs)},
            {("tx-submission2", "initiator"): tx_submission.outbound(ours)},
            lambda c: len(theirs) == len(ours),
            initiator_only=True,
        )
    )
    packets = read(responder_pcap)
    responder_port = packets[0].dport

    def non_blocking_request(packet: Packet) -> bool:
        """A tx-submission2 SDU (mode 1) from the responder carrying [0, false, ...]: MsgRequestTxIds."""
        data = packet.payload
        return packet.sport == responder_port and data[4:6] == b"\x80\x04" and data[8:11] == bytes.fromhex("8400f4")

    asked = first_index(packets, non_blocking_request)
    request = packets[asked]
    reset = replace(
        request, time=request.time + 10.4, seq=request.seq + len(request.payload), flags=RST | ACK, payload=b""
    )
    report = only(write(tmp_path / "held.pcap", [*packets[: asked + 1], reset]))
    assert findings(report) == [("TX-TIME-01", "initiator", "tx-submission2", "StTxIdsNonBlocking")]
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("RST", "responder")
    assert report.ending.reason == (
        "the initiator held agency in tx-submission2 StTxIdsNonBlocking for 10.4 s; the node's limit is 10 s"
    )


def test_an_sdu_of_a_mini_protocol_not_running_is_a_mux_fault_of_its_sender(tmp_path: Path) -> None:
    report = only(run(_scripted_fault(tmp_path, "unknown protocol")))
    assert findings(report) == [("MUX-PROTO-01", "initiator", "mux", None)]
    assert report.findings[0].hex == "00000000006300028100"  # the whole SDU, header included
    assert not any("not judged further" in note for note in report.notes)  # the checker refused the SDU alone
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("FIN", "responder")
