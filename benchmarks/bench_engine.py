"""The session engine under hostile input and on long traces; figures go to benchmarks/results/engine.json.

1. Ill-typed messages built in code (tests/protocol/hostile.py), for every (protocol, state, message)
   where the message is legal: how many were fed, and how many raised anything but a `Violation`.
2. The cost of all-or-nothing observe: long chain-sync and tx-submission2 traces (pipelined) observed from
   bytes; the time spent taking the rules snapshots that make a drained request undoable, per snapshot and
   as a share of the whole observe time.

Run: .venv/bin/python benchmarks/bench_engine.py [examples per case, default 200]
(engine-before.json: the hostile count of the same probe on the engine before all-or-nothing observe.)
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance import wire  # noqa: E402
from conformance.protocol import TABLES, FakeClock, Session, Violation  # noqa: E402
from conformance.protocol.rules import Rules  # noqa: E402
from conformance.vectors import load_vectors  # noqa: E402
from conformance.wire.message import Message  # noqa: E402
from tests.protocol.hostile import cases, ill_typed, reach  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "engine.json"
INI, RES = "initiator", "responder"


class Tally:
    def __init__(self) -> None:
        self.fed = 0
        self.failures: Counter[str] = Counter()


def _feed(protocol: str, state: str, name: str, examples: int, tally: Tally) -> None:
    sender = TABLES[protocol].sender_of(name)

    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def feed(data: st.DataObject) -> None:
        session = reach(data, protocol, state, on_violation="record")
        if session is None:
            return
        session.on_violation = "raise"
        message = data.draw(ill_typed(protocol, name))
        tally.fed += 1
        try:
            session.observe(sender, message)
        except Violation:
            pass
        except Exception as error:  # noqa: BLE001 - counting exactly what escapes
            tally.failures[f"{protocol}:{name}:{type(error).__name__}"] += 1

    feed()


def hostile(examples: int) -> dict[str, Any]:
    tally = Tally()
    for protocol, state, name in cases():
        _feed(protocol, state, name, examples, tally)
    return {
        "examples_per_case": examples,
        "cases": len(cases()),
        "fed": tally.fed,
        "failures": sum(tally.failures.values()),
        "message_kinds_failing": len({key.rsplit(":", 1)[0] for key in tally.failures}),
        "by_kind": dict(sorted(tally.failures.items())),
    }


# -- long traces ----------------------------------------------------------------------------------------


def chain_sync_trace(rounds: int, depth: int = 50) -> Iterator[tuple[str, bytes]]:
    """`depth` pipelined MsgRequestNext, then their `depth` replies (each reply drains the next request)."""
    vectors = {vector.id: vector.data for vector in load_vectors()}
    request, forward = vectors["cs-gouroboros-msgrequestnext-8100"], vectors["cs-gouroboros-rollforward-ntn-shelley"]
    for _ in range(rounds):
        yield from ((INI, request) for _ in range(depth))
        yield from ((RES, forward) for _ in range(depth))


def _ids(first: int, count: int) -> list[bytes]:
    return [bytes.fromhex("82015820") + n.to_bytes(32, "big") for n in range(first, first + count)]


def _list(items: list[bytes]) -> bytes:
    return b"\x9f" + b"".join(items) + b"\xff"


def tx_submission_trace(rounds: int, window: int = 10) -> Iterator[tuple[str, bytes]]:
    """After 10 ids: rounds of MsgRequestTxs for the oldest half, a pipelined MsgRequestTxIds acknowledging
    them and asking for as many, the (empty) MsgReplyTxs that uncovers it, then the new ids. Every id is
    requested once, so the set of ids ever asked for keeps growing, and every round drains a request."""
    half = window // 2

    def request_ids(blocking: bool, ack: int, req: int) -> bytes:
        fields = {"blocking": blocking, "ack": ack, "req": req}
        return wire.encode(Message("tx-submission2", "MsgRequestTxIds", fields))

    def reply_ids(first: int, count: int) -> bytes:
        return b"\x82\x01" + _list([b"\x82" + txid + b"\x18\x64" for txid in _ids(first, count)])

    yield INI, wire.encode(Message("tx-submission2", "MsgInit", {}))
    yield RES, request_ids(True, 0, window)
    yield INI, reply_ids(0, window)
    for number in range(rounds):
        yield RES, b"\x82\x02" + _list(_ids(number * half, half))
        yield RES, request_ids(False, half, half)
        yield INI, bytes.fromhex("82039fff")
        yield INI, reply_ids(window + number * half, half)


def _run(protocol: str, trace: list[tuple[str, bytes]]) -> float:
    session = Session(protocol, clock=FakeClock())
    started = time.perf_counter()
    for sender, data in trace:
        session.observe(sender, data)
    assert session.violations == [] and session.warnings == [], session.warnings
    return time.perf_counter() - started


def snapshot_cost() -> dict[str, Any]:
    """Time inside `Rules.snapshot` against the whole observe time (best of three runs each)."""
    traces = {
        "chain-sync, pipelined 50 deep": [("chain-sync", list(chain_sync_trace(r))) for r in (20, 80)],
        "tx-submission2, 5 new ids a round, pipelined": [
            ("tx-submission2", list(tx_submission_trace(r))) for r in (250, 1000, 4000)
        ],
    }
    real = Rules.snapshot
    spent = [0.0, 0]

    def timed(self: Rules) -> Any:
        started = time.perf_counter()
        try:
            return real(self)
        finally:
            spent[0] += time.perf_counter() - started
            spent[1] += 1

    out: dict[str, Any] = {}
    Rules.snapshot = timed  # type: ignore[method-assign]
    try:
        for title, runs in traces.items():
            for protocol, trace in runs:
                best: tuple[float, float, int] | None = None
                for _ in range(3):
                    spent[:] = [0.0, 0]
                    total = _run(protocol, trace)
                    if best is None or total < best[0]:
                        best = (total, spent[0], int(spent[1]))
                assert best is not None
                total, snapshots, calls = best
                out[f"{title}: {len(trace)} messages"] = {
                    "us_per_message": round(1e6 * total / len(trace), 1),
                    "snapshots": calls,
                    "us_per_snapshot": round(1e6 * snapshots / max(calls, 1), 2),
                    "snapshot_share_percent": round(100 * snapshots / total, 2),
                }
    finally:
        Rules.snapshot = real  # type: ignore[method-assign]
    return out


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    started = time.perf_counter()
    results: dict[str, Any] = {"snapshot_cost": snapshot_cost(), "hostile": hostile(examples)}
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
