"""The TCP side of the judge on rewritten clean captures: retransmitted, overlapping, reordered and
split segments, sequence numbers that wrap, pcapng input, and captures that start mid-connection. A clean
connection must stay clean (no false alarm) and give the same messages as the original capture."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conformance.judge import CaptureError, Options, judge_capture
from conformance.judge.capture import Segment
from conformance.judge.tcp import TcpDirection

from .captures import SYN, Packet, read, write

pytestmark = pytest.mark.timeout(60)


def mangled(packets: list[Packet], wrap: int) -> list[Packet]:
    """Every data segment split in three, some pieces sent twice (one of them overlapping its neighbours),
    neighbouring pieces of one direction swapped, and the sequence numbers of every segment moved so
    that they wrap past 2**32 mid-stream."""
    out: list[Packet] = []
    for index, packet in enumerate(packets):
        data = packet.payload
        if len(data) < 30:
            out.append(packet)
            continue
        cuts = [0, len(data) // 3, 2 * len(data) // 3 + 1, len(data)]
        pieces = [
            replace(packet, seq=(packet.seq + a) % 2**32, payload=data[a:b])
            for a, b in zip(cuts, cuts[1:], strict=False)
        ]
        if index % 2:
            pieces[1], pieces[2] = pieces[2], pieces[1]  # out of order
        if index % 3 == 0:
            pieces.append(pieces[0])  # a retransmission
            overlap = replace(packet, seq=(packet.seq + cuts[1] - 5) % 2**32, payload=data[cuts[1] - 5 : cuts[2] + 5])
            pieces.insert(1, overlap)  # overlapping both neighbours
        out.extend(pieces)
    return [replace(p, seq=(p.seq + wrap) % 2**32, ack=(p.ack + wrap) % 2**32) for p in out]


def test_retransmitted_reordered_and_split_segments_give_the_same_clean_judgement(
    duplex_capture: tuple[Path, Path], tmp_path: Path
) -> None:
    packets = read(duplex_capture[0])
    original = judge_capture(duplex_capture[0]).connections[0]
    rewritten = write(tmp_path / "mangled.pcap", mangled(packets, 2**32 - 20_000))
    report = judge_capture(rewritten).connections[0]
    assert report.findings == [], report.findings
    assert report.messages == original.messages and report.bytes_sent == original.bytes_sent
    assert any("retransmitted" in note for note in report.notes)
    assert report.ending is not None and report.ending.kind == "FIN"


def test_pcapng_input_is_judged_as_the_same_pcap(duplex_capture: tuple[Path, Path], tmp_path: Path) -> None:
    packets = read(duplex_capture[1])
    ng = judge_capture(write(tmp_path / "capture.pcapng", packets, pcapng=True))
    plain = judge_capture(duplex_capture[1])
    assert ng.format == "pcapng" and plain.format == "pcap"
    assert ng.packets == plain.packets == len(packets)
    ours, theirs = ng.connections[0], plain.connections[0]
    assert ours.findings == theirs.findings == []
    assert ours.messages == theirs.messages and ours.ending == theirs.ending


def mid_stream(packets: list[Packet], skip: int, cut: int) -> list[Packet]:
    """The capture from packet `skip` on, the first data segment kept missing its first `cut` bytes."""
    rest = packets[skip:]
    first = next(i for i, p in enumerate(rest) if len(p.payload) > cut)
    head = rest[first]
    rest[first] = replace(head, seq=(head.seq + cut) % 2**32, payload=head.payload[cut:])
    return rest[first:]


@pytest.mark.parametrize("skip", [12, 40, 70])
def test_a_capture_that_starts_mid_stream_finds_the_first_sdu_and_says_the_start_was_missed(
    duplex_capture: tuple[Path, Path], tmp_path: Path, skip: int
) -> None:
    packets = read(duplex_capture[1])
    responder_port = packets[0].dport
    late = write(tmp_path / "late-start.pcap", mid_stream(packets, skip, cut=5))
    report = judge_capture(late, Options(port=responder_port)).connections[0]
    assert report.findings == [], report.findings
    assert report.start_missed and any(note.startswith("start missed") for note in report.notes)
    assert any("the handshake was not captured" in note for note in report.notes)
    assert report.responder[1] == responder_port and report.roles_from == f"--port {responder_port}"
    assert report.mode == "node-to-node" and report.version is None
    assert sum(report.messages.values()) > 0 and "handshake" not in report.messages
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("FIN", "initiator")


def test_without_a_syn_the_side_that_sent_only_mode_0_is_the_initiator(
    keep_alive_pcaps: tuple[Path, Path], tmp_path: Path
) -> None:
    packets = read(keep_alive_pcaps[0])
    initiator_port = packets[0].sport
    no_syn = write(tmp_path / "no-syn.pcap", [p for p in packets if not p.flags & SYN])
    report = judge_capture(no_syn).connections[0]
    assert report.findings == []
    assert report.initiator[1] == initiator_port and report.roles_from == "MsgProposeVersions"
    assert report.version == 16 and report.messages["keep-alive"] == 7
    later = write(tmp_path / "no-handshake.pcap", mid_stream(packets, 6, cut=0))
    report = judge_capture(later).connections[0]
    assert report.findings == [], report.findings
    assert report.initiator[1] == initiator_port and report.roles_from == "mode bits"


def test_unreadable_input_is_a_capture_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a capture at all\n")
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        judge_capture(text)
    with pytest.raises(CaptureError, match="cannot open"):
        judge_capture(tmp_path / "missing.pcap")
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureError):
        judge_capture(empty)


def _segment(seq: int, payload: bytes, flags: int = 0x18) -> Segment:
    return Segment(0.0, "10.0.0.1", 1, "10.0.0.2", 2, seq % 2**32, flags, payload)


def test_out_of_order_bytes_are_bounded_and_a_hole_is_given_up_as_lost() -> None:
    direction = TcpDirection(max_buffered=100)
    assert direction.segment(_segment(2**32 - 1, b"", flags=0x02)) == []  # SYN: data starts at 0
    assert [c.data for c in direction.segment(_segment(0, b"abc"))] == [b"abc"]
    assert direction.segment(_segment(13, b"x" * 60)) == []  # 10 bytes missing before it
    assert direction.buffered == 60
    chunks = direction.segment(_segment(73, b"y" * 60))  # over the bound: the hole is lost
    assert [(c.offset, len(c.data), c.gap) for c in chunks] == [(13, 60, True), (73, 60, False)]
    assert direction.lost == 10 and direction.buffered == 0
    assert direction.segment(_segment(3, b"late")) == []  # the lost bytes arriving late are old now
    assert direction.retransmitted == 4


@pytest.mark.parametrize("fraction", [0.03, 0.3, 0.6, 0.9])
def test_a_segment_the_capture_lost_is_skipped_when_acknowledged_and_raises_no_false_alarm(
    duplex_capture: tuple[Path, Path], tmp_path: Path, fraction: float
) -> None:
    packets = read(duplex_capture[0])
    data = [i for i, p in enumerate(packets) if p.payload]
    lost = data[int(len(data) * fraction)]
    report = judge_capture(write(tmp_path / "lost.pcap", packets[:lost] + packets[lost + 1 :])).connections[0]
    assert report.findings == [], report.findings
    side = "initiator" if packets[lost].sport == packets[0].sport else "responder"
    assert f"{len(packets[lost].payload)} bytes of the {side} never captured" in report.notes
    assert report.ending is not None and report.ending.kind == "FIN"


def test_an_acknowledgement_beyond_a_hole_declares_it_lost_at_once() -> None:
    direction = TcpDirection()
    direction.segment(_segment(2**32 - 1, b"", flags=0x02))
    direction.segment(_segment(0, b"abc"))
    assert direction.segment(_segment(10, b"0123456789")) == []  # bytes 3..9 missing
    assert direction.acknowledged(3, 1.0) == []  # nothing acknowledged that the capture lacks
    chunks = direction.acknowledged(5, 1.0)  # bytes 3 and 4 were received: not captured, never coming
    assert [(c.offset, c.data, c.gap) for c in chunks] == [(5, b"", True)] and direction.lost == 2
    chunks = direction.acknowledged(20, 1.0)
    assert [(c.offset, c.data, c.gap) for c in chunks] == [(10, b"0123456789", True)]
    assert direction.lost == 7
    chunks = direction.acknowledged(30, 2.0)  # 10 more bytes sent, received, never captured
    assert [(c.offset, c.data, c.gap) for c in chunks] == [(30, b"", True)] and direction.lost == 17
