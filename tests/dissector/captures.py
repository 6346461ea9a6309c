"""Captures made by the reference peer over real loopback sockets, and tshark's reading of them.

`node_to_node` runs the default node stacks of both sides on one duplex TCP connection (every node-to-node
mini-protocol), `node_to_client` every node-to-client mini-protocol over TCP; each writes the pcap and the
JSON-lines transcript of the initiator's end. `resplit` rewrites a capture's two byte streams in TCP
segments of another size. `dissect` runs tshark with the plugin and returns what it showed, SDU by SDU,
read from its PDML output (so the test reads the tree, not the Info column).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dpkt
from peer.connection_helpers import until  # the tests' one bounded poll (tests/peer/)

from conformance.peer import local_tx_submission
from conformance.peer.chain import ChainStore
from conformance.peer.chain_roles import follow_chain
from conformance.peer.defaults import default_behaviours
from conformance.peer.local_client import ScriptedClient
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.node import PeerConfig, connect, serve
from conformance.peer.transcript import PcapStream
from conformance.wire import Message
from conformance.wire.mux import SDU, Demuxer

T = TypeVar("T")
TSHARK = shutil.which("tshark")
TSHARK_MISSING = "tshark is not installed (Debian package `tshark`: tools/install-tshark.sh, docs/wireshark.md)"
N2N, N2C = "node-to-node", "node-to-client"


@dataclass(frozen=True)
class Capture:
    """A pcap of one connection and the JSON lines of its initiator's transcript."""

    pcap: Path
    jsonl: Path
    port: int
    """The responder's listening port."""


def run(coro: Awaitable[T], timeout: float = 40.0) -> T:
    """Run one capture's coroutine, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def _files(directory: Path, port: int) -> Capture:
    (pcap,) = directory.glob("initiator-*.pcap")
    (jsonl,) = directory.glob("initiator-*.jsonl")
    return Capture(pcap, jsonl, port)


def node_to_node(directory: Path, headers: int = 30) -> Capture:
    """Both default node stacks in duplex with peer sharing: handshake, chain-sync, block-fetch,
    tx-submission2 both ways, keep-alive both ways, peer-sharing."""
    golden = golden_transactions()

    async def scenario() -> int:
        served = default_behaviours(
            N2N, "responder", chain=ChainStore.synthetic(headers), mempool=Mempool(), keep_alive_interval=0.05
        )
        following = default_behaviours(
            N2N, "initiator", chain=ChainStore.synthetic(5), mempool=Mempool(golden), headers=headers, depth=10
        )
        server = await serve("127.0.0.1", 0, PeerConfig(behaviours=served, peer_sharing=1))
        client = await connect(
            "127.0.0.1", server.port, PeerConfig(behaviours=following, peer_sharing=1, transcript_dir=directory)
        )
        keys = [("chain-sync", "initiator"), ("block-fetch", "initiator"), ("peer-sharing", "initiator")]
        assert await until(lambda: all(key in client.finished for key in keys), timeout=20)
        await asyncio.sleep(0.2)  # a few keep-alive rounds both ways
        await client.close()
        await server.close()
        return server.port

    return _files(directory, run(scenario()))


def node_to_client(directory: Path) -> Capture:
    """Every node-to-client mini-protocol on one TCP connection, with MsgAwaitAcquire and a rejection."""
    golden = golden_transactions()

    def scripted(protocol: str, requests: list[Message]) -> dict[tuple[str, str], Any]:
        return {(protocol, "initiator"): lambda n: ScriptedClient(protocol, requests, n)}

    async def scenario() -> int:
        chain, mempool = ChainStore.synthetic(20), Mempool(golden[:2])
        held = next(iter(mempool))

        def lsq(name: str, **fields: Any) -> Message:
            return Message("local-state-query", name, fields)

        def ltm(name: str, **fields: Any) -> Message:
            return Message("local-tx-monitor", name, fields)

        following = {
            **scripted(
                "local-state-query",
                [lsq("MsgAcquireVolatileTip"), lsq("MsgQuery", query=bytes.fromhex("8102")), lsq("MsgRelease")],
            ),
            **scripted(
                "local-tx-monitor",
                [
                    ltm("MsgAcquire"),
                    ltm("MsgNextTx"),
                    ltm("MsgHasTx", txid=held.txid),
                    ltm("MsgGetSizes"),
                    ltm("MsgAwaitAcquire"),
                    ltm("MsgRelease"),
                ],
            ),
            ("local-tx-submission", "initiator"): lambda n: local_tx_submission.submit([golden[2], golden[2]], n),
            ("local-chain-sync", "initiator"): follow_chain(headers=20, depth=5)[("local-chain-sync", "initiator")],
        }
        served = default_behaviours(N2C, "responder", chain=chain, mempool=mempool)
        server = await serve("127.0.0.1", 0, PeerConfig(mode=N2C, behaviours=served))
        client = await connect(
            "127.0.0.1", server.port, PeerConfig(mode=N2C, behaviours=following, transcript_dir=directory)
        )
        assert await until(lambda: all(key in client.finished for key in following), timeout=20)
        await client.close()
        await server.close()
        return server.port

    return _files(directory, run(scenario()))


# -- the capture's bytes ---------------------------------------------------------------------------


def segments(pcap: Path) -> list[tuple[tuple[str, int], tuple[str, int], int, bytes]]:
    """(source, destination, TCP flags, payload) of every packet, in capture order."""
    out = []
    with pcap.open("rb") as handle:
        for _, raw in dpkt.pcap.Reader(handle):
            ip = dpkt.ethernet.Ethernet(raw).data
            tcp = ip.data
            src = (".".join(str(b) for b in ip.src), tcp.sport)
            dst = (".".join(str(b) for b in ip.dst), tcp.dport)
            out.append((src, dst, tcp.flags, bytes(tcp.data)))
    return out


def initiator_port(pcap: Path) -> int:
    """The initiator's port: the source of the first packet (the SYN)."""
    return segments(pcap)[0][0][1]


