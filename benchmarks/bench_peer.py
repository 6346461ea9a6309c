"""The reference peer over loopback: our initiator against our responder.

    python benchmarks/bench_peer.py            # writes benchmarks/results/peer.json and peer.md (~2 min)

Why: the conformance suite opens a connection per scenario, so the handshake rate bounds how many
scenarios a run can afford, and the per-message path (SDU reader, mux checker, demultiplexer, Session,
behaviour, fair egress) bounds every longer exchange. Figures: handshakes per second (connect, N2N
handshake, close) one at a time and 20 at a time; N2C handshakes over a Unix socket; keep-alive round
trips per second on one connection (the smallest whole request/response through every layer).

Chain figures (issue 8 targets: >= 10,000 headers/s at depth 100, >= 100 MB/s of blocks, flat memory):
chain-sync headers/s followed with 1, 10 and 100 requests in flight (headers only, no block-fetch) and
block-fetch (follow + fetch; MB/s = bytes of blocks / time), each measured two ways: in-process (both
ends in one event loop, so the figure is the sum of both ends' costs on one core) and two processes (a
`serve` subprocess, our initiator in this process: each end on its own core, as against a real node).
Peak memory is the max RSS of a `connect --headers N` subprocess (follow + fetch) at 10k and 100k
headers against a `serve` subprocess: flat when the two agree. Mainnet-sized blocks (`serve
--block-size`, 64 KB) give MB/s where bytes, not per-block costs, dominate, beside the speed of the one
well-formedness pass a receiver makes over each block. A cProfile of the in-process runs gives the top
costs per header and per block. Every run is bounded by a timeout.

Each figure is the best of several samples; the machine is shared, so compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import gc
import json
import os
import platform
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from conformance.peer import keep_alive
from conformance.peer.chain import ChainStore
from conformance.peer.chain_roles import follow_chain, serve_chain
from conformance.peer.defaults import default_behaviours
from conformance.peer.mempool import golden_ledger_transactions
from conformance.peer.node import PeerConfig, connect, connect_unix, serve, serve_unix
from conformance.wire import Message
from conformance.wire.cbor import check_well_formed, scan

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


MAGIC = 42
DEPTHS = (1, 10, 100)
RUN_TIMEOUT = 120.0
"""Seconds any one follow run may take before the benchmark gives up on it."""


async def _follow(port: int, headers: int, depth: int, fetch: bool) -> dict[str, float]:
    """Follow `headers` headers from the responder at `port` (and fetch their blocks with `fetch`);
    time from the TCP connect to the last initiator behaviour finished (handshake included)."""
    config = PeerConfig(
        magic=MAGIC,
        initiator_only=True,
        behaviours=follow_chain(headers=headers, depth=depth, fetch=fetch),
        transcript_memory=0,
    )
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    client = await connect("127.0.0.1", port, config)
    wanted = [key for key in client.behaviours if key[1] == "initiator"]
    deadline = loop.time() + RUN_TIMEOUT
    while not all(key in client.finished for key in wanted) and not client.closed.done():
        if loop.time() > deadline:
            await client.close()
            raise TimeoutError(f"following {headers} headers at depth {depth} took over {RUN_TIMEOUT} s")
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - start
    summary: dict[str, Any] = {}
    for behaviour in client.behaviours.values():
        report = getattr(behaviour, "summary", None)  # the chain behaviours report their figures
        if callable(report):
            summary.update(report())
    await client.close()
    problems = summary.get("chain_problems", []) + summary.get("block_problems", []) + client.violations
    if problems or summary.get("headers") != headers or (fetch and summary.get("blocks") != headers):
        raise RuntimeError(f"follow run failed: {summary} {client.violations}")
    return {"seconds": elapsed, "headers": headers, "block_bytes": summary.get("block_bytes", 0)}


async def _follow_all(port: int, headers: int, fetch_headers: int, samples: int) -> dict[str, float]:
    """Headers/s at every depth (headers only) and block-fetch figures (depth 100, follow + fetch)."""
    out: dict[str, float] = {}
    for depth in DEPTHS:
        runs = [await _follow(port, headers, depth, fetch=False) for _ in range(samples)]
        out[f"headers_per_s_depth_{depth}"] = max(headers / r["seconds"] for r in runs)
    runs = [await _follow(port, fetch_headers, 100, fetch=True) for _ in range(samples)]
    best = min(runs, key=lambda r: r["seconds"])
    out["fetch_blocks_per_s_depth_100"] = fetch_headers / best["seconds"]
    out["fetch_block_MB_per_s"] = best["block_bytes"] / best["seconds"] / 1e6
    out["fetch_mean_block_bytes"] = best["block_bytes"] / fetch_headers
    return out


async def _in_process(chain: ChainStore, headers: int, fetch_headers: int, samples: int) -> dict[str, float]:
    """Both ends in this event loop: one core does the work of both."""
    config = PeerConfig(magic=MAGIC, behaviours=serve_chain(chain), transcript_memory=0)
    async with await serve("127.0.0.1", 0, config) as server:
        return await _follow_all(server.port, headers, fetch_headers, samples)


@contextlib.contextmanager
def _serve_process(chain_length: int, block_size: int = 0) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`ouroboros-conformance serve --port 0` in a subprocess; yields it and its port, stops it after."""
    command = [sys.executable, "-m", "conformance.cli", "serve", "--port", "0", "--magic", str(MAGIC)]
    command += ["--chain-length", str(chain_length), "--lifetime", str(RUN_TIMEOUT * 4)]
    command += ["--block-size", str(block_size)] if block_size else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded by --lifetime: EOF when the server exits
        port = json.loads(line)["listening"]["port"]
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _high_water_mb(pid: int) -> float | None:
    """The process's peak RSS since its exec (VmHWM), in MB; None once it is gone. Not ru_maxrss: that
    also counts the pages of this (large) parent shared with the child between fork and exec."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reap(process: subprocess.Popen[Any], timeout: float) -> tuple[int, float]:
    """Wait (bounded) for `process`; its exit status and peak RSS in MB (VmHWM, sampled until it exits)."""
    deadline = time.monotonic() + timeout
    peak = 0.0
    while True:
        peak = max(peak, _high_water_mb(process.pid) or 0.0)  # VmHWM only grows: the last sample is the peak
        pid, status, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, peak
        if time.monotonic() > deadline:
            process.kill()
            deadline = time.monotonic() + 10
        time.sleep(0.02)


def _connect_rss(port: int, headers: int) -> dict[str, float]:
    """A `connect --headers N --depth 100` subprocess (follow + fetch): its max RSS (MB) and blocks/s."""
    command = [sys.executable, "-m", "conformance.cli", "connect", f"127.0.0.1:{port}", "--magic", str(MAGIC)]
    command += ["--headers", str(headers), "--depth", "100", "--timeout", str(RUN_TIMEOUT)]
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out)
        code, rss = _reap(process, RUN_TIMEOUT + 30)
        seconds = time.perf_counter() - start
        out.seek(0)
        lines = out.read().strip().splitlines()
    result = json.loads(lines[-1]) if lines else {}
    if code != 0 or result.get("headers") != headers or result.get("blocks") != headers:
        raise RuntimeError(f"connect --headers {headers} failed (exit {code}): {result}")
    return {"max_rss_MB": rss, "blocks_per_s": headers / seconds}


def _two_processes(headers: int, fetch_headers: int, samples: int, memory: tuple[int, ...]) -> dict[str, float]:
    """A `serve` subprocess; our initiator in this process, then `connect` subprocesses for memory."""
    out: dict[str, float] = {}
    with _serve_process(max(memory + (headers, fetch_headers))) as (server, port):
        out.update(asyncio.run(_follow_all(port, headers, fetch_headers, samples)))
        for count in memory:
            for name, value in _connect_rss(port, count).items():
                out[f"connect_{count // 1000}k_headers_{name}"] = value
        server.send_signal(signal.SIGTERM)
        _, out["serve_process_max_rss_MB"] = _reap(server, 20)
    return out


def _big_blocks(blocks: int, samples: int, block_size: int) -> dict[str, float]:
    """Follow + fetch of mainnet-sized blocks (`serve --block-size`), two processes, and the cost of the one
    well-formedness check a receiver makes of such a block (on a fresh copy each time: none is remembered)."""
    with _serve_process(blocks + 10, block_size) as (_, port):
        runs = [asyncio.run(_follow(port, blocks, 100, fetch=True)) for _ in range(samples)]
    best = min(runs, key=lambda r: r["seconds"])
    block = ChainStore.synthetic(3, block_size=block_size, filler=golden_ledger_transactions()).block(2)
    copies = [bytes(bytearray(block)) for _ in range(200)]
    start = time.perf_counter()
    for copy in copies:
        check_well_formed(copy)
    one_pass = (time.perf_counter() - start) / len(copies)
    return {
        "big_blocks_per_s": blocks / best["seconds"],
        "big_block_MB_per_s": best["block_bytes"] / best["seconds"] / 1e6,
        "big_mean_block_bytes": best["block_bytes"] / blocks,
        "one_check_pass_us": one_pass * 1e6,
        "one_check_pass_MB_per_s": len(block) / one_pass / 1e6,
    }


def _profile(chain: ChainStore, headers: int) -> dict[str, list[dict[str, Any]]]:
    """cProfile of in-process runs at depth 100, in microseconds per header (headers only) and per block
    (follow + fetch minus the headers-only run, function by function): the top 5 functions by own time,
    and the top 10 of the project's functions by inclusive time (which layer the time is spent under)."""
    tables: dict[str, dict[Any, Any]] = {}
    for kind, fetch in (("header", False), ("block", True)):
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(_in_process_once(chain, headers, fetch))
        profiler.disable()
        tables[kind] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    out: dict[str, list[dict[str, Any]]] = {}
    for column, top_n, ours_only in ((2, 5, False), (3, 10, True)):
        cost = {kind: {key: row[column] for key, row in stats.items()} for kind, stats in tables.items()}
        per_block = {key: t - cost["header"].get(key, 0.0) for key, t in cost["block"].items()}
        for kind, costs in (("per_header", cost["header"]), ("per_block", per_block)):
            rows = [(key, t) for key, t in costs.items() if not ours_only or "/conformance/" in key[0]]
            top = sorted(rows, key=lambda item: item[1], reverse=True)[:top_n]
            name = kind if column == 2 else f"{kind}_inclusive"
            out[name] = [
                {"function": f"{_where(f)}:{line} {fn}", "us": round(t / headers * 1e6, 2)} for (f, line, fn), t in top
            ]
    return out


