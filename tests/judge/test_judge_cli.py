"""`ouroboros-conformance judge`: the terminal summary, judge.json and judge.md, and the exit codes (0: no
MUST rule broken, 1: one was, 2: unreadable input)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.judge import judge_capture

from .captures import KEEP_ALIVE_PROTOCOL, Packet, first_index, read, shifted, write

pytestmark = pytest.mark.timeout(60)


def late_capture(clean: Path, out: Path) -> Path:
    packets = read(clean)
    responder_port = packets[0].dport
    reply = first_index(packets, lambda p: p.sport == responder_port and KEEP_ALIVE_PROTOCOL in p.sdu_protocols())
    return write(out, shifted(packets, reply, 61.0))


def test_a_clean_capture_exits_0_and_writes_an_empty_report(
    keep_alive_pcaps: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["judge", str(keep_alive_pcaps[0]), "--report", str(tmp_path / "out"), "--magic", "764824073"]) == 0
    out = capsys.readouterr().out
    assert "violations: none" in out and "verdict: no MUST rule broken" in out
    assert "mode node-to-node, version 16" in out and "keep-alive 7" in out
    assert json.loads((tmp_path / "out" / "judge.json").read_text()) == []
    assert "No violation." in (tmp_path / "out" / "judge.md").read_text()


def test_a_late_reply_exits_1_and_reports_it_in_json_and_markdown(
    keep_alive_pcaps: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = late_capture(keep_alive_pcaps[1], tmp_path / "late.pcap")
    assert main(["judge", str(late), "--report", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "KA-TIME-01 (MUST) by the responder, keep-alive in StServer" in out
    assert "verdict: MUST rules broken (1)" in out
    records = json.loads((tmp_path / "out" / "judge.json").read_text())
    assert len(records) == 1
    record = records[0]
    report = judge_capture(late).connections[0]
    assert record["connection"] == report.endpoints and all(":" in end for end in record["connection"])
    assert {k: record[k] for k in ("protocol", "requirement", "severity", "side", "state")} == {
        "protocol": "keep-alive",
        "requirement": "KA-TIME-01",
        "severity": "MUST",
        "side": "responder",
        "state": "StServer",
    }
    assert 61.0 < record["time"] < 62.0 and "60 s" in record["message"] and record["hex"].startswith("8201")
    markdown = (tmp_path / "out" / "judge.md").read_text()
    assert "| KA-TIME-01 | MUST | responder | keep-alive | StServer |" in markdown


def test_the_magic_the_node_runs_is_compared_with_the_negotiated_one(
    keep_alive_pcaps: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["judge", str(keep_alive_pcaps[0]), "--magic", "2"]) == 0
    assert "note: network magic 764824073, not the node's 2" in capsys.readouterr().out


def test_unreadable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "not-a-capture.pcap"
    text.write_text("hello\n")
    assert main(["judge", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "not a pcap or pcapng" in err
    assert main(["judge", str(tmp_path / "missing.pcap")]) == 2
    assert "cannot open" in capsys.readouterr().err


def test_bytes_that_are_no_ouroboros_never_crash_the_judge(keep_alive_pcaps: tuple[Path, Path], tmp_path: Path) -> None:
    """Random payload bytes, random flags and truncated records: typed findings or a CaptureError only."""
    rng = random.Random(11)
    packets = read(keep_alive_pcaps[0])
    for round_ in range(20):
        mangled: list[Packet] = []
        for packet in packets:
            payload = bytearray(packet.payload)
            for _ in range(rng.randrange(0, 4)):
                if payload:
                    payload[rng.randrange(len(payload))] = rng.randrange(256)
            if rng.random() < 0.1:
                payload = bytearray(rng.randbytes(rng.randrange(1, 200)))
            mangled.append(replace(packet, payload=bytes(payload)))
        path = write(tmp_path / f"noise-{round_}.pcap", mangled)
        result = judge_capture(path)
        assert len(result.connections) == 1
        assert all(f.requirement and f.side in ("initiator", "responder") for f in result.connections[0].findings)
    data = (keep_alive_pcaps[0]).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 3])  # a record cut in the middle
    result = judge_capture(cut)  # what came before the cut is judged, and the cut is said
    assert len(result.connections) == 1 and result.packets >= 3
    assert result.damaged is not None and "cut or damaged record" in result.damaged
