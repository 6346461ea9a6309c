"""A small reader of the rendered page (html.parser): the tables by id or class, as rows of cell texts with
the row's classes, so tests check what a reader sees rather than template details."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Table:
    id: str
    classes: str
    rows: list[tuple[str, list[str]]] = field(default_factory=list)  # (row classes, cell texts)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.links: list[str] = []
        self.scripts = 0
        self._row: tuple[str, list[str]] | None = None
        self._cell: list[str] | None = None
        self._open: list[Table] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "a" and "href" in found:
            self.links.append(found["href"])
        if tag == "table":
            self._open.append(Table(found.get("id", ""), found.get("class", "")))
        elif tag == "tr" and self._open:
            self._row = (found.get("class", ""), [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row[1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._open:
            self._open[-1].rows.append(self._row)
            self._row = None
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@dataclass
class Page:
    tables: list[Table]
    links: list[str]
    scripts: int

    def table(self, id: str) -> Table:
        (found,) = [t for t in self.tables if t.id == id]
        return found

    def with_class(self, name: str) -> list[Table]:
        return [t for t in self.tables if name in t.classes.split()]


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Page(reader.tables, reader.links, reader.scripts)
