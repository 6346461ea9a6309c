"""Scenario loading and running cost: load-and-validate time per shipped scenario, and keep-alive rounds
per second through the runner over TCP loopback.

    python benchmarks/bench_scenario.py             # writes benchmarks/results/scenario.json and scenario.md
    python benchmarks/bench_scenario.py --quick

Why: a suite loads every scenario before it runs any (format errors first), and scenarios are also used
for long runs (repeat); the runner's own cost per step should stay far below the network's. Both ends of
the round-trip figure are the reference peer: a node-like `serve` (default behaviours) and the scripted
connection the `script` command opens.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import time
from pathlib import Path
from typing import Any

from conformance.peer.defaults import default_behaviours
from conformance.peer.node import PeerConfig, serve
from conformance.peer.scenario import load, loads, run
from conformance.peer.scenario.dial import open_peer

ROOT = Path(__file__).resolve().parents[1]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROUNDS = """name: rounds
steps:
  - repeat:
      times: {times}
      steps:
        - send: {{protocol: keep-alive, message: MsgKeepAlive, fields: {{cookie: 7}}}}
        - expect: {{protocol: keep-alive, message: MsgKeepAliveResponse, fields: {{cookie: 7}}}}
"""


def bench_load(repeats: int) -> dict[str, float]:
    out = {}
    for path in sorted((ROOT / "peers" / "scenarios").glob("*.yaml")):
        start = time.perf_counter()
        for _ in range(repeats):
            load(path)
        out[path.name] = (time.perf_counter() - start) / repeats * 1000
    return out


def bench_rounds(times: int) -> float:
    scenario = loads(ROUNDS.format(times=times), "rounds.yaml")

    async def go() -> float:
        config = PeerConfig(behaviours=default_behaviours("node-to-node", "responder"))
        async with await serve("127.0.0.1", 0, config) as server:
            start = time.perf_counter()
            result = await run(scenario, open_peer, address=("127.0.0.1", server.port))
            elapsed = time.perf_counter() - start
            if result.verdict != "pass":
                raise SystemExit(result.summary())
            return times / elapsed

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats, times = (20, 200) if args.quick else (200, 1000)
    figures: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_ms": bench_load(repeats),
        "keep_alive_rounds_per_s": bench_rounds(times),
        "rounds": times,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "scenario.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    lines = ["# Scenario benchmark", "", f"{figures['date']}, Python {figures['python']}", ""]
    lines += ["| scenario | load and validate (ms) |", "|---|---|"]
    lines += [f"| {name} | {ms:.2f} |" for name, ms in figures["load_ms"].items()]
    rate = figures["keep_alive_rounds_per_s"]
    lines += ["", f"Keep-alive round trips through the runner over loopback, against the reference peer: {rate:,.0f}/s"]
    lines += [f"({times} rounds, one `repeat`)."]
    (RESULTS_DIR / "scenario.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
