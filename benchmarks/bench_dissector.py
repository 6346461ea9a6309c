"""tshark's time with the generated Wireshark plugin, per MB of capture.

    python benchmarks/bench_dissector.py            # writes benchmarks/results/dissector.json and .md
    python benchmarks/bench_dissector.py --quick    # smaller captures

Why: the plugin cuts messages out of SDUs in Lua, inside Wireshark. Two shapes of capture: a node-to-node
connection of the reference peer following a synthetic chain (many small messages, blocks across SDUs), and
one long indefinite-length LocalStateQuery answer of two-byte items over 12,288-byte SDUs (the worst case for
cutting: before the resumable scanner each SDU decoded the whole partial message again, so time grew with
the square of the size). Target: seconds per MB flat in the size. Each figure is tshark with the plugin
minus tshark without it (the TCP and frame dissection Wireshark does anyway), best of three.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conformance import dissector, wire
from conformance.peer.chain import ChainStore
from conformance.peer.defaults import default_behaviours
from conformance.peer.mempool import Mempool
from conformance.peer.node import PeerConfig, connect, serve
from conformance.peer.transcript import PcapStream
from conformance.wire import Message
from conformance.wire.mux import INITIATOR, RESPONDER, SDU, segment

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def peer_capture(directory: Path, headers: int) -> Path:
    """A node-to-node connection following `headers` synthetic headers and fetching every block."""

    async def scenario() -> None:
        served = default_behaviours("node-to-node", "responder", chain=ChainStore.synthetic(headers), mempool=Mempool())
        following = default_behaviours(
            "node-to-node", "initiator", chain=ChainStore.synthetic(5), mempool=Mempool(), headers=headers, depth=10
        )
        server = await serve("127.0.0.1", 0, PeerConfig(behaviours=served))
        client = await connect(
            "127.0.0.1", server.port, PeerConfig(behaviours=following, initiator_only=True, transcript_dir=directory)
        )
        keys = [("chain-sync", "initiator"), ("block-fetch", "initiator")]
        for _ in range(6000):
            if all(key in client.finished for key in keys):
                break
            await asyncio.sleep(0.01)
        await client.close()
        await server.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    return next(directory.glob("initiator-*.pcap"))


def long_answer_capture(path: Path, size: int) -> Path:
    """A handshake, then one LocalStateQuery MsgResult of `size` bytes of two-byte items, indefinite."""
    data = {"network_magic": 2, "initiator_only": True, "peer_sharing": 0, "query": False}
    propose = wire.encode(Message("handshake", "MsgProposeVersions", {"versions": {14: data}}))
    accept = wire.encode(Message("handshake", "MsgAcceptVersion", {"version": 14, "version_data": data}))
    answer = b"\x9f" + b"\x18\x18" * (size // 2) + b"\xff"
    result = wire.encode(Message("local-state-query", "MsgResult", {"result": answer}))
    number = wire.codec("local-state-query").number
    assert number is not None
    with path.open("wb") as handle:
        stream = PcapStream(handle, ("10.0.0.1", 40000), ("10.0.0.2", 3001))
        stream.write("initiator", SDU(1, INITIATOR, 0, propose).encode())
        stream.write("responder", SDU(2, RESPONDER, 0, accept).encode())
        for sdu in segment(result, protocol=number, mode=RESPONDER):
            stream.write("responder", sdu.encode())
        stream.close("initiator")
    return path


def tshark_seconds(tshark: str, pcap: Path, plugin: Path | None, home: Path) -> float:
    options = ["-X", f"lua_script:{plugin}", "-d", "tcp.port==3001,ouroboros"] if plugin else []
    env = {**os.environ, "HOME": str(home)}
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([tshark, "-n", "-r", str(pcap), *options], env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark is not installed (Debian package tshark; tools/install-tshark.sh)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        plugin = dissector.write(work / "plugin")
        captures = [
            (f"peer, {h} headers", peer_capture(work / f"peer{h}", h))
            for h in ((100, 400) if args.quick else (200, 1000, 2000))
        ]
        for mb in (0.5, 1) if args.quick else (0.5, 1, 2, 4):
            size = int(mb * 1_000_000)
            captures.append((f"one {mb} MB answer", long_answer_capture(work / f"answer{mb}.pcap", size)))
        for name, pcap in captures:
            megabytes = pcap.stat().st_size / 1e6
            bare = tshark_seconds(tshark, pcap, None, work)
            loaded = tshark_seconds(tshark, pcap, plugin, work)
            rows.append(
                {
                    "capture": name,
                    "mb": round(megabytes, 3),
                    "tshark_s": round(bare, 3),
                    "with_plugin_s": round(loaded, 3),
                    "plugin_s_per_mb": round((loaded - bare) / megabytes, 3),
                }
            )
            print(rows[-1])
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    meta = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "tshark": version,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "dissector.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Wireshark plugin: tshark time per MB",
        "",
        f"{meta['when']}, {version}, on {meta['machine']}. Plugin seconds per MB = (with plugin - without) / MB, "
        "best of three. Target: flat in the size.",
        "",
        "| capture | MB | tshark s | with plugin s | plugin s per MB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['capture']} | {r['mb']} | {r['tshark_s']} | {r['with_plugin_s']} | {r['plugin_s_per_mb']} |"
        for r in rows
    ]
    (RESULTS_DIR / "dissector.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
