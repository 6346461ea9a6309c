"""The upstream CDDL as one text per protocol: which file and rule each protocol's messages must satisfy,
a small lexer, and the `;# import` / `;# include` directives of cddlc resolved into flattened text."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DataMissing, cddl_dir

ENV_DIR = "OUROBOROS_CDDL_DIR"


class CddlError(Exception):
    """The CDDL specification itself cannot be found, resolved or compiled (a set-up error, never a skip)."""


# --------------------------------------------------------------------------------------------------
# Which file and rule each protocol's messages must satisfy.


@dataclass(frozen=True)
class SchemaSource:
    """A top-level CDDL file and the rule a whole message must match."""

    file: str
    root: str
    version: int
    """The negotiated version whose messages the file describes: the decoder is compared with it there."""


_N2N, _N2C = 14, 23
"""The files describe node-to-node v14 and later ("V14ToLast" upstream) and node-to-client v23 (the latest,
with MsgGetMeasures); a message that exists only in older versions is compared with obsolete/ files."""

SCHEMAS: dict[str, SchemaSource] = {
    "handshake": SchemaSource("handshake-node-to-node-v14.cddl", "handshakeMessage", _N2N),
    "chain-sync": SchemaSource("chain-sync.cddl", "chainSyncMessage", _N2N),
    "block-fetch": SchemaSource("block-fetch.cddl", "blockFetchMessage", _N2N),
    "tx-submission2": SchemaSource("tx-submission2.cddl", "txSubmission2Message", _N2N),
    "keep-alive": SchemaSource("keep-alive.cddl", "keepAliveMessage", _N2N),
    "peer-sharing": SchemaSource("peer-sharing-v14.cddl", "peerSharingMessage", _N2N),
    "n2c-handshake": SchemaSource("handshake-node-to-client.cddl", "handshakeMessage", _N2C),
    "local-chain-sync": SchemaSource("chain-sync.cddl", "chainSyncMessage", _N2C),
    "local-tx-submission": SchemaSource("local-tx-submission.cddl", "localTxSubmissionMessage", _N2C),
    "local-state-query": SchemaSource("local-state-query.cddl", "localStateQueryMessage", _N2C),
    "local-tx-monitor": SchemaSource("local-tx-monitor.cddl", "localTxMonitorMessage", _N2C),
}
"""Every protocol of `wire.CODECS` and its schema (N2N handshake: the v14 file covers v14..v16)."""


def schema_version(protocol: str) -> int:
    """The version at which our decoder is compared with the protocol's CDDL."""
    return _source(protocol).version


def described(vector: Any) -> bool:
    """Whether a golden vector is a message of the version the CDDL describes (`versions` says otherwise)."""
    versions = vector.extra.get("versions")
    return versions is None or schema_version(vector.protocol) in versions


def spec_dir() -> Path:
    """The CDDL folder: $OUROBOROS_CDDL_DIR, else the vendored copy (`spec/cddl/`, installed as package data)."""
    override = os.environ.get(ENV_DIR)
    if not override:
        try:
            return cddl_dir()
        except DataMissing as exc:
            raise CddlError(f"the vendored CDDL specification is missing: {exc}") from None
    folder = Path(override)
    if not (folder / "network.base.cddl").is_file():
        raise CddlError(f"CDDL specification not found in {folder} (no network.base.cddl), the folder {ENV_DIR} names")
    return folder


# --------------------------------------------------------------------------------------------------
# A small CDDL lexer: enough to find rules and rename identifiers without touching anything else.

