"""The wire evidence of a case read back: its transcripts as one exchange, and where its failure shows.

Each connection the case opened or accepted left a JSONL transcript (conformance.peer.transcript); the
exchange merges them in time order, keeps messages and events (SDUs repeat the messages' bytes), and finds
the line the failure is about: the violation the reference peer recorded for the record's requirement, else
any violation, else the last thing that happened (a timeout or a close).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from conformance import wire

HEX_SHOWN = 32
"""Bytes of a message shown as hex before it is cut."""
SUMMARY_CHARS = 120
TROUBLE_EVENTS = ("violation", "sdu-timeout", "behaviour-error", "unhandled", "untracked")


@dataclass(frozen=True)
class Line:
    """One message or event of an exchange, ready to show."""

    connection: str
    time: float
    direction: str
    kind: str
    protocol: str
    state: str
    name: str
    summary: str
    hex: str
    size: int
    requirement: str | None = None


@dataclass(frozen=True)
class Exchange:
    """A window of a case's merged transcripts around its failure (`anchor` indexes `lines`)."""

    lines: tuple[Line, ...]
    anchor: int | None
    before: int
    after: int
    start: float
    files: tuple[Path, ...]
    unreadable: int = 0

    def near(self, index: int, distance: int = 2) -> bool:
        return self.anchor is not None and abs(index - self.anchor) <= distance

    def around(self, before: int, after: int) -> Exchange:
        """A smaller window around the anchor (the last lines when there is none)."""
        anchor = len(self.lines) - 1 if self.anchor is None else self.anchor
        first, last = max(0, anchor - before), min(len(self.lines), anchor + after + 1)
        return replace(
            self,
            lines=self.lines[first:last],
            anchor=None if self.anchor is None else self.anchor - first,
            before=self.before + first,
            after=self.after + len(self.lines) - last,
        )


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """The messages and events of one JSONL transcript; a line that is not a JSON object yields {}."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for text in handle:
            try:
                entry = json.loads(text)
            except json.JSONDecodeError:
                yield {}
                continue
            if not isinstance(entry, dict):
                yield {}
            elif entry.get("kind") != "sdu":
                yield entry


def _short(value: Any, depth: int) -> str:
    if isinstance(value, dict):
        if depth == 0:
            return "{…}" if value else "{}"
        return "{" + ", ".join(f"{k}: {_short(v, depth - 1)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if depth == 0:
            return f"[{len(value)}]"
        return "[" + ", ".join(_short(v, depth - 1) for v in value[:4]) + (", …" if len(value) > 4 else "") + "]"
    text = json.dumps(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 42 else text[:40] + "…"


def summary(fields: Any) -> str:
    """A one-line summary of decoded fields: `cookie=1565`, nested values cut short."""
    if isinstance(fields, dict):
        text = " ".join(f"{key}={_short(value, 1)}" for key, value in fields.items())
    elif fields is None:
        text = ""
    else:
        text = _short(fields, 1)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _undecoded(entry: dict[str, Any]) -> str:
    """What bytes that did not decode in their state would be in another state, if anything: often the
    clearest description of a message sent without agency."""
    protocol = entry.get("protocol")
    try:
        data = bytes.fromhex(str(entry.get("hex", "")))
        message = wire.decode(str(protocol), data)
    except (KeyError, ValueError, wire.DecodeError):
        return "does not decode in this state"
    return f"does not decode in this state; elsewhere it is {message.name} {summary(message.fields)}".rstrip()


def _line(connection: str, entry: dict[str, Any]) -> Line:
    data = str(entry.get("hex", ""))
    shown = data[: 2 * HEX_SHOWN] + ("…" if len(data) > 2 * HEX_SHOWN else "")
    is_event = entry.get("kind") == "event"
    requirement = entry.get("requirement")
    return Line(
        connection=connection,
        time=float(entry.get("time", 0.0)),
        direction=str(entry.get("direction", "")),
        kind=str(entry.get("kind", "")),
        protocol=str(entry.get("protocol", "")),
        state=str(entry.get("state") or ""),
        name=str(entry.get("name") or ("" if is_event else "(undecoded)")),
        summary=str(entry.get("detail", "")) if is_event else _summary(entry),
        hex=shown,
        size=len(data) // 2,
        requirement=requirement if isinstance(requirement, str) else None,
    )


def _summary(entry: dict[str, Any]) -> str:
    if entry.get("name") is None and entry.get("kind") == "message":
        return _undecoded(entry)
    return summary(entry.get("fields"))


def anchor_of(lines: tuple[Line, ...] | list[Line], requirement: str) -> int | None:
    """The index of the line the failure of `requirement` is about (None for an empty exchange)."""
    events = [(i, line) for i, line in enumerate(lines) if line.kind == "event"]
    for wanted in (
        lambda line: line.protocol == "violation" and line.requirement == requirement,
        lambda line: line.protocol == "violation",
        lambda line: line.protocol in TROUBLE_EVENTS,
    ):
        found = [i for i, line in events if wanted(line)]
        if found:
            return found[0]
    return len(lines) - 1 if lines else None


def read_exchange(folder: Path | None, requirement: str, before: int = 12, after: int = 6) -> Exchange:
    """The exchange of the case whose evidence is `folder`, cut to a window around its failure."""
    if folder is None:
        return Exchange((), None, 0, 0, 0.0, ())
    lines: list[Line] = []
    unreadable = 0
    for path in sorted(folder.glob("*.jsonl")):
        for entry in entries(path):
            if entry:
                lines.append(_line(path.stem, entry))
            else:
                unreadable += 1
    lines.sort(key=lambda line: line.time)
    files = tuple(sorted(p for p in folder.iterdir() if p.suffix in (".jsonl", ".pcap")))
    whole = Exchange(tuple(lines), anchor_of(lines, requirement), 0, 0, lines[0].time if lines else 0.0, files)
    return replace(whole.around(before, after), unreadable=unreadable)