def _where(filename: str) -> str:
    """A profiled function's file as package/module.py (the last two parts of its path)."""
    return "/".join(Path(filename).parts[-2:]) if filename != "~" else "builtin"


async def _in_process_once(chain: ChainStore, headers: int, fetch: bool) -> None:
    config = PeerConfig(magic=MAGIC, behaviours=serve_chain(chain), transcript_memory=0)
    async with await serve("127.0.0.1", 0, config) as server:
        await _follow(server.port, headers, 100, fetch)


def _markdown(record: dict[str, Any]) -> list[str]:
    f = record["figures"]
    hs, fetch = record["headers"], record["fetch_headers"]

    def row(name: str, key: str, target: str = "") -> str:
        cells = [f"{f.get(f'{where}_{key}', float('nan')):,.1f}" for where in ("in_process", "two_processes")]
        return f"| {name} | {cells[0]} | {cells[1]} | {target} |"

    memory = [
        f"| {count // 1000}k | {f[f'two_processes_connect_{count // 1000}k_headers_max_rss_MB']:,.1f} | "
        f"{f[f'two_processes_connect_{count // 1000}k_headers_blocks_per_s']:,.0f} |"
        for count in record["memory_headers"]
    ]
    profile = record["profile"]
    return [
        "# Reference peer over loopback (benchmarks/bench_peer.py)",
        "",
        f"{record['date']}, Python {record['python']}, {record['cpus']} CPUs (shared with other work), "
        f"best of {record['samples']} samples. Our initiator against our responder over 127.0.0.1 TCP.",
        "",
        f"## Handshakes and keep-alive (in-process, best of samples of {record['count']} connections)",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {name.replace('_', ' ')} | {f[name]:,.1f} |" for name in record["handshake_figures"]),
        "",
        f"## Chain-sync and block-fetch ({hs:,} headers per follow run, {fetch:,} blocks per fetch run)",
        "",
        "In-process: both ends in one event loop (one core does both ends' work). Two processes: a `serve`",
        "subprocess and our initiator in the benchmark process, each on its own core, as against a real node.",
        "Headers-only runs follow without block-fetch; the fetch runs follow at depth 100 and fetch every block",
        "(ranges of 100). Times include TCP connect and handshake.",
        "",
        "| figure | in-process | two processes | issue 8 target |",
        "|---|---|---|---|",
        row("chain-sync headers/s, depth 1", "headers_per_s_depth_1"),
        row("chain-sync headers/s, depth 10", "headers_per_s_depth_10"),
        row("chain-sync headers/s, depth 100", "headers_per_s_depth_100", ">= 10,000"),
        row("follow + fetch, blocks/s", "fetch_blocks_per_s_depth_100"),
        row("follow + fetch, MB/s of blocks (empty blocks: bound per block, see below)", "fetch_block_MB_per_s"),
        row("mean block size, bytes", "fetch_mean_block_bytes"),
        "",
        f"## Mainnet-sized blocks ({record['big_blocks']:,} blocks of {record['block_size']:,}+ bytes, two processes)",
        "",
        "`serve --block-size` fills every block with copies of the golden ledger transactions; our initiator",
        "follows at depth 100 and fetches and checks every block (well-formedness, header hash, body hash).",
        "",
        "| figure | value | issue 8 target |",
        "|---|---|---|",
        f"| follow + fetch, blocks/s | {f['big_blocks_per_s']:,.1f} | |",
        f"| follow + fetch, MB/s of blocks | {f['big_block_MB_per_s']:,.1f} | >= 100 |",
        f"| mean block size, bytes | {f['big_mean_block_bytes']:,.0f} | |",
        f"| one well-formedness check of one block ({record['checker']}), us | {f['one_check_pass_us']:,.1f} | |",
        f"| the same check alone, MB/s | {f['one_check_pass_MB_per_s']:,.1f} | |",
        "",
        "## Peak memory as the chain grows",
        "",
        "Max RSS of a `connect --headers N --depth 100` subprocess (follow + fetch, every header and block",
        "checked) against the `serve` subprocess:",
        "",
        "| headers | connect max RSS, MB | blocks/s (process start included) |",
        "|---|---|---|",
        *memory,
        "",
        f"The `serve` subprocess (holding a synthetic chain of {max(record['memory_headers']):,} blocks) peaked at "
        f"{f['two_processes_serve_process_max_rss_MB']:,.1f} MB; the chain store grows with the chain by design.",
        "",
        f"## Where the time goes (cProfile, in-process, depth 100, {record['profile_headers']:,} headers)",
        "",
        "Top 5 functions by own time. Per header: a headers-only run, both ends. Per block: the follow + fetch",
        "run minus the headers-only run, function by function (so it is the extra cost of block-fetch).",
        "Profiling slows everything down about 2x; compare the rows, not the sums, to the figures above.",
        "",
        "| per header | us | per block | us |",
        "|---|---|---|---|",
        *(
            f"| `{h['function']}` | {h['us']} | `{b['function']}` | {b['us']} |"
            for h, b in zip(profile["per_header"], profile["per_block"], strict=True)
        ),
        "",
        "Inclusive time (the function and everything it calls), the project's functions only, top 10:",
        "",
        "| per header, inclusive | us | per block, inclusive | us |",
        "|---|---|---|---|",
        *(
            f"| `{h['function']}` | {h['us']} | `{b['function']}` | {b['us']} |"
            for h, b in zip(profile["per_header_inclusive"], profile["per_block_inclusive"], strict=True)
        ),
        "",
        *NOTES,
    ]


