"""The generated plugin loaded by tshark on captures the reference peer made over real loopback sockets.

What tshark shows is compared with what the capture holds, read independently: the SDU headers with the
wire layer's own demultiplexer, the message names with the peer's transcript of the same connection. The
same connections cut into small TCP segments check the TCP reassembly of SDUs; block-fetch and
local-chain-sync messages larger than an SDU check the reassembly of messages across SDUs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import dissector, wire
from conformance.peer.transcript import PcapStream
from conformance.protocol.mux import MINI_PROTOCOLS
from conformance.wire import Message
from conformance.wire.cbor import encode_item
from conformance.wire.mux import INITIATOR, NODE_SDU_PAYLOAD, RESPONDER, SDU, segment

from .captures import (
    N2C,
    N2N,
    TSHARK,
    TSHARK_MISSING,
    Capture,
    ShownSdu,
    dissect,
    initiator_port,
    lua_errors,
    node_to_client,
    node_to_node,
    resplit,
    sdus,
    segments,
    shown_messages,
    transcript_messages,
    tshark,
)

pytestmark = [pytest.mark.skipif(TSHARK is None, reason=TSHARK_MISSING), pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("dissector")


@pytest.fixture(scope="module")
def plugin(workdir: Path) -> Path:
    """The plugin as generated from the declarations now (the committed copy is compared elsewhere)."""
    return dissector.write(workdir / "plugin")


@pytest.fixture(scope="module")
def n2n(workdir: Path) -> Capture:
    return node_to_node(workdir / "n2n")


@pytest.fixture(scope="module")
def n2c(workdir: Path) -> Capture:
    return node_to_client(workdir / "n2c")


def decode_as(capture: Capture) -> tuple[str, ...]:
    return ("-d", f"tcp.port=={capture.port},ouroboros")


def headers(shown: list[ShownSdu]) -> dict[int, list[tuple[int, int, int, int]]]:
    out: dict[int, list[tuple[int, int, int, int]]] = {}
    for sdu in shown:
        out.setdefault(sdu.source_port, []).append((sdu.timestamp, sdu.mode, sdu.protocol, sdu.length))
    return out


def expected_headers(capture: Capture) -> dict[int, list[tuple[int, int, int, int]]]:
    return {
        port: [(s.timestamp, s.mode, s.protocol, len(s.payload)) for s in cut]
        for port, cut in sdus(capture.pcap).items()
    }


def assert_same_messages(
    shown: dict[tuple[int, str], list[str]], expected: dict[tuple[int, str], list[str]], *, received_by: int = -1
) -> None:
    """Same messages in the same order per (sender, protocol), each named exactly (following the protocol
    state where two messages share a tag: LocalTxMonitor's MsgAcquire and MsgAwaitAcquire).

    One exception, a race of the capture and not of the plugin: bytes the transcript's owner (`received_by`)
    read just before it closed are in its pcap without having been decoded into its transcript, so the
    last message of a direction it received may be shown without being expected."""
    assert sorted(shown) == sorted(expected)
    for key, names in expected.items():
        got = shown[key]
        if key[0] != received_by and len(got) == len(names) + 1:
            got = got[:-1]
        assert got == names, key


def protocols_in(capture: Capture) -> set[str]:
    return {protocol for _, protocol in transcript_messages(capture)}


# -- node-to-node -------------------------------------------------------------------------------------


def test_every_node_to_node_protocol_is_in_the_capture(n2n: Capture) -> None:
    """The capture really covers the family (else the checks below would prove less than they say)."""
    expected = {row.name for row in MINI_PROTOCOLS[N2N] if row.name in wire.CODECS}
    assert protocols_in(n2n) == expected


def test_node_to_node_sdu_headers_are_shown_as_the_wire_layer_reads_them(
    n2n: Capture, plugin: Path, workdir: Path
) -> None:
    shown = dissect(n2n.pcap, plugin, *decode_as(n2n), home=workdir / "home")
    assert headers(shown) == expected_headers(n2n)
    names = {(s.protocol, s.protocol_name) for s in shown}
    assert names == {(wire.codec(name).number, name) for name in protocols_in(n2n)}


def test_node_to_node_messages_are_named_as_the_peer_named_them(n2n: Capture, plugin: Path, workdir: Path) -> None:
    shown = dissect(n2n.pcap, plugin, *decode_as(n2n), home=workdir / "home")
    assert_same_messages(shown_messages(shown), transcript_messages(n2n), received_by=initiator_port(n2n.pcap))


def test_messages_spanning_sdus_are_reassembled(n2n: Capture, plugin: Path, workdir: Path) -> None:
    """Block-fetch batches fill 12,288-byte SDUs, so blocks straddle SDUs: each is shown once, whole."""
    shown = dissect(n2n.pcap, plugin, *decode_as(n2n), home=workdir / "home")
    parts = [part for sdu in shown for part in sdu.parts]
    assert any(part.startswith("Reassembled message") for part in parts), parts
    assert any("continued in the next SDU" in part for part in parts)
    spanning = [s for s in shown if any(p.startswith("Reassembled message") for p in s.parts)]
    assert {s.protocol_name for s in spanning} == {"block-fetch"}


def straddling(pcap: Path, header_only: bool) -> int:
    """How many SDUs (or only their 8-byte headers) of `pcap` straddle a TCP segment boundary."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for port, cut in sdus(pcap).items():
        position = 0
        for sdu in cut:
            size = 8 + len(sdu.payload)
            spans.setdefault(port, []).append((position, position + (8 if header_only else size)))
            position += size
    ends: dict[int, set[int]] = {}
    position_of: dict[int, int] = {}
    for src, _, _, payload in segments(pcap):
        if payload:
            position_of[src[1]] = position_of.get(src[1], 0) + len(payload)
            ends.setdefault(src[1], set()).add(position_of[src[1]])
    return sum(1 for port, at in spans.items() for s, e in at if any(s < b < e for b in ends[port]))


def info_messages(pcap: Path, plugin: Path, options: tuple[str, ...], home: Path) -> dict[int, list[str]]:
    """The messages the Info column names, per frame ("protocol Name", repeats "(xN)" expanded)."""
    result = tshark(pcap, plugin, *options, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info", home=home)
    assert result.returncode == 0 and lua_errors(result) == []
    out: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        frame, _, info = line.partition("\t")
        for entry in info.split(", "):
            words = entry.split(" ")
            if len(words) < 2 or not words[1].startswith("Msg"):
                continue
            repeat = re.search(r" \(x(\d+)\)$", entry)
            out.setdefault(int(frame), []).extend([" ".join(words[:2])] * (int(repeat[1]) if repeat else 1))
    return out


def test_the_info_column_lists_every_message_of_its_frame(n2n: Capture, plugin: Path, workdir: Path) -> None:
    """Also in frames that end a reassembled SDU and hold more (TCP fences the column between the two)."""
    for pcap in (n2n.pcap, resplit(n2n.pcap, workdir / "n2n-info-1000.pcap", 1000)):
        shown: dict[int, list[str]] = {}
        for sdu in dissect(pcap, plugin, *decode_as(n2n), home=workdir / "home"):
            shown.setdefault(sdu.frame, []).extend(sdu.messages)
        assert info_messages(pcap, plugin, decode_as(n2n), workdir / "home") == {f: m for f, m in shown.items() if m}


@pytest.mark.parametrize("size", [97, 1000, pytest.param(7, marks=pytest.mark.slow)])
def test_sdus_split_over_tcp_segments_are_reassembled(n2n: Capture, plugin: Path, workdir: Path, size: int) -> None:
    """Cut into 97-byte segments (SDU headers split across segments) and 1,000-byte ones (many SDUs per
    segment and SDUs across segments; slow: 7 bytes, every header split), the connection shows exactly
    the same SDUs and messages."""
    cut = resplit(n2n.pcap, workdir / f"n2n-{size}.pcap", size)
    assert straddling(cut, header_only=size < 100) > 0
    shown = dissect(cut, plugin, *decode_as(n2n), home=workdir / "home")
    assert headers(shown) == expected_headers(n2n)
    assert_same_messages(shown_messages(shown), transcript_messages(n2n), received_by=initiator_port(n2n.pcap))


def test_the_capture_segments_split_sdus(n2n: Capture) -> None:
    """The peer's pcap cuts writes at 16,000 bytes: some SDU of the capture starts in one TCP segment and
    ends in another (what the reassembly test above relies on even without resplitting)."""
    client = initiator_port(n2n.pcap)
    server_payloads = [len(p) for src, _, _, p in segments(n2n.pcap) if src[1] != client and p]
    assert max(server_payloads) == 16_000


# -- node-to-client over TCP ----------------------------------------------------------------------------


def test_every_node_to_client_protocol_is_in_the_capture(n2c: Capture) -> None:
    expected = {row.name for row in MINI_PROTOCOLS[N2C] if row.name in wire.CODECS}
    assert protocols_in(n2c) == expected


def test_node_to_client_sdus_and_messages(n2c: Capture, plugin: Path, workdir: Path) -> None:
    shown = dissect(n2c.pcap, plugin, *decode_as(n2c), home=workdir / "home")
    assert headers(shown) == expected_headers(n2c)
    assert_same_messages(shown_messages(shown), transcript_messages(n2c), received_by=initiator_port(n2c.pcap))
    assert shown[0].protocol_name == "n2c-handshake"


def test_a_capture_started_mid_connection_names_what_it_can(n2c: Capture, plugin: Path, workdir: Path) -> None:
    """Without the handshake the protocol states are unknown: the first local-tx-monitor message (tag 1,
    MsgAcquire or MsgAwaitAcquire) cannot be told apart, and once a reply fixes the state every later one is
    named exactly; everything else is as in the whole capture."""
    handshake = 2  # the first two payloads: MsgProposeVersions and MsgAcceptVersion, one SDU each
    cut = resplit(n2c.pcap, workdir / "n2c-mid.pcap", 100_000, skip=handshake)
    shown = shown_messages(dissect(cut, plugin, *decode_as(n2c), home=workdir / "home"))
    expected = transcript_messages(n2c, skip=handshake)
    key = (initiator_port(n2c.pcap), "local-tx-monitor")
    assert expected[key][0] == "MsgAcquire" and "MsgAwaitAcquire" in expected[key]
    assert shown[key][0] == "MsgAcquire / MsgAwaitAcquire"
    shown[key][0] = "MsgAcquire"
    assert_same_messages(shown, expected, received_by=initiator_port(n2c.pcap))


def test_node_to_client_versions_are_shown_with_bit_15_read(n2c: Capture, plugin: Path, workdir: Path) -> None:
    lines = [json.loads(line) for line in n2c.jsonl.read_text(encoding="utf-8").splitlines()]
    first = next(line for line in lines if line["kind"] == "message")
    assert first["name"] == "MsgProposeVersions"
    proposed = [int(key) for key in first["fields"]["versions"]]
    assert proposed and all(v & 0x8000 for v in proposed)
    tree = tshark(n2c.pcap, plugin, *decode_as(n2c), "-V", home=workdir / "home")
    assert tree.returncode == 0 and lua_errors(tree) == []
    for version in proposed:
        assert f"version {version} (node-to-client v{version & 0x7FFF}):" in tree.stdout
    accepted = next(line for line in lines if line["kind"] == "message" and line["name"] == "MsgAcceptVersion")
    data = accepted["fields"]["version_data"]
    only_accept = ("-O", "ouroboros", "-Y", 'ouroboros.message == "MsgAcceptVersion"')
    accept = tshark(n2c.pcap, plugin, *decode_as(n2c), *only_accept, home=workdir / "home").stdout
    assert "n2c-handshake MsgAcceptVersion" in accept and "MsgProposeVersions" not in accept
    assert f"network_magic: {data['network_magic']}" in accept  # the data's fields, by the version's shape
    assert f"query: {str(data['query']).lower()}" in accept
    listing = tshark(n2c.pcap, plugin, *decode_as(n2c), home=workdir / "home")
    summary = ",".join(str(v & 0x7FFF) for v in proposed)
    assert f"n2c-handshake MsgProposeVersions versions={summary} (node-to-client)" in listing.stdout


# -- how the plugin is found ---------------------------------------------------------------------------


def test_the_port_preference_alone_finds_the_connection(n2n: Capture, plugin: Path, workdir: Path) -> None:
    """Heuristic off, no Decode As: the TCP port preference (default 3001) set to the capture's port."""
    home = workdir / "home"
    off = ("-o", "ouroboros.heuristic:FALSE")
    assert dissect(n2n.pcap, plugin, *off, home=home) == []
    shown = dissect(n2n.pcap, plugin, *off, "-o", f"ouroboros.port:{n2n.port}", home=home)
    assert headers(shown) == expected_headers(n2n)


def test_the_heuristic_finds_a_connection_by_its_handshake(n2c: Capture, plugin: Path, workdir: Path) -> None:
    shown = dissect(n2c.pcap, plugin, home=workdir / "home")
    assert headers(shown) == expected_headers(n2c)


def test_the_info_column_names_protocol_and_message(n2n: Capture, plugin: Path, workdir: Path) -> None:
    result = tshark(n2n.pcap, plugin, *decode_as(n2n), home=workdir / "home")
    assert result.returncode == 0 and lua_errors(result) == []
    lines = result.stdout.splitlines()
    assert any("handshake MsgProposeVersions versions=" in line for line in lines)
    assert any("chain-sync MsgRollForward" in line for line in lines)
    assert any("keep-alive MsgKeepAlive cookie=" in line for line in lines)


# -- a message over several SDUs, and a capture that ends inside one -------------------------------------


def big_block_capture(path: Path, sdus_written: int | None) -> tuple[Path, int]:
    """A handshake, then one 30 kB MsgBlock segmented over three SDUs by the wire layer (only the first
    `sdus_written` of them when given: the capture ends inside the message). Returns the pcap and port."""
    data = {"network_magic": 2, "initiator_only": True, "peer_sharing": 0, "query": False}
    propose = wire.encode(Message("handshake", "MsgProposeVersions", {"versions": {14: data}}))
    accept = wire.encode(Message("handshake", "MsgAcceptVersion", {"version": 14, "version_data": data}))
    block = wire.encode(Message("block-fetch", "MsgBlock", {"block": encode_item([6, bytes(30_000)])}))
    number = wire.codec("block-fetch").number
    assert number is not None
    parts = segment(block, protocol=number, mode=RESPONDER)
    assert len(parts) == 3
    with path.open("wb") as handle:
        stream = PcapStream(handle, ("10.0.0.1", 40000), ("10.0.0.2", 3001))
        stream.write("initiator", SDU(1, INITIATOR, 0, propose).encode())
        stream.write("responder", SDU(2, RESPONDER, 0, accept).encode())
        for sdu in parts[:sdus_written]:
            stream.write("responder", sdu.encode())
        stream.close("initiator")
    return path, len(block)


def test_a_message_over_three_sdus_is_shown_once_whole(plugin: Path, workdir: Path) -> None:
    pcap, size = big_block_capture(workdir / "block.pcap", None)
    shown = dissect(pcap, plugin, home=workdir / "home")
    assert [m for s in shown for m in s.messages] == [
        "handshake MsgProposeVersions",
        "handshake MsgAcceptVersion",
        "block-fetch MsgBlock",
    ]
    first, second, third = (s.parts for s in shown[2:])
    assert first == [f"start of a message ({NODE_SDU_PAYLOAD} bytes), continued in the next SDU"]
    assert second == [f"continuation of a message ({2 * NODE_SDU_PAYLOAD} bytes so far), continued in the next SDU"]
    assert third == [
        f"Reassembled message: {2 * NODE_SDU_PAYLOAD} bytes from earlier SDUs and {size - 2 * NODE_SDU_PAYLOAD} "
        "from this one"
    ]


def test_a_capture_ending_inside_a_message_marks_it_unfinished(plugin: Path, workdir: Path) -> None:
    pcap, _ = big_block_capture(workdir / "cut.pcap", 2)
    shown = dissect(pcap, plugin, home=workdir / "home")
    assert [m for s in shown for m in s.messages] == ["handshake MsgProposeVersions", "handshake MsgAcceptVersion"]
    assert [len(s.parts) for s in shown[2:]] == [1, 1]
    result = tshark(pcap, plugin, home=workdir / "home")
    assert "block-fetch [start of a message]" in result.stdout
    assert "block-fetch [continuation of a message]" in result.stdout
