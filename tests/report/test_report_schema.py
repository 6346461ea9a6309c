"""The run-folder contract: one schema function per file, shared by the suite and the report, and a
folder that breaks it is refused with a message naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance import wire
from conformance.report import RunFolderError, SchemaError, check_record, check_run_info, load_run
from conformance.report.schema import OUTCOMES

from .runfolder import record, write_run


def valid() -> dict[str, Any]:
    return record("test_keep_alive.py::test_cookie_echo", "KA-COOKIE-01", "passed")


def test_every_protocol_name_of_the_wire_layer_and_mux_is_accepted() -> None:
    for protocol in (*wire.PROTOCOLS, "mux"):
        check_record({**valid(), "protocol": protocol})


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_outcome_of_the_contract_is_accepted(outcome: str) -> None:
    check_record({**valid(), "outcome": outcome})


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"outcome": "error"}, "outcome 'error' is not one of"),
        ({"outcome": "PASSED"}, "outcome 'PASSED'"),
        ({"severity": "MAY"}, "severity 'MAY'"),
        ({"duration": True}, "duration must be int or float"),
        ({"duration": -1.0}, "duration must not be negative"),
        ({"message": None}, "message must be str"),
        ({"evidence": "/abs/folder"}, "relative to the run folder"),
        ({"evidence": "evidence/../../etc"}, "relative to the run folder"),
        ({"case": ""}, "must not be empty"),
        ({"extra": 1}, "unknown keys extra"),
        ({"protocol": "keepalive"}, "protocol 'keepalive' is not a wire-layer protocol name or mux"),
        ({"requirement": "ka-cookie-1"}, "requirement 'ka-cookie-1' is not a requirement id"),
    ],
)
def test_a_record_off_the_contract_is_refused_naming_the_key(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(SchemaError, match=complaint.replace("(", r"\(")):
        check_record({**valid(), **change})


def test_a_record_missing_keys_names_them() -> None:
    broken = {k: v for k, v in valid().items() if k not in ("outcome", "evidence")}
    with pytest.raises(SchemaError, match="missing outcome, evidence"):
        check_record(broken)
    with pytest.raises(SchemaError, match="a JSON object expected"):
        check_record(["case"])


def test_run_json_is_checked_too(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", "label", [valid()])
    info = json.loads((folder / "run.json").read_text())
    check_run_info(info)
    with pytest.raises(SchemaError, match="role 'server'"):
        check_run_info({**info, "role": "server"})
    with pytest.raises(SchemaError, match="run.json cases: missing xfailed"):
        check_run_info({**info, "cases": {k: v for k, v in info["cases"].items() if k != "xfailed"}})


def test_load_run_reads_what_write_run_wrote(tmp_path: Path) -> None:
    records = [valid(), record("test_x.py::test_y", "KA-RESP-01", "failed", "late")]
    run = load_run(write_run(tmp_path / "run", "my label", records))
    assert run.label == "my label" and run.info.role == "responder"
    assert [(r.case, r.requirement, r.outcome, r.message) for r in run.records] == [
        ("test_keep_alive.py::test_cookie_echo", "KA-COOKIE-01", "passed", ""),
        ("test_x.py::test_y", "KA-RESP-01", "failed", "late"),
    ]
    assert run.info.cases.total == 2 and run.info.cases.failed == 1


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "run.json").unlink(), "no run.json"),
        (lambda f: (f / "results.json").unlink(), "no results.json"),
        (lambda f: (f / "results.json").write_text("[{"), "results.json is not readable JSON"),
        (lambda f: (f / "results.json").write_text("{}"), "results.json must be a JSON list"),
        (lambda f: (f / "results.json").write_text('[{"case": "x"}]'), "record x/\\?: missing"),
    ],
)
def test_a_folder_that_is_not_a_run_folder_is_named_with_the_reason(tmp_path: Path, damage: Any, reason: str) -> None:
    folder = write_run(tmp_path / "run", "label", [valid()])
    damage(folder)
    with pytest.raises(RunFolderError, match=reason) as caught:
        load_run(folder)
    assert caught.value.folder == folder and str(folder) in str(caught.value)
    with pytest.raises(RunFolderError, match="no such folder"):
        load_run(tmp_path / "absent")