_TOKEN = re.compile(
    r"""
    (?P<comment>;[^\n]*)
  | (?P<space>\s+)
  | (?P<text>"(?:[^"\\]|\\.)*")
  | (?P<bytes>(?:h|b64)?'[^']*')
  | (?P<control>(?<![A-Za-z0-9@_$.])\.[A-Za-z][A-Za-z0-9_-]*)
  | (?P<name>[A-Za-z@_$](?:[-.]*[A-Za-z0-9@_$])*)
  | (?P<number>0x[0-9A-Fa-f]+|0b[01]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<assign>//=|/=|=>|=)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_DIRECTIVE = re.compile(r"^;#\s*(import|include)\s+(\S+)(?:\s+as\s+(\S+))?\s*$", re.MULTILINE)
_OPEN, _CLOSE = "([{<", ")]}>"


@dataclass
class Rule:
    """One CDDL rule as tokens: its name, the text after the name, and the names it mentions."""

    name: str
    tokens: list[tuple[str, str]]

    @property
    def references(self) -> set[str]:
        return {value for kind, value in self.tokens if kind == "name"}

    def renamed(self, mapping: dict[str, str]) -> Rule:
        tokens = [(k, mapping.get(v, v) if k == "name" else v) for k, v in self.tokens]
        return Rule(mapping.get(self.name, self.name), tokens)

    def text(self) -> str:
        """The rule as CDDL, with the name and its assignment on one line (pycddl's parser needs that)."""
        tokens = list(self.tokens)
        i = 1
        while i < len(tokens) and tokens[i][0] != "assign":
            if tokens[i][0] == "space":
                tokens[i] = ("space", " ")
            i += 1
        return "".join(v for _, v in tokens).strip()


def _lex(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "punct", m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "comment"]


def _rules(text: str) -> list[Rule]:
    """Split CDDL text into rules: a name (with optional generic parameters) then `=`, `/=` or `//=`."""
    tokens = _lex(text)
    starts: list[int] = []
    depth = 0
    for i, (kind, value) in enumerate(tokens):
        if kind == "punct" and value in _OPEN:
            depth += 1
        elif kind == "punct" and value in _CLOSE:
            depth -= 1
        elif kind == "name" and depth == 0 and _assigns_after(tokens, i + 1):
            starts.append(i)
    rules = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        rules.append(Rule(tokens[start][1], tokens[start:end]))
    return rules


def _assigns_after(tokens: list[tuple[str, str]], i: int) -> bool:
    """Whether the tokens from `i` are optional space, optional `<params>`, then an assignment."""
    while i < len(tokens) and tokens[i][0] == "space":
        i += 1
    if i < len(tokens) and tokens[i] == ("punct", "<"):
        while i < len(tokens) and tokens[i] != ("punct", ">"):
            i += 1
        i += 1
        while i < len(tokens) and tokens[i][0] == "space":
            i += 1
    return i < len(tokens) and tokens[i][0] == "assign" and tokens[i][1] != "=>"


# --------------------------------------------------------------------------------------------------
# Resolving the module directives.


def _find(name: str, here: Path, root: Path) -> Path:
    for folder in (here, root):
        candidate = folder / f"{name}.cddl"
        if candidate.is_file():
            return candidate
    raise CddlError(f"cannot resolve CDDL module {name!r} (looked in {here} and {root})")


def _module(path: Path, root: Path, stack: tuple[Path, ...] = ()) -> dict[str, Rule]:
    """The rules of one file with its own directives resolved: local rules first, then imported ones."""
    return _resolve(path.read_text(), path.parent, root, stack + (path,))


def _resolve(text: str, here: Path, root: Path, stack: tuple[Path, ...]) -> dict[str, Rule]:
    local: dict[str, Rule] = {}
    for rule in _rules(text):
        if rule.name in local:  # `/=` and `//=` extend a rule: keep one entry, joined in order
            local[rule.name] = Rule(rule.name, local[rule.name].tokens + [("space", "\n")] + rule.tokens)
        else:
            local[rule.name] = rule
    imported: dict[str, Rule] = {}
    for verb, name, prefix in _DIRECTIVE.findall(text):
        path = _find(name, here, root)
        if path in stack:
            raise CddlError(f"circular CDDL import: {' -> '.join(p.name for p in stack + (path,))}")
        module = _module(path, root, stack)
        mapping = {rule: f"{prefix}.{rule}" for rule in module} if prefix else {}
        renamed = {mapping.get(n, n): r.renamed(mapping) for n, r in module.items()}
        wanted = set(renamed) if verb == "include" else _reachable(renamed, _mentions(local.values()))
        for rule_name in (n for n in renamed if n in wanted):  # in the module's order: stable output
            if rule_name in local:  # the importer's own rule wins (a local definition overrides)
                continue
            previous = imported.get(rule_name)
            if previous is not None and previous.text() != renamed[rule_name].text():
                raise CddlError(f"CDDL rule {rule_name!r} imported twice with different definitions")
            imported[rule_name] = renamed[rule_name]
    return {**local, **{n: r for n, r in imported.items() if n not in local}}


def _mentions(rules: Iterable[Rule]) -> set[str]:
    return set().union(*(r.references for r in rules))


def _reachable(rules: dict[str, Rule], start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [n for n in start if n in rules]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(n for n in rules[name].references if n in rules and n not in seen)
    return seen


def flatten_file(file: str, root_rule: str, amendment: str = "") -> str:
    """One self-contained CDDL text for `file`, `root_rule` first; `amendment` rules replace namesakes."""
    root = spec_dir()
    path = root / file
    if not path.is_file():
        raise CddlError(f"CDDL file {file} not found in {root}")
    text = path.read_text()
    if amendment:
        overridden = {r.name for r in _rules(amendment)}
        kept = [r.text() for r in _rules(text) if r.name not in overridden]
        directives = "\n".join(m.group() for m in _DIRECTIVE.finditer(text))
        text = "\n".join([*kept, amendment, directives])
    rules = _resolve(text, path.parent, root, (path,))
    if root_rule not in rules:
        raise CddlError(f"{file} has no rule {root_rule!r}")
    ordered = [rules[root_rule], *(r for n, r in rules.items() if n != root_rule)]
    header = f"; flattened from {file}" + (" with an amendment" if amendment else "") + "\n"
    return header + "\n".join(r.text() for r in ordered) + "\n"


def flattened(protocol: str) -> str:
    """The protocol's CDDL with every directive resolved, its message rule first (what pycddl compiles)."""
    source = _source(protocol)
    return flatten_file(source.file, source.root)


def _source(protocol: str) -> SchemaSource:
    try:
        return SCHEMAS[protocol]
    except KeyError:
        raise KeyError(f"no CDDL schema for protocol {protocol!r}; known: {', '.join(SCHEMAS)}") from None
