"""The report files: one HTML page and one Markdown summary for one run or several, from the templates under
reports/templates (package data `conformance.data.reports`), rendered by Jinja2 with HTML autoescaping."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2

from conformance import __version__
from conformance.data import templates_dir
from conformance.protocol import catalogue

from .coverage import KINDS, Coverage, coverage
from .evidence import Exchange, read_exchange
from .matrix import Matrix, build
from .outcomes import PROBLEMS, css_class
from .run import Record, Run

HTML_NAME = "report.html"
MARKDOWN_NAME = "summary.md"
MARKDOWN_BEFORE, MARKDOWN_AFTER = 3, 2
"""Lines of exchange the summary shows before and after the failure's line."""


@dataclass(frozen=True)
class Failure:
    """A record the report explains: failed, non-strict or xfail, with its exchange and evidence links."""

    run: str
    record: Record
    statement: str
    exchange: Exchange
    links: tuple[tuple[str, str], ...]

    @property
    def short(self) -> Exchange:
        return self.exchange.around(MARKDOWN_BEFORE, MARKDOWN_AFTER)


def exit_code(runs: Sequence[Run]) -> int:
    """0 when no MUST requirement failed in any run, 1 when one did."""
    return 1 if any(record.outcome == "failed" for run in runs for record in run.records) else 0


def _link(path: Path, out: Path) -> str:
    return quote(Path(os.path.relpath(path.resolve(), out.resolve())).as_posix())


def failures(runs: Sequence[Run], labels: Sequence[str], out: Path) -> list[Failure]:
    """Every record to explain, worst outcome first, then in run and record order."""
    entries = catalogue.load()
    found = []
    for run, label in zip(runs, labels, strict=True):
        for record in run.records:
            if record.outcome not in PROBLEMS:
                continue
            exchange = read_exchange(run.evidence_folder(record), record.requirement)
            entry = entries.get(record.requirement)
            links = tuple((f.name, _link(f, out)) for f in exchange.files)
            found.append(Failure(label, record, entry.statement if entry else "", exchange, links))
    return sorted(found, key=lambda f: PROBLEMS.index(f.record.outcome))


def _md(text: object) -> str:
    """Text for a Markdown table cell: no pipe or newline breaks the row, no raw HTML gets through."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")).replace(
        "\n", " "
    )


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["outcome_class"] = css_class
    environment.filters["md"] = _md
    environment.filters["fence"] = lambda text: str(text).replace("```", "'''")
    return environment


def context(runs: Sequence[Run], out: Path) -> dict[str, object]:
    """Everything the templates show."""
    matrix: Matrix = build(runs)
    per_run: list[Coverage] = [coverage([run]) for run in runs]
    together = coverage(runs)
    columns = list(zip(matrix.columns, per_run, strict=True))
    if len(runs) > 1:
        columns.append(("all runs", together))
    must_failed = sorted({row.requirement for row in matrix.rows if row.overall.outcome == "failed"})
    return {
        "title": "Ouroboros conformance report",
        "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "tool_version": __version__,
        "runs": list(zip(matrix.columns, runs, strict=True)),
        "matrix": matrix,
        "several": len(runs) > 1,
        "failures": failures(runs, matrix.columns, out),
        "coverage_columns": columns,
        "coverage": together,
        "kinds": KINDS,
        "must_failed": must_failed,
        "exit_code": exit_code(runs),
    }


def render(runs: Sequence[Run], out: Path) -> None:
    """Write out/report.html and out/summary.md for `runs` (one matrix column per run)."""
    if not runs:
        raise ValueError("no run to report on")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    environment = _environment()
    values = context(runs, out)
    for template, name in (("report.html.j2", HTML_NAME), ("summary.md.j2", MARKDOWN_NAME)):
        text = environment.get_template(template).render(values)
        (out / name).write_text(text, encoding="utf-8")
