"""Cost of decoding at a negotiated version, and of the strict GenTx / GenTxId shapes, on golden bytes.

    python benchmarks/bench_versions.py         # writes benchmarks/results/versions.md

Why: every message a session observes is decoded at the negotiated version (a context variable is set
for the message), and every transaction is checked against the Cardano GenTx shape (including the
well-formedness of its tag-24 content). Small messages show the fixed cost; the figures are the best of
several samples (microseconds per decode).
"""

from __future__ import annotations

import datetime as dt
import platform
import timeit
from pathlib import Path

from conformance import wire
from conformance.vectors import load_vectors

RESULTS = Path(__file__).resolve().parent / "results" / "versions.md"
CASES = [
    ("keep-alive MsgKeepAlive", "ka-gouroboros-msgkeepalive", 14),
    ("peer-sharing MsgSharePeers (IPv4)", "ps-gouroboros-sharepeers-ipv4", 14),
    ("peer-sharing MsgSharePeers (v11 IPv6)", "ours-ps-sharepeers-ipv6-v11", 11),
    ("local-tx-submission MsgSubmitTx (Conway GenTx)", "ours-lts-submittx-conway", 23),
    ("local-tx-monitor MsgReplyNextTx (Babbage GenTx)", "ltm-pallas-replynexttx-babbage", 23),
    ("local-tx-monitor MsgGetMeasures", "ours-ltm-getmeasures", 23),
]


def per_decode(protocol: str, data: bytes, state: str | None, version: int | None) -> float:
    """Best of 5 samples, microseconds per decode."""
    number = 2000
    samples = timeit.repeat(lambda: wire.decode(protocol, data, state, version), number=number, repeat=5)
    return min(samples) / number * 1e6


def main() -> None:
    vectors = {v.id: v for v in load_vectors()}
    rows = []
    for name, vector_id, version in CASES:
        vector = vectors[vector_id]
        plain = per_decode(vector.protocol, vector.data, vector.state, None)
        at = per_decode(vector.protocol, vector.data, vector.state, version)
        rows.append(f"| {name} | {len(vector.data)} | {plain:.1f} | v{version}: {at:.1f} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        "# Decoding at a version\n\n"
        "Written by `python benchmarks/bench_versions.py`; do not edit by hand. Microseconds per decode, best of 5.\n\n"
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        f"- python: {platform.python_version()}, {platform.platform()}\n\n"
        "| message | bytes | no version (us) | at a version (us) |\n|---|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
