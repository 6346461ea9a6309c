"""The reference peer over loopback: our initiator against our responder, in one process.

    python benchmarks/bench_peer.py            # writes benchmarks/results/peer.json and peer.md

Why: the conformance suite opens a connection per scenario, so the handshake rate bounds how many
scenarios a run can afford, and the per-message path (SDU reader, mux checker, demultiplexer, Session,
behaviour, fair egress) bounds every longer exchange. Figures: handshakes per second (connect, N2N
handshake, close) one at a time and 20 at a time; N2C handshakes over a Unix socket; keep-alive round
trips per second on one connection (the smallest whole request/response through every layer).
The chain-sync headers/s and block-fetch MB/s figures come with the chain behaviours.

Each figure is the best of several samples; the machine is shared, so compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from conformance.peer import keep_alive
from conformance.peer.defaults import default_behaviours
from conformance.peer.node import PeerConfig, connect, connect_unix, serve, serve_unix
from conformance.wire import Message

RESULTS_DIR = Path(__file__).resolve().parent / "results"


async def _handshakes(count: int, parallel: int, open_one: Callable[[], Awaitable[Any]]) -> float:
    """Handshakes per second: `count` connections, `parallel` at a time, each closed after its handshake."""

    async def one() -> None:
        connection = await open_one()
        assert connection.negotiated is not None
        await connection.close()

    start = time.perf_counter()
    for _ in range(count // parallel):
        await asyncio.gather(*(one() for _ in range(parallel)))
    return (count // parallel) * parallel / (time.perf_counter() - start)


async def _keep_alive_rate(rounds: int) -> float:
    async with await serve(
        "127.0.0.1", 0, PeerConfig(behaviours=default_behaviours("node-to-node", "responder"))
    ) as server:
        client = await connect("127.0.0.1", server.port, PeerConfig(initiator_only=True))
        start = time.perf_counter()
        for cookie in range(rounds):
            await client.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": cookie & 0xFFFF}))
            await client.receive("keep-alive", timeout=10)
        rate = rounds / (time.perf_counter() - start)
        await client.close()
        return rate


async def _measure(count: int, samples: int) -> dict[str, float]:
    server_config = PeerConfig(behaviours=default_behaviours("node-to-node", "responder"))
    client_config = PeerConfig(behaviours={("keep-alive", "initiator"): keep_alive.client()})
    results: dict[str, float] = {}
    async with await serve("127.0.0.1", 0, server_config) as server:

        def tcp() -> Awaitable[Any]:
            return connect("127.0.0.1", server.port, client_config)

        results["n2n_handshakes_per_s_sequential"] = max([await _handshakes(count, 1, tcp) for _ in range(samples)])
        results["n2n_handshakes_per_s_20_parallel"] = max([await _handshakes(count, 20, tcp) for _ in range(samples)])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "node.socket")
        async with await serve_unix(path, PeerConfig(mode="node-to-client")):

            def unix() -> Awaitable[Any]:
                return connect_unix(path, PeerConfig(mode="node-to-client"))

            results["n2c_unix_handshakes_per_s_sequential"] = max(
                [await _handshakes(count, 1, unix) for _ in range(samples)]
            )
    results["keep_alive_round_trips_per_s"] = max([await _keep_alive_rate(count * 2) for _ in range(samples)])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="connections (and half the round trips) per sample")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    figures = asyncio.run(_measure(args.count, args.samples))
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "count": args.count,
        "samples": args.samples,
        "figures": {k: round(v, 1) for k, v in figures.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peer.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Reference peer over loopback (benchmarks/bench_peer.py)",
        "",
        f"{record['date']}, Python {record['python']}, {record['cpus']} CPUs (shared), best of {args.samples} samples "
        f"of {args.count} connections.",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {name.replace('_', ' ')} | {value:,.1f} |" for name, value in record["figures"].items()),
        "",
        "Chain-sync headers/s (pipelining 1, 10, 100), block-fetch MB/s and peak memory: with the chain behaviours.",
    ]
    (args.out / "peer.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps(record["figures"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
