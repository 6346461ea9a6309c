"""Rendering a report: figures go to benchmarks/results/report.json and .md.

A run folder the size of a full suite run: 300 cases with one record each (30 failed, 10 non-strict, 10
xfail), every case with a keep-alive transcript of its own, and one case that followed 2,000 headers and
fetched their blocks (a large transcript: every SDU and message in both directions). All evidence is written
by the reference peer over loopback sockets, once, before the clock starts. Measured: `load_run` + `render`
wall time (best of 3) and the size of the files written, for one run and for three runs in one matrix.

Run: .venv/bin/python benchmarks/bench_report.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from report.runfolder import copy_evidence, keep_alive_evidence, record, write_run  # noqa: E402

from conformance.peer.chain import ChainStore  # noqa: E402
from conformance.peer.chain_roles import follow_chain, serve_chain  # noqa: E402
from conformance.peer.node import PeerConfig, connect, serve  # noqa: E402
from conformance.report import load_run, render  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
REQUIREMENTS = ("KA-COOKIE-01", "KA-RESP-01", "CS-AWAIT-01", "CS-ROLLBACK-01", "BF-RANGE-01", "HS-ACCEPT-02")


def chain_evidence(folder: Path, headers: int) -> Path:
    """The reference peer following `headers` headers (and fetching the blocks) from itself; its transcript."""

    async def main() -> None:
        chain = ChainStore.synthetic(headers)
        served = {k: f for k, f in serve_chain(chain).items() if k[0] != "local-chain-sync"}
        following = {k: f for k, f in follow_chain(headers=headers, depth=10).items() if k[0] != "local-chain-sync"}
        server = await serve("127.0.0.1", 0, PeerConfig(behaviours=served))
        client = await connect("127.0.0.1", server.port, PeerConfig(behaviours=following, transcript_dir=folder))
        for _ in range(6000):
            if ("chain-sync", "initiator") in client.finished and ("block-fetch", "initiator") in client.finished:
                break
            await asyncio.sleep(0.01)
        await client.close()
        await server.close()

    asyncio.run(asyncio.wait_for(main(), 120))
    return folder


def make_run(folder: Path, label: str, keep_alive: Path, chain: Path, cases: int) -> Path:
    records: list[dict[str, Any]] = []
    for index in range(cases):
        outcome = (
            "failed"
            if index % 10 == 0
            else "non-strict"
            if index % 30 == 1
            else "xfail"
            if index % 30 == 2
            else "passed"
        )
        requirement = "PS-AMOUNT-01" if outcome == "non-strict" else REQUIREMENTS[index % len(REQUIREMENTS)]
        slug = copy_evidence(chain if index == 0 else keep_alive, folder, f"case-{index:04d}")
        message = "" if outcome == "passed" else f"case {index}: {outcome}"
        records.append(record(f"test_bench.py::test_case_{index}", requirement, outcome, message, evidence=slug))
    return write_run(folder, label, records)


def best_of(runs: int, action: Any) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    cases, headers = (60, 300) if quick else (300, 2000)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as work:
        root = Path(work)
        keep_alive = keep_alive_evidence(root / "made" / "keep-alive")
        chain = chain_evidence(root / "made" / "chain", headers)
        chain_bytes = sum(p.stat().st_size for p in chain.glob("*.jsonl"))
        folders = [make_run(root / f"run{i}", f"run {i}", keep_alive, chain, cases) for i in range(3)]

        def one() -> None:
            render([load_run(folders[0])], root / "out1")

        def three() -> None:
            render([load_run(f) for f in folders], root / "out3")

        figures = {
            "cases_per_run": cases,
            "headers_in_large_transcript": headers,
            "large_transcript_jsonl_bytes": chain_bytes,
            "one_run_seconds": round(best_of(3, one), 3),
            "three_runs_seconds": round(best_of(3, three), 3),
            "one_run_html_bytes": (root / "out1" / "report.html").stat().st_size,
            "one_run_markdown_bytes": (root / "out1" / "summary.md").stat().st_size,
            "three_runs_html_bytes": (root / "out3" / "report.html").stat().st_size,
        }
        shutil.rmtree(root / "made")
    print(json.dumps(figures, indent=1))
    if not quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "report.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        lines = [
            "# Report rendering",
            "",
            "`benchmarks/bench_report.py`: `load_run` + `render` of a suite-sized run folder (best of 3).",
            "",
            "| figure | value |",
            "| --- | --- |",
            *(f"| {key} | {value} |" for key, value in figures.items()),
            "",
        ]
        (RESULTS / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
