"""The chain side of the reference peer, sans-I/O: figures go to benchmarks/results/chain.json and .md.

Our chain-sync client against our server (and block-fetch), run by `conformance.peer.wire_loop` on a
virtual clock: every message is built by a behaviour, encoded by the wire layer, decoded again and
handed to the other behaviour; with "session" also observed by a `Session` of its protocol, as the TCP
connection does. No sockets: these are the ceilings the sans-I/O layers set for the peer over loopback.

1. chain-sync headers/s at pipelining depths 1, 10 and 100 (10,000 headers; no block-fetch);
2. block-fetch MB/s (blocks of the chain served in ranges of 100 and checked against their headers:
   hash, link, body hash), on synthetic blocks of ~17 KB: 30 golden Conway transactions each (the same
   three, repeated: fine for fetching, not for a mempool);
3. peak memory (tracemalloc) of a synthetic chain store and of following it, at 10k and 100k headers.

Run: .venv/bin/python benchmarks/bench_chain.py [--quick]
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.peer.block_fetch import BlockFetchClient, BlockFetchServer  # noqa: E402
from conformance.peer.chain import ChainStore  # noqa: E402
from conformance.peer.chain_sync import ChainSyncClient, ChainSyncServer, Followed  # noqa: E402
from conformance.peer.wire_loop import WireLoop  # noqa: E402
from conformance.vectors import load_vectors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
NOTES = (
    "Sans-I/O there is no round trip, so the pipelining depth barely changes headers/s here; over TCP it hides "
    "latency.",
    "The with-session figures are bounded by the Session: per block the block-fetch rules read the block twice "
    "(check and commit) with the pure-Python CBOR decoder (conformance.protocol.cardano_facts.block_info -> "
    "wire.cardano.block_info); the behaviours' own checks read blocks through cbor2 offsets (chain.read_block).",
    "Block-fetch blocks are synthetic Conway blocks of ~19 KB (30 golden transactions each).",
)
N2N = 14
MEMORY_COLUMNS = ("headers", "chain_store_peak_mb", "store_bytes_per_block", "follow_peak_mb", "follow_above_store_mb")
TX_IDS = ("tx-pallas-conway1-tx", "tx-pallas-conway3-tx", "tx-pallas-conway4-tx")


def follow(chain: ChainStore, headers: int, depth: int, *, validate: bool) -> tuple[float, WireLoop, ChainSyncClient]:
    loop = WireLoop(N2N, keep_history=False, validate=validate)
    client = ChainSyncClient(headers=headers, depth=depth)
    loop.link(client, ChainSyncServer(chain))
    start = time.perf_counter()
    loop.run()
    elapsed = time.perf_counter() - start
    assert client.received == headers and not client.problems and not loop.violations
    return elapsed, loop, client


def fetch(chain: ChainStore, *, validate: bool) -> dict[str, Any]:
    """Block-fetch alone: every point of the chain queued, fetched in ranges of 100."""
    followed = Followed()
    for index in range(len(chain)):
        followed.push(chain.point(index))
    followed.close()
    loop = WireLoop(N2N, keep_history=False, validate=validate)
    client = BlockFetchClient(followed, range_size=100)
    link = loop.link(client, BlockFetchServer(chain))
    start = time.perf_counter()
    loop.run()
    elapsed = time.perf_counter() - start
    assert client.blocks == len(chain) and not client.problems and not loop.violations
    return {
        "blocks": client.blocks,
        "block_bytes": client.bytes,
        "wire_bytes": link.sent_bytes,
        "seconds": round(elapsed, 3),
        "blocks_per_s": round(client.blocks / elapsed),
        "mb_per_s": round(link.sent_bytes / elapsed / 1e6, 2),
    }


def memory(headers: int) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    chain = ChainStore.synthetic(headers)
    store_now, store_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    follow(chain, headers, 100, validate=True)
    follow_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "headers": headers,
        "chain_store_peak_mb": round(store_peak / 1e6, 2),
        "store_bytes_per_block": round(store_peak / headers, 1),
        "follow_peak_mb": round(follow_peak / 1e6, 2),
        "follow_above_store_mb": round((follow_peak - store_now) / 1e6, 2),
    }


def main() -> None:
    quick = "--quick" in sys.argv
    headers = 2_000 if quick else 10_000
    chain = ChainStore.synthetic(headers)
    sync = []
    for depth in (1, 10, 100):
        row: dict[str, Any] = {"depth": depth, "headers": headers}
        for validate in (False, True):
            elapsed, _, _ = follow(chain, headers, depth, validate=validate)
            row["session" if validate else "wire_only"] = round(headers / elapsed)
        sync.append(row)
        print(f"chain-sync depth {depth}: {row}", flush=True)
    txs = [v.data for v in load_vectors() if v.id in TX_IDS]
    blocks, per_block = (300 if quick else 2_000), 30
    tx_chain = ChainStore.synthetic(
        blocks + 1, transactions=txs * (blocks * per_block // len(txs)), per_block=per_block
    )
    fetches = {
        ("session" if validate else "wire_only"): fetch(tx_chain, validate=validate) for validate in (False, True)
    }
    print(f"block-fetch: {fetches}", flush=True)
    sizes = (2_000, 10_000) if quick else (10_000, 100_000)
    memories = [memory(n) for n in sizes]
    print(f"memory: {memories}", flush=True)
    result = {
        "what": "sans-I/O chain-sync and block-fetch: our client against our server through wire.encode/"
        "decode, with and without a Session per protocol (virtual clock, no sockets)",
        "python": sys.version.split()[0],
        "quick": quick,
        "chain_sync_headers_per_s": sync,
        "block_fetch": fetches,
        "memory": memories,
        "targets": {"headers_per_s_at_depth_100": 10_000, "block_fetch_mb_per_s": 100},
        "notes": list(NOTES),
    }
    (RESULTS / "chain.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Chain side of the reference peer (sans-I/O)",
        "",
        f"Python {result['python']}; written by benchmarks/bench_chain.py{' --quick' if quick else ''}. "
        "Our client against our server through the wire layer on a virtual clock (no sockets); "
        "'session' adds the Session of each protocol, as a live connection validates.",
        "",
        "| chain-sync depth | headers | headers/s wire only | headers/s with session |",
        "|---|---|---|---|",
        *(f"| {r['depth']} | {r['headers']} | {r['wire_only']} | {r['session']} |" for r in sync),
        "",
        "| block-fetch | blocks | MB on the wire | blocks/s | MB/s |",
        "|---|---|---|---|---|",
        *(
            f"| {k} | {f['blocks']} | {f['wire_bytes'] / 1e6:.1f} | {f['blocks_per_s']} | {f['mb_per_s']} |"
            for k, f in fetches.items()
        ),
        "",
        "| headers | chain store peak MB | bytes per block | following peak MB | following above the store MB |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(str(m[key]) for key in MEMORY_COLUMNS) + " |" for m in memories),
        "",
        "Targets (issue 8, over loopback): 10,000 headers/s at depth 100; 100 MB/s of blocks; memory flat.",
        "",
        *(f"- {note}" for note in NOTES),
    ]
    (RESULTS / "chain.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
