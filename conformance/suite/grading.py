"""Grading, as Autobahn|Testsuite grades: one outcome per (case, requirement) from what the case found.

`passed`: the case ran and found nothing against the requirement; `failed`: a MUST broken; `non-strict`: a
SHOULD broken; `informational`: recorded without a verdict; `unsupported`: the peer does not offer what the
case needs; `xfail`: a MUST broken that the peer profile lists as a known deviation. Pure functions: the
plugin feeds them the case's findings, so the grades are tested without a peer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.protocol import catalogue
from conformance.report.outcomes import worst
from conformance.report.run import Record
from conformance.report.schema import OUTCOMES

from .profile import PeerProfile

# results.json's record, its outcomes and which one wins are the report's (conformance/report): one home.
PASSED, FAILED, NON_STRICT, INFORMATIONAL, UNSUPPORTED, XFAIL = (
    "passed",
    "failed",
    "non-strict",
    "informational",
    "unsupported",
    "xfail",
)

__all__ = ["OUTCOMES", "Finding", "Record", "grade", "must_failed", "worst"]


@dataclass(frozen=True)
class Finding:
    """Something a case found against one requirement (a broken rule, or a note)."""

    requirement: str
    severity: str  # MUST, SHOULD or informational (of the finding, not always of the requirement)
    protocol: str
    message: str


def protocol_of(requirement: str, mode: str) -> str:
    """The protocol a requirement belongs to, in the case's mode when it spans both handshakes."""
    protocols = catalogue.load()[requirement].protocols
    for name in protocols:
        if (mode == "node-to-client") == (name.startswith("n2c-") or name.startswith("local-")):
            return name
    return protocols[0]


def _outcome(finding: Finding) -> str:
    return {"MUST": FAILED, "SHOULD": NON_STRICT}.get(finding.severity, INFORMATIONAL)


def grade(
    case: str,
    requirements: Sequence[str],
    findings: Sequence[Finding],
    *,
    mode: str = "node-to-node",
    profile: PeerProfile | None = None,
    unsupported: str | None = None,
    not_run: str | None = None,
    error: str | None = None,
    evidence: str | None = None,
    duration: float = 0.0,
) -> list[Record]:
    """The records of one case: one per requirement it names and per requirement it found broken.

    `error` is a failure the case could not tie to a requirement (the peer stopped answering, say): it
    fails every requirement the case names. `unsupported` grades every named requirement unsupported.
    """
    profile = profile or PeerProfile()
    known = catalogue.load()
    by_requirement: dict[str, list[Finding]] = {r: [] for r in requirements}
    for finding in findings:
        by_requirement.setdefault(finding.requirement, []).append(finding)
    records = []
    for requirement, found in by_requirement.items():
        severity = known[requirement].severity if requirement in known else "MUST"
        protocol = found[0].protocol if found else protocol_of(requirement, mode) if requirement in known else "mux"
        if unsupported is not None:
            outcome, message = UNSUPPORTED, unsupported
        elif not_run is not None:
            outcome, message = INFORMATIONAL, f"not run: {not_run}"
        elif found:
            outcome = worst(_outcome(f) for f in found)
            message = "; ".join(dict.fromkeys(f.message for f in found))
        elif error is not None and requirement in requirements:
            outcome, message = FAILED, error
        else:
            outcome, message = PASSED, ""
        deviation = profile.deviation(requirement, case)
        if deviation is not None:
            if outcome == FAILED:
                outcome, message = XFAIL, f"{deviation.describe()} ({message})"
            elif outcome == PASSED:
                message = f"{deviation.describe()}: no longer fails"
        records.append(Record(case, protocol, requirement, severity, outcome, message, evidence, round(duration, 3)))
    return records


def must_failed(records: Iterable[Record | Mapping[str, Any]]) -> bool:
    """Whether any record is a broken MUST that is not a known deviation (the run's exit code 1)."""
    return any((r.outcome if isinstance(r, Record) else r["outcome"]) == FAILED for r in records)
