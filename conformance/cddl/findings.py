"""The recorded findings, vectors/cddl-findings.yaml: computing, loading and writing them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..data import vectors_dir
from .explain import classify
from .known_deviations import amended, deviation
from .spec import flattened
from .verdicts import mutation_verdicts, original_verdicts

# --------------------------------------------------------------------------------------------------
# The recorded findings: vectors/cddl-findings.yaml.

FINDINGS_FILE = vectors_dir() / "cddl-findings.yaml"

_FINDINGS_HEADER = """\
# Where our decoder (conformance.wire) and the upstream CDDL (conformance.cddl, pycddl) disagree.
# Regenerate with `python -m conformance.cddl findings --write`; explanations already here are kept.
#
# findings: golden message vectors, unmutated (mutation: original) and mutated (conformance.cddl.mutations):
#   decoder / cddl: accepts or rejects; schema: the CDDL used (protocol, plus the deviations whose amendment
#   applies to the vector); cause: deviation:<id> or validator:<id> (conformance/cddl_deviations.yaml).
#   Our decoder accepting what the CDDL rejects is a decoder bug: tests/test_cddl.py allows none.
# tests/test_cddl.py fails on a disagreement that is not recorded here and on a record that no longer occurs.
"""


def compute_findings(vectors: Iterable[Any]) -> list[dict[str, Any]]:
    """Every disagreement on golden vectors (unmutated and mutated), classified and explained."""
    vectors = list(vectors)
    out = []
    for verdict in [*original_verdicts(vectors), *mutation_verdicts(vectors)]:
        if not verdict.disagree:
            continue
        protocol, *ids = verdict.schema.split("+")
        text = amended(protocol, [deviation(i) for i in ids]) if ids else flattened(protocol)
        cause, explanation = classify(verdict, text)
        out.append(
            {
                "vector": verdict.vector,
                "mutation": verdict.mutation,
                "decoder": verdict.decoder,
                "cddl": verdict.cddl,
                "schema": verdict.schema,
                "cause": cause,
                "explanation": explanation,
            }
        )
    return out


def load_findings(path: Path = FINDINGS_FILE) -> list[dict[str, Any]]:
    """The recorded disagreements between our decoder and the CDDL."""
    if not path.is_file():
        return []
    document = yaml.safe_load(path.read_text()) or {}
    return list(document.get("findings", []))


def write_findings(findings: list[dict[str, Any]], path: Path = FINDINGS_FILE) -> None:
    """Write findings, keeping the explanations (and causes) of records already in the file."""
    old = load_findings(path)
    kept = {(f["vector"], f["mutation"]): f for f in old}
    merged = []
    for finding in findings:
        previous = kept.get((finding["vector"], finding["mutation"]))
        if previous and previous.get("explanation") and not str(previous["explanation"]).startswith("TODO"):
            finding = {**finding, "cause": previous["cause"], "explanation": previous["explanation"]}
        if not finding["explanation"]:
            finding = {**finding, "explanation": "TODO: explain"}
        merged.append(finding)
    body = yaml.safe_dump({"findings": merged}, sort_keys=False, width=110, allow_unicode=True)
    path.write_text(_FINDINGS_HEADER + "\n" + body)
