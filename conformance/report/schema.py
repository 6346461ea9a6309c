"""The shape of a run folder's two JSON files (the contract with the suite, docs: RUNDIR in the issue notes).

One function per file kind, used by the suite before it writes and by the report when it reads, so the two
sides cannot drift apart: `check_record` for each item of `results.json`, `check_run_info` for `run.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance import wire
from conformance.protocol.catalogue import ID_PATTERN

OUTCOMES = ("passed", "failed", "non-strict", "informational", "unsupported", "xfail")
"""Autobahn|Testsuite grades: failed = a MUST broken, non-strict = a SHOULD broken, xfail = a known deviation."""
SEVERITIES = ("MUST", "SHOULD", "informational")
ROLES = ("responder", "initiator")
CASE_COUNTS = ("total", "passed", "failed", "skipped", "xfailed")

RECORD_KEYS: Mapping[str, tuple[type, ...]] = {
    "case": (str,),
    "protocol": (str,),
    "requirement": (str,),
    "severity": (str,),
    "outcome": (str,),
    "message": (str,),
    "evidence": (str, type(None)),
    "duration": (int, float),
}
RUN_KEYS: Mapping[str, tuple[type, ...]] = {
    "label": (str,),
    "peer": (str,),
    "role": (str,),
    "profile": (str, type(None)),
    "implementation": (str, type(None)),
    "magic": (int,),
    "time_scale": (int, float),
    "started": (str,),
    "duration": (int, float),
    "tool_version": (str,),
    "cases": (dict,),
}


class SchemaError(ValueError):
    """A record or run description that does not follow the run-folder contract; says which key and why."""


def _keys(document: Any, keys: Mapping[str, tuple[type, ...]], what: str) -> None:
    if not isinstance(document, Mapping):
        raise SchemaError(f"{what}: a JSON object expected, got {type(document).__name__}")
    missing = [key for key in keys if key not in document]
    if missing:
        raise SchemaError(f"{what}: missing {', '.join(missing)}")
    unknown = sorted(set(document) - set(keys))
    if unknown:
        raise SchemaError(f"{what}: unknown keys {', '.join(unknown)}")
    for key, types in keys.items():
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, types):  # bool is an int to Python, not to JSON
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise SchemaError(f"{what}: {key} must be {names}, got {value!r}")


def check_record(record: Any) -> None:
    """Raise SchemaError unless `record` is one valid item of results.json."""
    what = "record"
    if isinstance(record, Mapping):
        what = f"record {record.get('case', '?')}/{record.get('requirement', '?')}"
    _keys(record, RECORD_KEYS, what)
    if record["outcome"] not in OUTCOMES:
        raise SchemaError(f"{what}: outcome {record['outcome']!r} is not one of {', '.join(OUTCOMES)}")
    if record["severity"] not in SEVERITIES:
        raise SchemaError(f"{what}: severity {record['severity']!r} is not one of {', '.join(SEVERITIES)}")
    if not record["case"] or not record["requirement"] or not record["protocol"]:
        raise SchemaError(f"{what}: case, protocol and requirement must not be empty")
    if record["protocol"] not in (*wire.PROTOCOLS, "mux"):
        raise SchemaError(f"{what}: protocol {record['protocol']!r} is not a wire-layer protocol name or mux")
    if not ID_PATTERN.match(record["requirement"]):
        raise SchemaError(f"{what}: requirement {record['requirement']!r} is not a requirement id")
    if record["duration"] < 0:
        raise SchemaError(f"{what}: duration must not be negative")
    evidence = record["evidence"]
    if evidence is not None and (evidence.startswith("/") or ".." in evidence.split("/") or not evidence):
        raise SchemaError(f"{what}: evidence must be a folder relative to the run folder, got {evidence!r}")


def check_run_info(info: Any) -> None:
    """Raise SchemaError unless `info` is a valid run.json object (`unreachable`, the reason the peer could
    not be reached, is the one optional key)."""
    if isinstance(info, Mapping) and "unreachable" in info:
        if not isinstance(info["unreachable"], (str, type(None))):
            raise SchemaError(f"run.json: unreachable must be str or null, got {info['unreachable']!r}")
        info = {key: value for key, value in info.items() if key != "unreachable"}
    _keys(info, RUN_KEYS, "run.json")
    if info["role"] not in ROLES:
        raise SchemaError(f"run.json: role {info['role']!r} is not one of {', '.join(ROLES)}")
    if not info["label"]:
        raise SchemaError("run.json: label must not be empty")
    _keys(info["cases"], {key: (int,) for key in CASE_COUNTS}, "run.json cases")
