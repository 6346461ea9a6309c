"""Clean captures of the reference peer: the judge finds no violation at all (no false alarm), in both
the initiator's and the responder's capture, for every mini-protocol in both roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.judge import judge_capture

pytestmark = pytest.mark.timeout(60)

N2N_PROTOCOLS = {"handshake", "chain-sync", "block-fetch", "tx-submission2", "keep-alive", "peer-sharing"}
N2C_PROTOCOLS = {"n2c-handshake", "local-chain-sync", "local-tx-submission", "local-state-query", "local-tx-monitor"}


@pytest.mark.parametrize("which", [0, 1], ids=["initiator's capture", "responder's capture"])
def test_every_node_to_node_protocol_in_both_roles_is_judged_clean(
    duplex_capture: tuple[Path, Path], which: int
) -> None:
    result = judge_capture(duplex_capture[which])
    assert result.format == "pcap" and len(result.connections) == 1
    report = result.connections[0]
    assert report.findings == [], report.findings
    assert not result.must_broken
    assert report.roles_from == "SYN" and not report.start_missed
    assert report.mode == "node-to-node" and report.version == 16
    assert report.version_data is not None and report.version_data["initiator_only"] is False
    assert set(report.messages) == N2N_PROTOCOLS
    assert report.messages["chain-sync"] >= 600 and report.messages["block-fetch"] >= 300
    assert report.messages["handshake"] == 2
    assert report.ending is not None and (report.ending.kind, report.ending.side) == ("FIN", "initiator")
    assert report.notes == []


def test_both_captures_of_one_connection_give_the_same_judgement(duplex_capture: tuple[Path, Path]) -> None:
    ours, theirs = (judge_capture(path).connections[0] for path in duplex_capture)
    assert ours.messages == theirs.messages
    assert ours.endpoints == theirs.endpoints
    assert ours.bytes_sent == theirs.bytes_sent


@pytest.mark.parametrize("which", [0, 1], ids=["initiator's capture", "responder's capture"])
def test_every_node_to_client_protocol_over_tcp_is_judged_clean(n2c_capture: tuple[Path, Path], which: int) -> None:
    result = judge_capture(n2c_capture[which])
    report = result.connections[0]
    assert report.findings == [], report.findings
    assert report.mode == "node-to-client"
    assert report.version is not None and report.version & 0x8000 and report.version & 0x7FFF == 23
    assert set(report.messages) == N2C_PROTOCOLS
    assert report.messages["local-chain-sync"] >= 120
    assert report.messages["local-tx-submission"] == 5  # two submissions, two acceptances, MsgDone


def test_a_keep_alive_capture_counts_every_round(keep_alive_pcaps: tuple[Path, Path]) -> None:
    report = judge_capture(keep_alive_pcaps[1]).connections[0]
    assert report.findings == []
    assert report.messages == {"handshake": 2, "keep-alive": 7}  # 3 rounds and MsgDone
    assert report.version_data is not None and report.version_data["initiator_only"] is True