NOTES = [
    "## Reading the figures",
    "",
    "- Every message crosses, on both ends, the SDU reader, the mux checker, the demultiplexer, a `Session`",
    "  (state machine, wire declaration, per-protocol facts) and the behaviour, and every message we send",
    "  goes through our own `Session` first (`connection._send`), in pure Python. Per header each end spends",
    "  about 100 us; the two ends are about equally loaded, so the headers/s figure needs both to get faster.",
    "- Blocks: the receiver checks that every block is one well-formed CBOR item (as the node's decoder",
    "  does) in one pass of the native scanner (`wire/cbor/_wellformed.c`; it only says yes or no, the",
    "  Python scanner locates every no), which keeps the offsets of the header and body parts on the way",
    "  (the body hash needs them); the sender vouches for the blocks its chain store renders instead of",
    "  walking them again in its own check. Where the native scanner is not built (no C compiler at",
    "  install) cbor2's C decoder makes that pass at about 120 MB/s, which caps a receiver near 55 MB/s.",
    "- MB/s depends on block size: the synthetic blocks of the first table are empty (mean block size",
    "  above), so that fetch figure is bounded per block, not per byte; the mainnet-sized run shows bytes.",
    "- In-process figures put both ends on one core; two processes give each end its own core, as against a",
    "  real node, but the machine is shared, so the two-process figures vary most from run to run.",
    "  Depth 1 to 10 hides the round trips; beyond that the run is CPU-bound.",
    "- Memory is flat: the follower keeps only the last k headers, the fetcher only the ranges in flight,",
    "  and a connection keeps at most `transcript_memory` transcript entries (10,000 by default, reached",
    "  by both runs), so `connect` peaks at the same RSS at 10k and 100k headers. The serving side holds",
    "  its whole chain store and grows with the chain by design.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="connections (and half the round trips) per sample")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--headers", type=int, default=10_000, help="headers per headers-only follow run")
    parser.add_argument("--fetch-headers", type=int, default=10_000, help="blocks per follow + fetch run")
    parser.add_argument("--memory", type=int, nargs="+", default=[10_000, 100_000], help="headers per memory run")
    parser.add_argument("--profile-headers", type=int, default=5_000)
    parser.add_argument("--big-blocks", type=int, default=3_000, help="blocks per mainnet-sized fetch run")
    parser.add_argument("--block-size", type=int, default=65_536, help="bytes of each mainnet-sized block")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    figures = asyncio.run(_measure(args.count, args.samples))
    handshake_figures = list(figures)
    chain = ChainStore.synthetic(max(args.headers, args.fetch_headers, args.profile_headers))
    for name, value in asyncio.run(_in_process(chain, args.headers, args.fetch_headers, args.samples)).items():
        figures[f"in_process_{name}"] = value
    print(json.dumps(figures, indent=2), flush=True)
    # What this process built so far (the in-process runs' chain and connections) is not the client's: frozen,
    # the collector does not rescan it, so the two-process figures are those of a fresh client (as `connect`).
    gc.collect()
    gc.freeze()
    two = _two_processes(args.headers, args.fetch_headers, args.samples, tuple(args.memory))
    figures.update({f"two_processes_{name}": value for name, value in two.items()})
    figures.update(_big_blocks(args.big_blocks, args.samples, args.block_size))
    profile = _profile(chain, args.profile_headers)
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "count": args.count,
        "samples": args.samples,
        "headers": args.headers,
        "fetch_headers": args.fetch_headers,
        "memory_headers": args.memory,
        "profile_headers": args.profile_headers,
        "big_blocks": args.big_blocks,
        "block_size": args.block_size,
        "checker": "native scanner" if scan.NATIVE else "cbor2: the native scanner is not built",
        "handshake_figures": handshake_figures,
        "figures": {k: round(v, 1) for k, v in figures.items()},
        "profile": profile,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peer.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (args.out / "peer.md").write_text("\n".join(_markdown(record)) + "\n", encoding="utf-8")
    print(json.dumps(record["figures"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
