"""Mux reassembly time per MB, and the memory that hostile connections can make the demultiplexer hold.

    python benchmarks/bench_mux.py              # writes benchmarks/results/mux.json and mux.md
    python benchmarks/bench_mux.py --quick      # 0.1 and 1 MB only

Why: the reference peer puts the demultiplexer on a socket any remote can write to. A message whose size is
not known from its first bytes (an indefinite array; a definite array of many small entries, shaped like a
UTxO query answer) used to be re-copied and re-scanned on every SDU, so its cost grew with the square of
its size. The target: time per MB flat from 0.1 MB to 20 MB, one message fed in 12,288-byte SDUs (what the
node sends). The ingress limit is raised for the run, since 20 MB exceeds chain-sync's 462,000 bytes.

Memory: 1,000 hostile connections, each fed the most its demultiplexer holds before it fails (the input of
issue 7: queues filled to their limit then overrun, an unknown mini-protocol, a head claiming more than the
queue holds, bytes after the fault), measured with tracemalloc: the peak while feeding them one after
another, and what the 1,000 failed demultiplexers keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.protocol import TABLES
from conformance.protocol import mux as table
from conformance.wire.errors import DecodeError
from conformance.wire.mux import HEADER_SIZE, MAX_PAYLOAD, NODE_SDU_PAYLOAD, SDU, MessageDemultiplexer, segment

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SIZES_MB = (0.1, 1, 10, 20)
N2N = {"initiator_only": False, "peer_sharing": 1}
CHAIN_SYNC = TABLES["chain-sync"].number


def indefinite_array(size: int) -> bytes:
    """`82049f` + `00` x N + `ff`: MsgRollBackward-shaped, its size unknown until the break."""
    return bytes.fromhex("82049f") + bytes(size - 4) + b"\xff"


def utxo_like(size: int) -> bytes:
    """A definite array of 36-byte entries `[h'32 bytes', 1]`: known count, unknown total from the head."""
    entry = bytes.fromhex("825820") + bytes(range(32)) + b"\x01"
    count = max(1, (size - 8) // len(entry))
    return bytes.fromhex("82049a") + count.to_bytes(4, "big") + entry * count


def two_byte_items(size: int) -> bytes:
    """`82049f` + `1818` x N + `ff`: one item per two bytes, none of them one-byte items (the slowest path)."""
    return bytes.fromhex("82049f") + b"\x18\x18" * ((size - 4) // 2) + b"\xff"


CASES: dict[str, Callable[[int], bytes]] = {
    "indefinite array": indefinite_array,
    "36-byte entries": utxo_like,
    "2-byte items": two_byte_items,
}


def reassemble_seconds(message: bytes) -> float:
    """Feed one message in node-sized SDUs to a demultiplexer whose limit holds it; seconds taken."""
    sdus = [s.encode() for s in segment(message, protocol=CHAIN_SYNC, mode=1, max_payload=NODE_SDU_PAYLOAD)]
    demux = table.demultiplexer_for("node-to-node", N2N, bounds={CHAIN_SYNC: len(message) + 1})
    gc.disable()
    try:
        start = time.perf_counter()
        out = [m for sdu in sdus for m in demux.feed(sdu)]
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    if [m.data for m in out] != [message]:
        raise SystemExit("reassembly lost or changed the message")
    return seconds


def hostile_inputs(i: int) -> list[bytes]:
    """The bytes of hostile connection `i`: one of five attacks, each fed until the demultiplexer fails."""
    attack = i % 5
    if attack == 0:  # chain-sync queue filled with a byte string that fits, then overrun
        first = SDU(i, 1, CHAIN_SYNC, bytes.fromhex("5a00070000") + bytes(NODE_SDU_PAYLOAD - 5)).encode()
        return [first] + [SDU(i, 1, CHAIN_SYNC, bytes(NODE_SDU_PAYLOAD)).encode()] * 40
    if attack == 1:  # every running protocol's queue, both directions, filled just short of its limit
        out = []
        for number, limit in table.demultiplexer_for("node-to-node", N2N).limits.items():
            if number == 3:
                continue  # block-fetch (23 MB) would make this a benchmark of one connection
            for mode in (0, 1):
                head = bytes.fromhex("5a") + (limit - 5).to_bytes(4, "big")
                payload = head + bytes(limit - 6)
                out += [s.encode() for s in segment(payload, protocol=number, mode=mode)]
        return out + [SDU(i, 0, 8, bytes(NODE_SDU_PAYLOAD)).encode()] * 10
    if attack == 2:  # an unknown mini-protocol, then more of it
        return [SDU(i, 0, 0x7FFF, bytes(NODE_SDU_PAYLOAD)).encode()] * 10
    if attack == 3:  # the head claims 2^20 items in a 462,000-byte queue
        return [SDU(i, 1, CHAIN_SYNC, bytes.fromhex("82049a00100000") + b"\xff" * 1000).encode()] * 10
    # an incomplete SDU that announces 65,535 bytes: held until the rest arrives (the node does the same)
    return [SDU(i, 1, CHAIN_SYNC, bytes(MAX_PAYLOAD)).encode()[:-1]]


def hostile_memory(connections: int) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    demuxes: list[MessageDemultiplexer] = []
    fed = errors = 0
    try:
        for i in range(connections):
            demux = table.demultiplexer_for("node-to-node", N2N)
            for data in hostile_inputs(i):
                fed += 1
                try:
                    demux.receive_data(data)
                except DecodeError:
                    errors += 1
            demuxes.append(demux)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    limits = table.demultiplexer_for("node-to-node", N2N).limits
    return {
        "connections": connections,
        "inputs_fed": fed,
        "typed_errors": errors,
        "peak_bytes": peak,
        "held_after_bytes": held,
        "held_per_connection_bytes": held // connections,
        "pending_total_bytes": sum(d.pending for d in demuxes),
        "bound_per_connection_bytes": 2 * sum(limits.values()) + HEADER_SIZE + MAX_PAYLOAD,
    }


def run(sizes: tuple[float, ...], connections: int) -> dict[str, Any]:
    rows = []
    for case, build in CASES.items():
        for mb in sizes:
            message = build(int(mb * 1_000_000))
            seconds = min(reassemble_seconds(message) for _ in range(3 if mb <= 1 else 1))
            rows.append(
                {
                    "case": case,
                    "mb": mb,
                    "bytes": len(message),
                    "sdus": -(-len(message) // NODE_SDU_PAYLOAD),
                    "seconds": round(seconds, 4),
                    "seconds_per_mb": round(seconds / (len(message) / 1_000_000), 4),
                }
            )
            print(f"{case:18} {mb:>5} MB  {seconds:8.3f} s  {rows[-1]['seconds_per_mb']:.3f} s/MB", flush=True)
    memory = hostile_memory(connections)
    print(json.dumps(memory, indent=1))
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "target": "seconds per MB flat from 0.1 to 20 MB (one message, 12,288-byte SDUs)",
        "reassembly": rows,
        "hostile_memory": memory,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Mux reassembly and hostile memory",
        "",
        f"{result['when']}, Python {result['python']} on {result['machine']}. Target: {result['target']}.",
        "",
        "| case | MB | SDUs | seconds | seconds per MB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in result["reassembly"]:
        lines.append(f"| {row['case']} | {row['mb']} | {row['sdus']} | {row['seconds']} | {row['seconds_per_mb']} |")
    m = result["hostile_memory"]
    lines += [
        "",
        f"{m['connections']} hostile connections ({m['inputs_fed']} inputs, {m['typed_errors']} typed errors):"
        f" tracemalloc peak {m['peak_bytes']:,} bytes while feeding them one after another;"
        f" {m['held_after_bytes']:,} bytes held afterwards ({m['held_per_connection_bytes']:,} per connection,"
        f" {m['pending_total_bytes']:,} of them buffered input). The most one N2N demultiplexer can hold:"
        f" {m['bound_per_connection_bytes']:,} bytes (two full queues per running protocol and one SDU).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.1 and 1 MB, 100 connections")
    args = parser.parse_args()
    result = run(SIZES_MB[:2], 100) if args.quick else run(SIZES_MB, 1_000)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "mux.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS_DIR / "mux.md").write_text(markdown(result), encoding="utf-8")


if __name__ == "__main__":
    main()
