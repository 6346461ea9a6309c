"""Bad and unusual bytes: the plugin marks them (expert info) and goes on with the next SDU; Wireshark never
reports a Lua error. Values the wire layer encodes (integers beyond 2^53, indefinite lengths, floats, tags
in opaque fields) are shown readably."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import dissector, wire
from conformance.peer.transcript import PcapStream
from conformance.wire import Message
from conformance.wire.cbor import EncodedBytes, EncodedFloat, EncodedList, Map, Tag, encode_item
from conformance.wire.mux import INITIATOR, RESPONDER, SDU, segment

from .captures import TSHARK, TSHARK_MISSING, dissect, lua_errors, tshark

pytestmark = [pytest.mark.skipif(TSHARK is None, reason=TSHARK_MISSING), pytest.mark.timeout(120)]

DATA = {"network_magic": 2, "initiator_only": True, "peer_sharing": 0, "query": False}


def number(protocol: str) -> int:
    value = wire.codec(protocol).number
    assert value is not None
    return value


def capture(path: Path, sdus: list[tuple[str, SDU]]) -> Path:
    """A connection that starts with a node-to-node handshake, then the given SDUs ("initiator" or
    "responder" sends each)."""
    propose = wire.encode(Message("handshake", "MsgProposeVersions", {"versions": {14: DATA}}))
    accept = wire.encode(Message("handshake", "MsgAcceptVersion", {"version": 14, "version_data": DATA}))
    with path.open("wb") as handle:
        stream = PcapStream(handle, ("10.0.0.1", 40000), ("10.0.0.2", 3001))
        stream.write("initiator", SDU(1, INITIATOR, 0, propose).encode())
        stream.write("responder", SDU(2, RESPONDER, 0, accept).encode())
        for sender, sdu in sdus:
            stream.write(sender, sdu.encode())
        stream.close("initiator")
    return path


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dissector.write(tmp_path_factory.mktemp("plugin"))


def keep_alive(cookie: int) -> SDU:
    message = Message("keep-alive", "MsgKeepAlive", {"cookie": cookie})
    return SDU(9, INITIATOR, number("keep-alive"), wire.encode(message))


def test_bad_sdus_are_marked_and_the_next_one_is_read(plugin: Path, tmp_path: Path) -> None:
    chain_sync, ka = number("chain-sync"), number("keep-alive")
    pcap = capture(
        tmp_path / "bad.pcap",
        [
            ("initiator", SDU(3, INITIATOR, chain_sync, b"\xff\xff")),  # a break outside any item
            ("initiator", keep_alive(1)),
            ("initiator", SDU(4, INITIATOR, ka, encode_item([99, 1]))),  # no message has tag 99
            ("initiator", keep_alive(2)),
            ("responder", SDU(5, RESPONDER, ka, encode_item([0, 7]))),  # MsgKeepAlive from the server
            ("initiator", SDU(6, INITIATOR, 99, encode_item([0]))),  # no mini-protocol 99
            ("initiator", SDU(7, INITIATOR, ka, b"\x81" * 1000 + b"\x00")),  # nested a thousand deep
            ("initiator", keep_alive(3)),
        ],
    )
    shown = dissect(pcap, plugin, home=tmp_path / "home")
    assert [m for s in shown for m in s.messages if m.startswith("keep-alive MsgKeepAlive")] == [
        "keep-alive MsgKeepAlive",
        "keep-alive MsgKeepAlive",
        "keep-alive MsgKeepAlive?",
        "keep-alive MsgKeepAlive",
    ]
    assert [s.protocol for s in shown] == [0, 0, chain_sync, ka, ka, ka, ka, 99, ka, ka]
    result = tshark(pcap, plugin, "-V", home=tmp_path / "home")
    assert result.returncode == 0 and lua_errors(result) == []
    for expected in (
        "a break outside an indefinite-length item",
        "no message has tag 99",
        "not the declared sender or fields",
        "no mini-protocol 99 in either family",
        "nesting deeper than 128",
    ):
        assert expected in result.stdout, expected
    listing = tshark(pcap, plugin, home=tmp_path / "home").stdout
    assert "chain-sync [malformed CBOR]" in listing


def test_unusual_values_are_shown_readably(plugin: Path, tmp_path: Path) -> None:
    huge = 2**64 - 1
    tip = {"point": {"slot": huge, "hash": bytes(range(32))}, "block_no": 2**53 + 1}
    backward = wire.encode(Message("chain-sync", "MsgRollBackward", {"point": None, "tip": tip}))
    result_item = Map(
        [
            (EncodedBytes(b"ab", chunks=[b"a", b"b"]), EncodedList([1.5, None], indefinite=True)),
            ("text", Tag(258, [-(2**64)])),
            (True, EncodedFloat(0.5, 2)),
        ],
        indefinite=True,
    )
    result = wire.encode(Message("local-state-query", "MsgResult", {"result": encode_item(result_item)}))
    pcap = capture(
        tmp_path / "values.pcap",
        [("responder", SDU(3, RESPONDER, number("chain-sync"), backward))],
    )
    tree = tshark(pcap, plugin, "-V", home=tmp_path / "home")
    assert tree.returncode == 0 and lua_errors(tree) == []
    assert f"slot: {huge}" in tree.stdout
    assert f"block_no: {2**53 + 1}" in tree.stdout
    assert "point: [] (none: origin / genesis)" in tree.stdout
    assert "hash: h'000102030405060708090a0b0c0d0e0f...' (32 bytes)" in tree.stdout
    # an opaque node-to-client answer: generic CBOR (the handshake says node-to-node, so no family guess)
    n2c = capture(tmp_path / "n2c.pcap", [("responder", SDU(3, RESPONDER, number("local-state-query"), result))])
    shown = tshark(n2c, plugin, "-V", home=tmp_path / "home")
    assert shown.returncode == 0 and lua_errors(shown) == []
    for expected in ("local-state-query MsgResult", "(indefinite length)", "1.5", "tag 258", "-1-18446744073709551615"):
        assert expected in shown.stdout, expected
    assert "0.5" in shown.stdout and "null" in shown.stdout


def test_a_long_message_over_many_sdus_is_cut_once_and_shown_in_part(plugin: Path, tmp_path: Path) -> None:
    """A 0.5 MB answer of 250,000 two-byte items, indefinite length, over 41 SDUs: the plugin scans
    each SDU once (resuming where the last stopped, never decoding the partial message again), decodes the
    first elements and counts the rest."""
    count = 250_000
    answer = bytes.fromhex("9f") + b"\x18\x18" * count + b"\xff"
    result = wire.encode(Message("local-state-query", "MsgResult", {"result": answer}))
    parts = segment(result, protocol=number("local-state-query"), mode=RESPONDER)
    assert len(parts) > 40
    pcap = capture(tmp_path / "long.pcap", [("responder", sdu) for sdu in parts])
    shown = dissect(pcap, plugin, home=tmp_path / "home")
    assert [m for s in shown for m in s.messages][-1] == "local-state-query MsgResult"
    assert sum(1 for s in shown for p in s.parts if p.startswith("continuation of a message")) == len(parts) - 2
    tree = tshark(pcap, plugin, "-V", home=tmp_path / "home")
    assert f"result: [{count} items] (indefinite length)" in tree.stdout
    assert f"... {count - 300} more not decoded" in tree.stdout
