"""What a run exercised, counted against what the project's own tables define.

N for states, transitions and message types comes from the protocol tables (conformance.protocol.registry,
the tables the engine runs and docs.py documents) and the wire codecs; N for versions from the wire layer's
version sets; N for requirements from the catalogue. n comes from the runs' transcripts (each message in the
state it was sent or received in) and, for requirements, from their records. Nothing here is typed by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from conformance import wire
from conformance.protocol import catalogue
from conformance.protocol.registry import TABLES
from conformance.protocol.table import ProtocolTable, Transition
from conformance.wire.handshake import N2C_VERSION_BIT, N2C_VERSIONS, N2N_VERSIONS

from .evidence import entries
from .outcomes import EXERCISED
from .run import Run

Item = tuple[str, str]
"""(protocol, what): ("chain-sync", "StIdle"), ("chain-sync", "StIdle MsgRequestNext"), ("handshake", "v14")."""
KINDS = ("states", "transitions", "messages", "versions", "requirements")
HANDSHAKES = {"handshake": "N2N", "n2c-handshake": "N2C"}


def _transition(move: Transition) -> str:
    when = f" [{move.when[0]}={move.when[1]}]" if move.when is not None else ""
    return f"{move.source} {move.message}{when}"


def _version(protocol: str, version: int) -> str:
    return f"{HANDSHAKES[protocol]} v{version & ~N2C_VERSION_BIT}"


@lru_cache(maxsize=1)
def universe() -> Mapping[str, tuple[Item, ...]]:
    """Every item of each kind, in table and catalogue order."""
    return {
        "states": tuple((name, state.name) for name, table in TABLES.items() for state in table.states),
        "transitions": tuple((name, _transition(move)) for name, table in TABLES.items() for move in table.transitions),
        "messages": tuple((name, message) for name in TABLES for message in wire.codec(name).messages),
        "versions": (
            *(("handshake", _version("handshake", v)) for v in N2N_VERSIONS),
            *(("n2c-handshake", _version("n2c-handshake", v)) for v in N2C_VERSIONS),
        ),
        "requirements": tuple((entry.protocols[0], entry.id) for entry in catalogue.load().values()),
    }


@dataclass(frozen=True)
class Tally:
    """n of N for one kind, and what was not exercised."""

    kind: str
    seen: frozenset[Item]
    every: tuple[Item, ...]

    @property
    def n(self) -> int:
        return sum(1 for item in self.every if item in self.seen)

    @property
    def total(self) -> int:
        return len(self.every)

    @property
    def missing(self) -> tuple[Item, ...]:
        return tuple(item for item in self.every if item not in self.seen)

    def missing_by_protocol(self) -> list[tuple[str, list[str]]]:
        """What was not exercised, per protocol, in table order."""
        grouped: dict[str, list[str]] = {}
        for protocol, what in self.missing:
            grouped.setdefault(protocol, []).append(what)
        return list(grouped.items())

    def of(self, protocol: str) -> tuple[int, int]:
        """n and N of one protocol."""
        mine = [item for item in self.every if item[0] == protocol]
        return sum(1 for item in mine if item in self.seen), len(mine)


@dataclass(frozen=True)
class Coverage:
    """The tallies of one run, or of several runs together."""

    tallies: Mapping[str, Tally]

    def __getitem__(self, kind: str) -> Tally:
        return self.tallies[kind]

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(TABLES)


def _source(table: ProtocolTable, entry: Mapping[str, Any], name: str) -> str | None:
    """The state a message was sent in: as the transcript says, else the only state the table sends it from."""
    state = entry.get("state")
    if isinstance(state, str):
        return state
    sources = {move.source for move in table.transitions if move.message == name}
    return sources.pop() if len(sources) == 1 else None


def _observe(entry: Mapping[str, Any], seen: Mapping[str, set[Item]]) -> None:
    protocol, name = entry.get("protocol"), entry.get("name")
    if entry.get("kind") != "message" or protocol not in TABLES or not isinstance(name, str):
        return
    table = TABLES[protocol]
    seen["messages"].add((protocol, name))
    fields = entry.get("fields")
    fields = fields if isinstance(fields, dict) else None
    source = _source(table, entry, name)
    move = None if source is None else table.transition(source, name, fields)
    if move is not None:
        seen["transitions"].add((protocol, _transition(move)))
        seen["states"].update({(protocol, move.source), (protocol, move.target)})
    if protocol in HANDSHAKES and name == "MsgAcceptVersion" and fields is not None:
        version = fields.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            seen["versions"].add((protocol, _version(protocol, version)))


def coverage(runs: Iterable[Run]) -> Coverage:
    """What the transcripts and records of `runs` exercised, out of what the tables and catalogue define."""
    seen: dict[str, set[Item]] = {kind: set() for kind in KINDS}
    ids = {entry.id: entry.protocols[0] for entry in catalogue.load().values()}
    for run in runs:
        for path in run.transcripts():
            for entry in entries(path):
                _observe(entry, seen)
        for record in run.records:
            if record.outcome in EXERCISED and record.requirement in ids:
                seen["requirements"].add((ids[record.requirement], record.requirement))
    every = universe()
    return Coverage({kind: Tally(kind, frozenset(seen[kind]), every[kind]) for kind in KINDS})
