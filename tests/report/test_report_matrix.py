"""The compliance matrix: every catalogue requirement is a row, each run a column, the worst outcome of the
cases wins in a cell and across runs, and a requirement nobody checked says "not run"."""

from __future__ import annotations

from pathlib import Path

from conformance.protocol import catalogue
from conformance.report import exit_code, load_run
from conformance.report.matrix import UNCATALOGUED, build
from conformance.report.outcomes import NOT_RUN, RANK, worst

from .runfolder import record, write_run


def test_worst_outcome_order() -> None:
    assert worst(["passed", "failed", "passed"]) == "failed"
    assert worst(["passed", "non-strict"]) == "non-strict"
    assert worst(["xfail", "non-strict"]) == "non-strict"
    assert worst(["passed", "xfail"]) == "xfail"
    assert worst(["unsupported", "passed"]) == "passed"  # one passing check is not hidden by an unsupported one
    assert worst(["informational", "unsupported"]) == "informational"
    assert worst([]) == NOT_RUN
    assert RANK[0] == "failed" and RANK[-1] == NOT_RUN


def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    first = write_run(
        tmp_path / "a",
        "peer A",
        [
            record("test_ka.py::test_one", "KA-COOKIE-01", "passed"),
            record("test_ka.py::test_two", "KA-COOKIE-01", "failed", "cookie 7 answered with 8"),
            record("test_ka.py::test_two", "KA-RESP-01", "passed"),
            record("test_hs.py::test_v14", "HS-ACCEPT-02", "unsupported", "v14 not offered"),
            record("test_hs.py::test_all", "HS-ACCEPT-02", "passed"),
            record("test_ps.py::test_amount", "PS-AMOUNT-01", "non-strict", "asked 10, got 11"),
        ],
    )
    second = write_run(
        tmp_path / "b",
        "peer B",
        [
            record("test_ka.py::test_one", "KA-COOKIE-01", "passed"),
            record("test_ka.py::test_two", "KA-RESP-01", "xfail", "known: fixed in 10.2"),
            record("test_new.py::test_new", "ZZ-NEW-01", "informational", "an id the catalogue lacks"),
        ],
    )
    return first, second


def test_cells_merge_cases_and_the_last_column_merges_runs(tmp_path: Path) -> None:
    runs = [load_run(folder) for folder in two_runs(tmp_path)]
    matrix = build(runs)
    assert matrix.columns == ("peer A", "peer B")
    rows = {row.requirement: row for row in matrix.rows}
    cells = {rid: ([c.outcome for c in row.cells], row.overall.outcome) for rid, row in rows.items()}
    assert cells["KA-COOKIE-01"] == (["failed", "passed"], "failed")
    assert cells["KA-RESP-01"] == (["passed", "xfail"], "xfail")
    assert cells["HS-ACCEPT-02"] == (["passed", NOT_RUN], "passed")
    assert cells["PS-AMOUNT-01"] == (["non-strict", NOT_RUN], "non-strict")
    assert cells["CS-AWAIT-01"] == ([NOT_RUN, NOT_RUN], NOT_RUN)
    assert [r.case for r in rows["KA-COOKIE-01"].cells[0].records] == ["test_ka.py::test_one", "test_ka.py::test_two"]
    assert "test_ka.py::test_two: failed" in rows["KA-COOKIE-01"].cells[0].title


def test_every_catalogue_requirement_is_a_row_once_grouped_by_its_first_protocol(tmp_path: Path) -> None:
    runs = [load_run(folder) for folder in two_runs(tmp_path)]
    matrix = build(runs)
    entries = catalogue.load()
    listed = [row.requirement for row in matrix.rows]
    order = list(entries)
    for group in matrix.groups[:-1]:  # within a group, catalogue order
        ids = [row.requirement for row in group.rows]
        assert ids == sorted(ids, key=order.index)
    assert sorted(listed) == sorted([*entries, "ZZ-NEW-01"])
    for group in matrix.groups:
        for row in group.rows:
            if row.requirement in entries:
                assert group.protocol == entries[row.requirement].protocols[0]
    assert matrix.groups[-1].protocol == UNCATALOGUED
    assert [r.requirement for r in matrix.groups[-1].rows] == ["ZZ-NEW-01"]
    not_run = len(entries) - 4
    assert matrix.count(NOT_RUN) == not_run
    assert matrix.count("failed", 0) == 1 and matrix.count("failed", 1) == 0
    assert matrix.outcomes() == ["failed", "non-strict", "xfail", "passed", "informational", NOT_RUN]


def test_runs_with_one_label_get_distinct_columns(tmp_path: Path) -> None:
    folders = [write_run(tmp_path / n, "same", [record("t.py::t", "KA-COOKIE-01", "passed")]) for n in "ab"]
    assert build([load_run(f) for f in folders]).columns == ("same", "same #2")


def test_exit_code_is_1_only_for_a_failed_must(tmp_path: Path) -> None:
    first, second = (load_run(folder) for folder in two_runs(tmp_path))
    assert exit_code([first, second]) == 1
    assert exit_code([second]) == 0  # xfail and informational are not failures of a MUST
    should = write_run(tmp_path / "c", "c", [record("t.py::t", "PS-AMOUNT-01", "non-strict", "x")])
    assert exit_code([load_run(should)]) == 0
