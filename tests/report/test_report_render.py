"""The rendered page and summary: the matrix, each failure with the exchange the reference peer recorded
(the failing line marked), links to the evidence files that resolve, coverage, and escaping throughout."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from conformance.protocol import catalogue
from conformance.report import load_run, render
from conformance.report.outcomes import NOT_RUN

from .conftest import Evidence
from .page import read
from .runfolder import AGENCY_CASE, record, write_run


def rendered(folder: Path, out: Path | None = None) -> tuple[str, str]:
    out = folder if out is None else out
    render([load_run(folder)], out)
    return (out / "report.html").read_text(encoding="utf-8"), (out / "summary.md").read_text(encoding="utf-8")


def test_the_matrix_has_a_row_per_requirement_and_a_column_per_run(tmp_path: Path, evidence: Evidence) -> None:
    html, _ = rendered(evidence.failing_run(tmp_path / "run"))
    page = read(html)
    matrix = page.table("matrix")
    header, *rows = matrix.rows
    assert header[1] == ["requirement", "severity", "statement", "reference initiator"]
    groups = [cells[0] for classes, cells in rows if classes == "group"]
    assert groups[:3] == ["handshake", "chain-sync", "block-fetch"] and "mux" in groups
    by_id = {cells[0]: cells for classes, cells in rows if classes != "group"}
    assert set(by_id) == set(catalogue.load())
    assert by_id[evidence.agency_requirement][3] == "failed"
    assert by_id["KA-COOKIE-01"][3] == "passed"
    assert by_id["PS-AMOUNT-01"][3] == "unsupported"
    assert by_id["CS-AWAIT-01"][3] == NOT_RUN
    assert by_id["KA-COOKIE-01"][2] == catalogue.load()["KA-COOKIE-01"].statement
    assert page.scripts == 0
    assert all(not link.startswith(("http:", "https:", "//")) for link in page.links)


def test_the_failure_shows_the_exchange_with_the_violation_marked(tmp_path: Path, evidence: Evidence) -> None:
    html, _ = rendered(evidence.failing_run(tmp_path / "run"))
    page = read(html)
    (exchange,) = page.with_class("exchange")  # one failure, one exchange
    rows = [(classes.split(), cells) for classes, cells in exchange.rows[1:]]
    anchors = [cells for classes, cells in rows if "anchor" in classes]
    assert len(anchors) == 1
    assert anchors[0][3] == "violation" and f"[{evidence.agency_requirement}]" in anchors[0][5]
    names = [cells[5] for _, cells in rows]
    assert "MsgProposeVersions" in names and "MsgKeepAlive" in names and "MsgKeepAliveResponse" in names
    offending = [cells for _, cells in rows if cells[5] == "(undecoded)"]  # the response sent without agency
    assert offending and offending[0][2] == "received" and offending[0][4] == "StClient"
    assert offending[0][7].startswith("820108")
    assert offending[0][6] == "does not decode in this state; elsewhere it is MsgKeepAliveResponse cookie=8"
    near = [cells for classes, cells in rows if "near" in classes]
    assert offending[0] in near  # highlighted around the failure
    assert "the peer sent MsgKeepAliveResponse in StClient" in html
    assert AGENCY_CASE in html


def test_evidence_links_are_relative_and_resolve(tmp_path: Path, evidence: Evidence) -> None:
    folder = evidence.failing_run(tmp_path / "run")
    for out in (folder, tmp_path / "elsewhere" / "deep"):
        html, markdown = rendered(folder, out)
        links = [link for link in read(html).links if not link.startswith("#")]
        assert {Path(unquote(link)).suffix for link in links} == {".jsonl", ".pcap"}
        for link in links:
            assert not Path(unquote(link)).is_absolute()
            assert (out / unquote(link)).resolve().is_file()
            assert f"]({link})" in markdown


def test_script_in_any_text_is_escaped(tmp_path: Path, evidence: Evidence) -> None:
    folder = tmp_path / "run"
    hostile = "<script>alert(1)</script> & | done"
    records = [
        record("test_x.py::test_<b>bold</b>", "KA-COOKIE-01", "failed", hostile),
        record("test_y.py::test_y", "KA-RESP-01", "non-strict", "line one\nline two | pipe"),
    ]
    write_run(folder, "<i>label</i>", records)
    html, markdown = rendered(folder)
    assert "<script>" not in html and "<b>bold</b>" not in html and "<i>label</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; | done" in html
    assert read(html).scripts == 0
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "line one line two \\| pipe" in markdown  # one table-safe line
    assert html.count("No transcript was recorded for this case.") == 2  # neither record names evidence


def test_a_cut_transcript_line_is_counted_not_fatal(tmp_path: Path, evidence: Evidence) -> None:
    """A suite killed mid-write leaves half a JSON line: the report says so and shows the rest."""
    folder = evidence.failing_run(tmp_path / "run")
    (transcript,) = (folder / "evidence" / "ka-agency").glob("*.jsonl")
    with transcript.open("a", encoding="utf-8") as handle:
        handle.write('{"time": 1796027794.5, "direction": "rec')
    html, _ = rendered(folder)
    assert "1 transcript line could not be read." in html
    (exchange,) = read(html).with_class("exchange")
    assert any("anchor" in classes for classes, _ in exchange.rows)


def test_the_summary_has_matrix_failure_exchange_and_coverage(tmp_path: Path, evidence: Evidence) -> None:
    _, markdown = rendered(evidence.failing_run(tmp_path / "run"))
    assert "**1 MUST requirement failed:** " + evidence.agency_requirement in markdown
    assert f"| `{evidence.agency_requirement}` | MUST | failed |" in markdown
    assert "| `CS-AWAIT-01` | MUST | not run |" in markdown
    section = markdown.split("## Failures (1)")[1].split("## Coverage")[0]
    assert f"### failed: {evidence.agency_requirement} in {AGENCY_CASE}" in section
    exchange = section.split("```text\n")[1].split("```")[0].splitlines()
    marked = [line for line in exchange if line.startswith(">")]
    assert len(marked) == 1 and "violation" in marked[0] and evidence.agency_requirement in marked[0]
    assert any("(undecoded)" in line and "StClient" in line for line in exchange)
    assert len([line for line in exchange if line.startswith(("> +", "  +"))]) <= 6  # a few lines only
    assert "| requirements | 2 of " in markdown


def test_several_runs_render_into_one_matrix(tmp_path: Path, evidence: Evidence) -> None:
    first = evidence.failing_run(tmp_path / "a", label="node 10.1")
    second = write_run(tmp_path / "b", "node 10.2", [record("t.py::t", evidence.agency_requirement, "passed")])
    out = tmp_path / "out"
    render([load_run(first), load_run(second)], out)
    page = read((out / "report.html").read_text(encoding="utf-8"))
    header, *rows = page.table("matrix").rows
    assert header[1][3:] == ["node 10.1", "node 10.2", "all runs"]
    (row,) = [cells for _, cells in rows if cells[0] == evidence.agency_requirement]
    assert row[3:] == ["failed", "passed", "failed"]
    assert [cells[0] for _, cells in page.table("run-list").rows[1:]] == ["node 10.1", "node 10.2"]
    coverage = page.table("coverage-totals").rows
    assert coverage[0][1] == ["exercised", "node 10.1", "node 10.2", "all runs"]