def sdus(pcap: Path) -> dict[int, list[SDU]]:
    """The SDUs each end sent, by its port, cut by the wire layer's own demultiplexer."""
    streams: dict[int, bytearray] = {}
    for src, _, _, payload in segments(pcap):
        streams.setdefault(src[1], bytearray()).extend(payload)
    return {port: Demuxer().feed(bytes(data)) for port, data in streams.items()}


def resplit(pcap: Path, out: Path, size: int, *, skip: int = 0) -> Path:
    """The same connection with every payload cut into TCP segments of at most `size` bytes; with `skip`,
    without its first `skip` payloads (a capture started mid-connection, at a segment boundary)."""
    packets = segments(pcap)
    initiator, responder = packets[0][0], packets[0][1]
    with out.open("wb") as handle:
        stream = PcapStream(handle, initiator, responder)
        for src, _, _, payload in [p for p in packets if p[3]][skip:]:
            sender = "initiator" if src == initiator else "responder"
            for start in range(0, len(payload), size):
                stream.write(sender, payload[start : start + size])
        stream.close("initiator")
    return out


def transcript_messages(capture: Capture, skip: int = 0) -> dict[tuple[int, str], list[str]]:
    """The transcript's message names by (sending port, protocol), in order (without the first `skip`)."""
    client = initiator_port(capture.pcap)
    out: dict[tuple[int, str], list[str]] = {}
    for line in capture.jsonl.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["kind"] != "message":
            continue
        assert entry.get("name"), f"the peer wrote a message it could not decode: {entry}"
        port = client if entry["direction"] == "sent" else capture.port
        if skip:
            skip -= 1
            continue
        out.setdefault((port, entry["protocol"]), []).append(entry["name"])
    return out


# -- tshark ----------------------------------------------------------------------------------------


@dataclass
class ShownSdu:
    """One SDU as tshark showed it: header fields, and the messages it completed ("protocol Name")."""

    frame: int
    source_port: int
    timestamp: int
    mode: int
    protocol: int
    protocol_name: str
    length: int
    messages: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)


def tshark(pcap: Path, plugin: Path, *options: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run tshark on `pcap` with the plugin loaded; HOME is a clean folder so no personal copy of the
    plugin (~/.local/lib/wireshark/plugins) is loaded twice."""
    if TSHARK is None:
        raise RuntimeError(TSHARK_MISSING)
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    command = [TSHARK, "-n", "-r", str(pcap), "-X", f"lua_script:{plugin}", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


def lua_errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Lines in which Wireshark reports a Lua error (at load or while dissecting)."""
    text = result.stdout + result.stderr
    return [line for line in text.splitlines() if "Lua Error" in line or "lua_script" in line and "rror" in line]


def dissect(pcap: Path, plugin: Path, *options: str, home: Path) -> list[ShownSdu]:
    """Every SDU tshark showed in `pcap`, in order, read from its PDML."""
    result = tshark(pcap, plugin, "-T", "pdml", *options, home=home)
    assert result.returncode == 0, result.stderr
    assert lua_errors(result) == [], lua_errors(result)
    shown = []
    for packet in ElementTree.fromstring(result.stdout).iter("packet"):
        frame = int(_show(packet, "frame.number"))
        port = int(_show(packet, "tcp.srcport"))
        for proto in packet.iter("proto"):
            if proto.get("name") != "ouroboros":
                continue
            sdu = ShownSdu(
                frame=frame,
                source_port=port,
                timestamp=int(_show(proto, "ouroboros.timestamp")),
                mode=int(_show(proto, "ouroboros.mode")),
                protocol=int(_show(proto, "ouroboros.protocol")),
                protocol_name=_show(proto, "ouroboros.protocol_name"),
                length=int(_show(proto, "ouroboros.length")),
            )
            for node in proto.iter("field"):
                if node.get("name") == "ouroboros.message":
                    sdu.messages.append(node.get("showname", ""))
                elif node.get("name") == "ouroboros.part":
                    sdu.parts.append(node.get("showname", ""))
            shown.append(sdu)
    return shown


def _show(element: ElementTree.Element, name: str) -> str:
    for node in element.iter("field"):
        if node.get("name") == name:
            return node.get("show", "")
    raise AssertionError(f"no field {name} in {element.get('name') or element.tag}")


def shown_messages(shown: list[ShownSdu]) -> dict[tuple[int, str], list[str]]:
    """The messages tshark showed by (sending port, protocol), in order: "A / B" when it could not tell."""
    out: dict[tuple[int, str], list[str]] = {}
    for sdu in shown:
        for text in sdu.messages:
            protocol, _, name = text.partition(" ")
            out.setdefault((sdu.source_port, protocol), []).append(name)
    return out
