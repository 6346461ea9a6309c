"""Throughput of the reference peer's transaction behaviours, sans I/O, with every message checked.

    python benchmarks/bench_peer_tx.py           # writes benchmarks/results/peer-tx.md

Why: the mempool and tx-submission2 sides must not be the bottleneck of a long run. A tx-submission2
outbound side (mempool of N synthetic Conway transactions) feeds an inbound side at the node's V1 batch
sizes and at larger ones; every message is encoded, observed by a Session and decoded, as over a socket.
Also: mempool admission (identify + add) per transaction, and local-tx-monitor MsgNextTx round trips.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections import deque
from pathlib import Path
from typing import Any

from conformance import wire
from conformance.peer.agent import Negotiated, Send
from conformance.peer.mempool import Mempool, wrap_gentx
from conformance.peer.tx_submission import TxSubmissionInbound, TxSubmissionOutbound
from conformance.protocol import FakeClock, Session
from conformance.wire.cbor import encode_item

RESULTS = Path(__file__).resolve().parent / "results" / "peer-tx.md"
N2N = Negotiated("node-to-node", 14)


def synthetic(count: int) -> list[bytes]:
    """Distinct, well-formed Conway GenTx (one input each), about 60 bytes."""
    return [
        wrap_gentx(6, encode_item([{0: [[bytes(32), i]], 1: [], 2: 170_000}, {}, True, None])) for i in range(count)
    ]


def run_pair(protocol: str, initiator: Any, responder: Any, version: int, window: int) -> tuple[int, int]:
    """Deliver every message until both sides are quiet; the number of messages and bytes."""
    session = Session(protocol, version, FakeClock(), window=window)
    sides = {"initiator": initiator, "responder": responder}
    queue: deque[tuple[str, wire.Message]] = deque()
    for side in sides:
        queue.extend((side, a.message) for a in sides[side].start() if isinstance(a, Send))
    messages = size = 0
    while queue:
        sender, message = queue.popleft()
        data = wire.encode(message)
        state = session.state
        session.observe(sender, data)
        decoded = wire.decode(protocol, data, state=state, version=version)
        messages, size = messages + 1, size + len(data)
        receiver = "responder" if sender == "initiator" else "initiator"
        queue.extend((receiver, a.message) for a in sides[receiver].on_message(decoded) if isinstance(a, Send))
    return messages, size


def tx_submission(count: int, window: int, max_ids: int, max_txs: int) -> dict[str, float]:
    txs = synthetic(count)
    outbound = TxSubmissionOutbound(Mempool(txs, capacity=10**9), N2N, window=window)
    inbound = TxSubmissionInbound(Mempool(capacity=10**9), N2N, window=window, max_ids=max_ids, max_txs=max_txs)
    start = time.perf_counter()
    messages, size = run_pair("tx-submission2", outbound, inbound, 14, window)
    seconds = time.perf_counter() - start
    if len(inbound.mempool) != count:
        raise SystemExit(f"only {len(inbound.mempool)} of {count} transactions crossed")
    return {"txs/s": count / seconds, "messages": messages, "bytes": size, "seconds": seconds}


def admission(count: int) -> float:
    txs = synthetic(count)
    start = time.perf_counter()
    Mempool(txs, capacity=10**9)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    count = 5000
    cases = [(10, 3, 2), (10, 10, 10), (100, 50, 50)]
    rows = [(case, tx_submission(count, *case)) for case in cases]
    lines = [
        "# Transaction behaviours of the reference peer",
        "",
        "Written by `python benchmarks/bench_peer_tx.py`; do not edit by hand.",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"- python: {platform.python_version()}, {platform.platform()}",
        f"- mempool admission (identify + add): {admission(count):.1f} us per transaction",
        "",
        f"tx-submission2, {count} synthetic Conway transactions, outbound to inbound, every message encoded,",
        "observed by a Session and decoded:",
        "",
        "| window | ids per request | txs per request | txs/s | messages | bytes |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for (window, max_ids, max_txs), result in rows:
        lines.append(
            f"| {window} | {max_ids} | {max_txs} | {result['txs/s']:,.0f} | {result['messages']:,.0f} | "
            f"{result['bytes']:,.0f} |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
