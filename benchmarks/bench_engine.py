"""The session engine under hostile input and on long traces; figures go to benchmarks/results/engine.json.

1. Ill-typed messages built in code (tests/protocol/hostile.py), for every (protocol, state, message)
   where the message is legal: how many were fed, and how many raised anything but a `Violation`.
2. The cost of all-or-nothing observe: a long chain-sync and tx-submission2 trace observed from bytes,
   with the rules snapshot that makes a move undoable, and with it replaced by a no-op.

Run: .venv/bin/python benchmarks/bench_engine.py [examples per case, default 200]
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.protocol import TABLES, Violation  # noqa: E402
from tests.protocol.hostile import cases, ill_typed, reach  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "engine.json"


def hostile(examples: int) -> dict[str, Any]:
    fed = 0
    failures: Counter[str] = Counter()
    kinds: set[tuple[str, str]] = set()
    record = _has_record_mode()
    for protocol, state, name in cases():
        table = TABLES[protocol]

        @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def feed(data: st.DataObject) -> None:
            nonlocal fed
            options = {"on_violation": "record"} if record else {}
            session = reach(data, protocol, state, **options)
            if session is None:
                return
            session.on_violation = "raise" if record else getattr(session, "on_violation", "raise")
            message = data.draw(ill_typed(protocol, name))
            fed += 1
            try:
                session.observe(table.sender_of(name), message)
            except Violation:
                pass
            except Exception as error:  # noqa: BLE001 - counting exactly what escapes
                failures[f"{protocol}:{name}:{type(error).__name__}"] += 1
                kinds.add((protocol, name))

        feed()
    return {
        "examples_per_case": examples,
        "cases": len(cases()),
        "fed": fed,
        "failures": sum(failures.values()),
        "message_kinds_failing": len(kinds),
        "by_kind": dict(sorted(failures.items())),
    }


def _has_record_mode() -> bool:
    from conformance.protocol import Session

    try:
        Session("keep-alive", on_violation="record")
    except TypeError:
        return False
    return True


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    started = time.perf_counter()
    results: dict[str, Any] = {"hostile": hostile(examples)}
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
