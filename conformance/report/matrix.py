"""The compliance matrix: every requirement of the catalogue, grouped by protocol, against every run.

A requirement sits in the group of the first protocol the catalogue lists for it (handshake rules shared by
node-to-node and node-to-client appear once). A cell merges every record of that requirement in that run,
the worst outcome winning (outcomes.RANK); the last column merges the runs the same way when there are
several. Ids a run reports that the catalogue lacks get a group of their own, so nothing is dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from conformance.protocol import catalogue
from conformance.protocol.registry import TABLES

from .outcomes import NOT_RUN, RANK, worst
from .run import Record, Run

UNCATALOGUED = "not in the catalogue"


@dataclass(frozen=True)
class Cell:
    """The merged outcome of one requirement in one run (or all), and the records behind it."""

    outcome: str
    records: tuple[Record, ...]

    @property
    def title(self) -> str:
        """Which cases said what, for a tooltip."""
        return "; ".join(f"{r.case}: {r.outcome}" for r in self.records) or NOT_RUN


@dataclass(frozen=True)
class Row:
    requirement: str
    severity: str
    statement: str
    protocols: tuple[str, ...]
    cells: tuple[Cell, ...]
    overall: Cell


@dataclass(frozen=True)
class Group:
    protocol: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Matrix:
    columns: tuple[str, ...]
    groups: tuple[Group, ...]

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for group in self.groups for row in group.rows)

    def count(self, outcome: str, column: int | None = None) -> int:
        """How many requirements ended in `outcome` in one column (None: all runs merged)."""
        return sum(1 for row in self.rows if (row.overall if column is None else row.cells[column]).outcome == outcome)

    def outcomes(self) -> list[str]:
        """The outcomes some requirement ended in, in some column, worst first."""
        present = {cell.outcome for row in self.rows for cell in (*row.cells, row.overall)}
        return [outcome for outcome in RANK if outcome in present]


def column_labels(runs: Sequence[Run]) -> tuple[str, ...]:
    """The runs' labels, numbered where two runs share one."""
    seen: Counter[str] = Counter()
    labels = []
    for run in runs:
        seen[run.label] += 1
        labels.append(run.label if seen[run.label] == 1 else f"{run.label} #{seen[run.label]}")
    return tuple(labels)


def _cell(records: Sequence[Record]) -> Cell:
    return Cell(worst(r.outcome for r in records), tuple(records))


def build(runs: Sequence[Run]) -> Matrix:
    """The matrix of `runs` (one column each) over the whole catalogue."""
    by_run: list[dict[str, list[Record]]] = []
    for run in runs:
        index: dict[str, list[Record]] = {}
        for record in run.records:
            index.setdefault(record.requirement, []).append(record)
        by_run.append(index)
    entries = catalogue.load()
    rows: dict[str, list[Row]] = {}
    listed = [(rid, e.protocols[0], e.severity, e.statement, e.protocols) for rid, e in entries.items()]
    extra = sorted({r.requirement for run in runs for r in run.records} - set(entries))
    for rid in extra:
        severity = next(r.severity for run in runs for r in run.records if r.requirement == rid)
        listed.append((rid, UNCATALOGUED, severity, "(an id the catalogue does not list)", ()))
    for rid, protocol, severity, statement, protocols in listed:
        cells = tuple(_cell(index.get(rid, [])) for index in by_run)
        overall = _cell([r for index in by_run for r in index.get(rid, [])])
        rows.setdefault(protocol, []).append(Row(rid, severity, statement, protocols, cells, overall))
    order = [*TABLES, "mux"]
    groups = sorted(rows, key=lambda p: (p == UNCATALOGUED, order.index(p) if p in order else len(order), p))
    return Matrix(column_labels(runs), tuple(Group(p, tuple(rows[p])) for p in groups))
