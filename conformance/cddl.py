"""CDDL validation of wire bytes against the upstream specification in `../shared/spec/cddl/`.

The upstream files use the module directives of the Ruby tool cddlc (`;# import X as Y`, `;# include X`),
which no Python CDDL library understands. `flattened()` resolves them the way cddlc does, following the
CDDL-modules draft: the rules of file `X` are inlined with every name prefixed `Y.` (CDDL identifiers may
contain dots, and pycddl accepts them; nested prefixes compose, `v14.base.word32`), `import` brings in only
the rules the importer reaches, `include` all of them. The protocol's message rule comes first, because
pycddl validates against the first rule. pycddl 0.6.4 misreads some type choices, so what it compiles is a
meaning-preserving rewrite of that text (see the section "Compiling for pycddl").

Disagreements are data, not code. `cddl_deviations.yaml` holds where the CDDL and the Haskell node differ
(with the amendment that makes the CDDL say what the node does) and where pycddl differs from RFC 8610;
`vectors/cddl-findings.yaml` holds where our decoder and the CDDL disagree on golden messages, as they are
and mutated (`mutations()`), each with its cause and explanation. tests/test_cddl.py keeps both true.

    python -m conformance.cddl flatten chain-sync [--pycddl]   # the flattened schema (or what pycddl gets)
    python -m conformance.cddl check                           # every golden message against its CDDL
    python -m conformance.cddl findings [--write]              # compare with (or rewrite) the findings file
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pycddl
import yaml

from . import wire
from .wire import cbor
from .wire.handshake import N2C_VERSIONS, N2N_VERSIONS
from .wire.schema import RawCbor

REPO = Path(__file__).resolve().parent.parent
ENV_DIR = "OUROBOROS_CDDL_DIR"
DEFAULT_DIR = REPO.parent / "shared" / "spec" / "cddl"
DEVIATIONS_FILE = Path(__file__).resolve().parent / "cddl_deviations.yaml"


class CddlError(Exception):
    """The CDDL specification itself cannot be found, resolved or compiled (a set-up error, never a skip)."""


class CddlMismatch(Exception):
    """Bytes that the protocol's CDDL rejects; `reason` is pycddl's message."""

    def __init__(self, protocol: str, reason: str, schema: str | None = None) -> None:
        self.protocol = protocol
        self.reason = reason.strip()
        self.schema = schema or protocol
        super().__init__(f"{self.schema}: CDDL rejects the bytes: {self.reason}")


# --------------------------------------------------------------------------------------------------
# Which file and rule each protocol's messages must satisfy.


@dataclass(frozen=True)
class SchemaSource:
    """A top-level CDDL file and the rule a whole message must match."""

    file: str
    root: str


SCHEMAS: dict[str, SchemaSource] = {
    "handshake": SchemaSource("handshake-node-to-node-v14.cddl", "handshakeMessage"),
    "chain-sync": SchemaSource("chain-sync.cddl", "chainSyncMessage"),
    "block-fetch": SchemaSource("block-fetch.cddl", "blockFetchMessage"),
    "tx-submission2": SchemaSource("tx-submission2.cddl", "txSubmission2Message"),
    "keep-alive": SchemaSource("keep-alive.cddl", "keepAliveMessage"),
    "peer-sharing": SchemaSource("peer-sharing-v14.cddl", "peerSharingMessage"),
    "n2c-handshake": SchemaSource("handshake-node-to-client.cddl", "handshakeMessage"),
    "local-chain-sync": SchemaSource("chain-sync.cddl", "chainSyncMessage"),
    "local-tx-submission": SchemaSource("local-tx-submission.cddl", "localTxSubmissionMessage"),
    "local-state-query": SchemaSource("local-state-query.cddl", "localStateQueryMessage"),
    "local-tx-monitor": SchemaSource("local-tx-monitor.cddl", "localTxMonitorMessage"),
}
"""Every protocol of `wire.CODECS` and its schema (N2N handshake: the v14 file covers v14..v16)."""


def spec_dir() -> Path:
    """The CDDL folder: $OUROBOROS_CDDL_DIR, else `../shared/spec/cddl` beside the repository."""
    folder = Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)
    if not (folder / "network.base.cddl").is_file():
        raise CddlError(
            f"CDDL specification not found in {folder} (no network.base.cddl); set {ENV_DIR} or put the "
            "shared spec beside the repository"
        )
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


# --------------------------------------------------------------------------------------------------
# Compiling for pycddl. pycddl 0.6.4 (the Rust crate `cddl`) gets type choices wrong in three ways that
# reject valid messages (anweiss/cddl#223 and relatives; `VALIDATOR_BUGS` in cddl_deviations.yaml pins
# each with a minimal reproduction):
#   1. a rule that is a choice of values (`v = 14 / 15 / 16`) used as `[* v]` checks only the first value;
#   2. a choice of inline array literals used as `[* a]` checks only the first alternative;
#   3. an alternative containing `[* x]` leaves state behind, so later alternatives of the same choice fail.
# The text pycddl compiles is therefore rewritten, without changing its meaning: a value choice under an
# occurrence indicator is written out in place as `(14 / 15 / 16)`, the one form pycddl reads right (1);
# inline array/map alternatives of a choice are hoisted into named rules (2); and every choice that does
# not sit under an occurrence indicator is expanded into separate schemas, one per alternative, so that no
# schema holds two structured alternatives side by side (3). A message is valid if one schema accepts it.
# `uint .size n` becomes the range `0..(256^n - 1)`, which means the same and keeps negatives out.
# tests/test_cddl.py checks the rewrite against RFC 8610 verdicts on small schemas.

Token = tuple[str, str]


def _head_body(rule: Rule) -> tuple[list[Token], list[Token]]:
    i = next(i for i, (kind, value) in enumerate(rule.tokens) if kind == "assign" and value != "=>")
    return rule.tokens[: i + 1], rule.tokens[i + 1 :]


def _strip(tokens: list[Token]) -> list[Token]:
    start, end = 0, len(tokens)
    while start < end and tokens[start][0] == "space":
        start += 1
    while end > start and tokens[end - 1][0] == "space":
        end -= 1
    return tokens[start:end]


def _alternatives(body: list[Token]) -> list[list[Token]]:
    """The top-level type choices of a rule body (`/`, not the group choice `//`)."""
    out: list[list[Token]] = [[]]
    depth = 0
    for i, token in enumerate(body):
        kind, value = token
        if kind == "punct" and value in _OPEN:
            depth += 1
        elif kind == "punct" and value in _CLOSE:
            depth -= 1
        lone_slash = (
            value == "/"
            and kind == "punct"
            and (
                (i == 0 or body[i - 1] != ("punct", "/"))
                and (i + 1 == len(body) or body[i + 1] != ("punct", "/"))
            )
        )
        if depth == 0 and lone_slash:
            out.append([])
        else:
            out[-1].append(token)
    return [_strip(a) for a in out]


def _under_occurrence(tokens: list[Token], i: int) -> bool:
    """Whether tokens[i] sits in a group entry with an occurrence indicator (`*`, `+`, `?`, `n*m`)."""
    depth = 0
    for kind, value in reversed(tokens[:i]):
        if kind == "punct" and value in _CLOSE:
            depth += 1
        elif kind == "punct" and value in _OPEN:
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0 and kind == "punct" and value == ",":
            return False
        elif depth == 0 and kind == "punct" and value in "*+?":
            return True
    return False


def _uint_ranges(tokens: list[Token]) -> list[Token]:
    """`uint .size n` -> `0..(256^n - 1)`: the same set (RFC 8610 3.8.1), without negatives (PYCDDL-09)."""
    out = list(tokens)
    for i in range(len(out) - 4, -1, -1):
        kind, value = out[i]
        window = [k for k, _ in out[i + 1 : i + 5]]
        if (kind, value) == ("name", "uint") and window == ["space", "control", "space", "number"]:
            size = out[i + 4][1]
            if out[i + 2][1] == ".size" and size.isdigit() and 0 < int(size) <= 8:
                out[i : i + 5] = [("number", f"0..{(1 << (8 * int(size))) - 1}")]
    return out


class _PycddlRules:
    """The flattened rules rewritten for pycddl, and the expansion of the root into choice-free schemas."""

    def __init__(self, text: str) -> None:
        rules = _rules(text)
        self.root = rules[0].name
        self.heads: dict[str, list[Token]] = {}
        self.alts: dict[str, list[list[Token]]] = {}
        self.generic: set[str] = set()
        for rule in rules:
            head, body = _head_body(rule)
            self.heads[rule.name] = head
            self.alts[rule.name] = _alternatives(body)
            if ("punct", "<") in head:
                self.generic.add(rule.name)
        for name in list(self.alts):  # 2: hoist inline structured alternatives of a choice into named rules
            alts = self.alts[name]
            if len(alts) > 1 and name not in self.generic:
                for k, alt in enumerate(alts):
                    if self._literal_structured(alt):
                        hoisted = f"{name}.alt{k}"
                        self.heads[hoisted] = [("name", hoisted), ("space", " "), ("assign", "=")]
                        self.alts[hoisted] = [alt]
                        alts[k] = [("name", hoisted)]

    @staticmethod
    def _literal_structured(alt: list[Token]) -> bool:
        return bool(alt) and (alt[0] in (("punct", "["), ("punct", "{")) or alt[0] == ("punct", "#"))

    def structured(self, name: str) -> bool:
        """Whether a rule's values are arrays, maps or tags (so a choice of it is not a choice of values)."""
        alts = self.alts.get(name)
        if alts is None or name in self.generic:
            return False
        return any(
            self._literal_structured(alt)
            or (len(alt) == 1 and alt[0][0] == "name" and self.structured(alt[0][1]))
            for alt in alts
        )

    def needs_expansion(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """A choice of structured values, or a rule that reaches one outside occurrence indicators."""
        alts = self.alts.get(name)
        if alts is None or name in self.generic or name in seen:
            return False
        if len(alts) > 1 and self.structured(name):
            return True
        body = alts[0]
        return any(
            kind == "name" and not _under_occurrence(body, i) and self.needs_expansion(value, seen | {name})
            for i, (kind, value) in enumerate(body)
        )

    def value_choice(self, name: str) -> bool:
        alts = self.alts.get(name)
        return alts is not None and len(alts) > 1 and name not in self.generic and not self.structured(name)

    def _values(self, name: str) -> list[str]:
        """The alternatives of a value choice, nested value choices spelled out (`a / 16` -> 14, 15, 16)."""
        out: list[str] = []
        for alt in self.alts[name]:
            if len(alt) == 1 and alt[0][0] == "name" and self.value_choice(alt[0][1]):
                out.extend(self._values(alt[0][1]))
            else:
                out.append("".join(v for _, v in alt))
        return out

    def _spelled(self, tokens: list[Token]) -> str:
        """CDDL text of tokens; value choices under an occurrence indicator written out in parentheses."""
        tokens = _uint_ranges(tokens)
        return "".join(
            f"({' / '.join(self._values(value))})"
            if kind == "name" and self.value_choice(value) and _under_occurrence(tokens, i)
            else value
            for i, (kind, value) in enumerate(tokens)
        )

    def text_of(self, name: str) -> str:
        head = " ".join(
            "".join(v for _, v in self.heads[name]).split()
        )  # name and `=` on one line: PYCDDL-07
        return f"{head} " + " / ".join(self._spelled(alt) for alt in self.alts[name])

    def variants(self) -> list[tuple[str, str]]:
        """(label, CDDL text) per choice-free expansion of the root rule."""
        others = "\n".join(self.text_of(n) for n in self.alts)
        out = []
        for label, tokens in self._expand([("name", self.root)], ()):
            root = self._spelled(tokens)
            out.append((" > ".join(label) or self.root, f"{self.root}.variant = {root}\n{others}\n"))
        return out

    def _expand(
        self, tokens: list[Token], label: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], list[Token]]]:
        """Replace the first reference that needs expansion by each of its alternatives, recursively."""
        for i, (kind, value) in enumerate(tokens):
            if kind == "name" and not _under_occurrence(tokens, i) and self.needs_expansion(value):
                alts = self.alts[value]
                for k, alt in enumerate(alts):
                    named = alt[0][1] if len(alt) == 1 and alt[0][0] == "name" else f"{value}#{k}"
                    step = label if len(alts) == 1 else label + (named,)
                    yield from self._expand(tokens[:i] + alt + tokens[i + 1 :], step)
                return
        yield label, tokens


@cache
def pycddl_variants(text: str) -> tuple[tuple[str, pycddl.Schema], ...]:
    """The compiled choice-free schemas that together mean the same as flattened CDDL `text`."""
    out = []
    for label, variant in _PycddlRules(text).variants():
        try:
            out.append((label, pycddl.Schema(variant)))
        except Exception as exc:  # pycddl raises a plain ValueError with the parser's report
            raise CddlError(f"pycddl cannot compile the CDDL ({label}): {exc}\n{variant}") from None
    return tuple(out)


def pycddl_text(text: str) -> str:
    """What pycddl compiles for `text`, every variant one after the other (for reading, not compiling)."""
    return "\n".join(f"; variant {label}\n{variant}" for label, variant in _PycddlRules(text).variants())


def validate_text(text: str, data: bytes, *, protocol: str, schema: str | None = None) -> None:
    """Validate `data` against flattened CDDL `text`; raise CddlMismatch with pycddl's reasons.

    CDDL describes one data item, so bytes after it are a mismatch (pycddl alone ignores them: PYCDDL-05).
    """
    try:
        end = cbor.scan_item(bytes(data))
    except wire.DecodeError as exc:
        raise CddlMismatch(
            protocol, f"not well-formed CBOR: {exc.expected} at offset {exc.offset}", schema
        ) from None
    if end != len(data):
        raise CddlMismatch(protocol, f"{len(data) - end} bytes after the CBOR data item", schema)
    errors: list[tuple[str, str]] = []
    for label, compiled in pycddl_variants(text):
        try:
            compiled.validate_cbor(bytes(data))
        except pycddl.ValidationError as exc:
            errors.append((label, str(exc).strip()))
        else:
            return
    raise CddlMismatch(protocol, _summary(errors), schema)


def _summary(errors: list[tuple[str, str]]) -> str:
    """pycddl's reasons, without alternatives that failed on the message tag when others got further."""

    def far(error: str) -> bool:  # got past the message tag and the array length
        return not re.search(r"cbor location (/0)?:", error.splitlines()[0])

    near = [(label, e) for label, e in errors if far(e)] or errors
    return "; ".join(f"{label}: {e.splitlines()[0]}" for label, e in near)


def validate(protocol: str, data: bytes) -> None:
    """Raise CddlMismatch unless `data` (one whole message) satisfies the protocol's upstream CDDL."""
    validate_text(flattened(protocol), data, protocol=protocol)


def accepts(protocol: str, data: bytes) -> bool:
    try:
        validate(protocol, data)
    except CddlMismatch:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Deviations: where the CDDL and the node disagree, recorded as data with their reason.

EFFECTS = ("cddl-rejects-valid", "cddl-accepts-invalid", "comment-only")


@dataclass(frozen=True)
class Deviation:
    """One known disagreement between the upstream CDDL and what the Haskell node does.

    `effect` says which way it cuts. `cddl-rejects-valid`: the CDDL is too strict or out of date, so valid
    messages fail it; `matches` names the predicate (MATCHERS) that selects exactly the messages it
    explains, and `amendment` is CDDL that replaces rules of the protocol's schema so that they pass (the
    deviation then explains the whole failure and cannot hide a second one). `cddl-accepts-invalid`: the
    CDDL cannot express a rule the node enforces; it shows up as findings of the mutation test, which cite
    it. `comment-only`: a comment in the CDDL is wrong, verdicts are unaffected; `matches` selects the
    messages that contradict the comment.
    """

    id: str
    protocols: tuple[str, ...]
    rule: str
    effect: str
    cddl_says: str
    node_does: str
    reason: str
    source: str
    matches: str | None = None
    amendment: str = ""
    vectors: tuple[str, ...] = ()
    examples: tuple[bytes, ...] = ()

    def applies_to(self, message: wire.Message) -> bool:
        return (
            self.matches is not None
            and message.protocol in self.protocols
            and MATCHERS[self.matches](message)
        )


@dataclass(frozen=True)
class ValidatorBug:
    """A place where pycddl's verdict differs from RFC 8610's, pinned by a minimal reproduction."""

    id: str
    summary: str
    schema: str
    data: bytes
    rfc8610: str
    pycddl: str
    worked_around: bool
    upstream: str = ""
    via_rewrite: str = ""
    """For a worked-around bug: a schema to check through validate_text (default: `schema`)."""
    via_rewrite_data: bytes = b""


_DEVIATION_KEYS = {
    "id",
    "protocols",
    "rule",
    "effect",
    "cddl_says",
    "node_does",
    "reason",
    "source",
    "matches",
    "amendment",
    "vectors",
    "examples",
    "notes",
}
_BUG_KEYS = {
    "id",
    "summary",
    "schema",
    "hex",
    "rfc8610",
    "pycddl",
    "worked_around",
    "upstream",
    "via_rewrite",
    "via_rewrite_hex",
    "notes",
}


def _checked(entry: dict[str, Any], keys: set[str], where: str) -> dict[str, Any]:
    unknown = set(entry) - keys
    if unknown:
        raise ValueError(f"{where}: {entry.get('id')}: unknown keys {sorted(unknown)}")
    return entry


@cache
def _deviations_document(
    path: Path = DEVIATIONS_FILE,
) -> tuple[tuple[Deviation, ...], tuple[ValidatorBug, ...]]:
    document = yaml.safe_load(path.read_text())
    devs = []
    for entry in document["deviations"]:
        entry = _checked(entry, _DEVIATION_KEYS, path.name)
        where = f"{path.name}: {entry['id']}"
        if entry["effect"] not in EFFECTS:
            raise ValueError(f"{where}: effect must be one of {EFFECTS}")
        unknown = set(entry["protocols"]) - set(SCHEMAS)
        if unknown:
            raise ValueError(f"{where}: unknown protocols {sorted(unknown)}")
        matcher = entry.get("matches")
        if matcher is not None and matcher not in MATCHERS:
            raise ValueError(f"{where}: unknown matcher {matcher!r}; known: {sorted(MATCHERS)}")
        if entry["effect"] == "cddl-rejects-valid" and (matcher is None or not entry.get("amendment")):
            raise ValueError(f"{where}: a cddl-rejects-valid deviation needs `matches` and `amendment`")
        devs.append(
            Deviation(
                id=entry["id"],
                protocols=tuple(entry["protocols"]),
                rule=entry["rule"],
                effect=entry["effect"],
                cddl_says=" ".join(entry["cddl_says"].split()),
                node_does=" ".join(entry["node_does"].split()),
                reason=" ".join(entry["reason"].split()),
                source=" ".join(entry["source"].split()),
                matches=matcher,
                amendment=entry.get("amendment", "").strip(),
                vectors=tuple(entry.get("vectors", ())),
                examples=tuple(bytes.fromhex(h) for h in entry.get("examples", ())),
            )
        )
    bugs = [
        ValidatorBug(
            id=e["id"],
            summary=" ".join(e["summary"].split()),
            schema=e["schema"],
            data=bytes.fromhex(e["hex"]),
            rfc8610=e["rfc8610"],
            pycddl=e["pycddl"],
            worked_around=bool(e["worked_around"]),
            upstream=e.get("upstream", ""),
            via_rewrite=e.get("via_rewrite", ""),
            via_rewrite_data=bytes.fromhex(e.get("via_rewrite_hex", "")),
        )
        for e in (_checked(e, _BUG_KEYS, path.name) for e in document.get("validator_bugs", []))
    ]
    ids = [d.id for d in devs] + [b.id for b in bugs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: duplicate ids")
    return tuple(devs), tuple(bugs)


def deviations() -> tuple[Deviation, ...]:
    """The recorded CDDL deviations (cddl_deviations.yaml), checked for shape."""
    return _deviations_document()[0]


def validator_bugs() -> tuple[ValidatorBug, ...]:
    """The recorded pycddl bugs (cddl_deviations.yaml, `validator_bugs`)."""
    return _deviations_document()[1]


def deviation(deviation_id: str) -> Deviation:
    for d in deviations():
        if d.id == deviation_id:
            return d
    raise KeyError(deviation_id)


def deviations_for(message: wire.Message) -> list[Deviation]:
    """The cddl-rejects-valid deviations that explain why this (valid) message fails its protocol's CDDL."""
    return [d for d in deviations() if d.effect == "cddl-rejects-valid" and d.applies_to(message)]


def amended(protocol: str, devs: Iterable[Deviation]) -> str:
    """The protocol's flattened CDDL with the amendments of `devs` (rules they define replace ours)."""
    amendments = [d.amendment for d in devs if d.amendment]
    names = [r.name for a in amendments for r in _rules(a)]
    if len(set(names)) != len(names):
        raise CddlError(f"amendments for {protocol} redefine the same rule: {sorted(names)}")
    source = _source(protocol)
    return flatten_file(source.file, source.root, "\n".join(amendments))


def validate_amended(protocol: str, data: bytes, devs: Iterable[Deviation]) -> None:
    """Raise CddlMismatch unless `data` satisfies the protocol's CDDL as amended by `devs`."""
    devs = list(devs)
    label = "+".join([protocol, *(d.id for d in devs)])
    validate_text(amended(protocol, devs), data, protocol=protocol, schema=label)


# Matchers: predicates over decoded messages, referenced by name from cddl_deviations.yaml.

N2N_CDDL_VERSIONS = range(14, 17)
"""The N2N versions handshake-node-to-node-v14.cddl knows."""
N2N_OBSOLETE_VERSIONS = range(7, 14)
"""The N2N versions we decode that only the obsolete/ CDDL files describe."""


def _refused_versions(message: wire.Message) -> list[int]:
    """Versions in an AcceptVersion or a Refuse (not in version tables: pycddl cannot check map keys)."""
    if message.name == "MsgAcceptVersion":
        return [message.fields["version"]]
    if message.name == "MsgRefuse":
        reason = message.fields["reason"]
        return list(reason["versions"]) if reason["kind"] == "VersionMismatch" else [reason["version"]]
    return []


def _n2n_obsolete_version(message: wire.Message) -> bool:
    return any(v in N2N_OBSOLETE_VERSIONS for v in _refused_versions(message))


def _mismatch_lists_unknown_version(message: wire.Message) -> bool:
    if message.name != "MsgRefuse" or message.fields["reason"]["kind"] != "VersionMismatch":
        return False
    return any(v not in _known_versions(message) for v in message.fields["reason"]["versions"])


def _known_versions(message: wire.Message) -> tuple[int, ...]:
    return N2N_VERSIONS if message.protocol == "handshake" else N2C_VERSIONS


def _undecodable_version_data(message: wire.Message) -> bool:
    """A version table entry whose data did not decode (kept raw, as the node does), for a version the CDDL
    table checks; pycddl does not look at entries with other keys (PYCDDL-04)."""
    if message.name not in ("MsgProposeVersions", "MsgReplyVersions", "MsgQueryReply"):
        return False
    checked = N2N_CDDL_VERSIONS if message.protocol == "handshake" else N2C_VERSIONS  # other keys: PYCDDL-04
    return any(isinstance(data, RawCbor) and v in checked for v, data in message.fields["versions"].items())


def _reject_reason_not_int(message: wire.Message) -> bool:
    """A reason that is not a CDDL `int` (CBOR major type 0 or 1).

    pycddl lets some of them pass all the same (tags other than 0 and 1, maps with integer keys: PYCDDL-11,
    PYCDDL-12), so for generated messages the tests check only that the amended CDDL accepts them.
    """
    return message.name == "MsgRejectTx" and bytes(message.fields["reason"])[0] >> 5 not in (0, 1)


def _indefinite_points(message: wire.Message) -> bool:
    return message.name == "MsgFindIntersect" and bool(getattr(message.fields["points"], "indefinite", False))


MATCHERS: dict[str, Callable[[wire.Message], bool]] = {
    "n2n-obsolete-version": _n2n_obsolete_version,
    "version-mismatch-lists-unknown-version": _mismatch_lists_unknown_version,
    "reject-reason-not-int": _reject_reason_not_int,
    "find-intersect-indefinite-points": _indefinite_points,
    "version-table-with-undecodable-data": _undecodable_version_data,
}
"""Named predicates that deviations and recorded findings use to say which messages they explain."""


# --------------------------------------------------------------------------------------------------
# Messages of golden vectors.


def vector_messages(vector: Any) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of each whole message in a `message` or `stream` vector; labels are unique."""
    if vector.kind == "message":
        yield vector.id, vector.data
    elif vector.kind == "stream":
        pos, n = 0, 0
        while pos < len(vector.data):
            end = cbor.scan_item(vector.data, pos)
            yield f"{vector.id}#{n}", vector.data[pos:end]
            pos, n = end, n + 1


# --------------------------------------------------------------------------------------------------
# Mutations of golden messages, and where our decoder and the CDDL disagree about them.


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([major << 5 | info]) + n.to_bytes(width, "big")
    raise ValueError(n)


def _elements(data: bytes) -> list[bytes]:
    """The exact bytes of each element of the top-level array `data` (definite or indefinite)."""
    initial = data[0]
    if initial >> 5 != 4:
        raise ValueError("not an array")
    info = initial & 0x1F
    out = []
    if info == 31:
        pos = 1
        while data[pos] != 0xFF:
            end = cbor.scan_item(data, pos)
            out.append(data[pos:end])
            pos = end
        return out
    width = {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
    count = info if info < 24 else int.from_bytes(data[1 : 1 + width], "big")
    pos = 1 + width
    for _ in range(count):
        end = cbor.scan_item(data, pos)
        out.append(data[pos:end])
        pos = end
    return out


def _array(elements: list[bytes]) -> bytes:
    return _head(4, len(elements)) + b"".join(elements)


def _other_major(element: bytes) -> bytes:
    """A value of another CBOR major type: -1 for an unsigned integer, 0 for anything else."""
    return b"\x20" if element[0] >> 5 == 0 else b"\x00"


MUTATIONS = (
    "tag-unknown",
    "tag-next",
    "drop-last",
    "add-element",
    "retype-N",
    "truncate",
    "trailing-byte",
    "indefinite-envelope",
)
"""The mutation kinds; `retype-N` stands for one mutation per field N >= 1."""


def mutations(protocol: str, data: bytes) -> list[tuple[str, bytes]]:
    """Deterministic invalid-looking variants of one message `[tag, field...]`, each with its name.

    tag-unknown: a tag the protocol does not define; tag-next: the next defined tag, fields kept;
    drop-last / add-element: one element fewer / one more (uint 0); retype-N: field N replaced by a value of
    another major type; truncate: last byte cut; trailing-byte: a 0x00 after the message;
    indefinite-envelope: the same elements in an indefinite-length array (the node needs definite).
    """
    elements = _elements(data)
    tags = sorted(wire.CODECS[protocol].by_tag)
    tag = cbor.decode_item(elements[0])[0]
    following = [t for t in tags if t > tag]
    next_tag = following[0] if following else tags[0]
    out = [
        ("tag-unknown", _array([cbor.encode_item(tags[-1] + 1), *elements[1:]])),
        ("tag-next", _array([cbor.encode_item(next_tag), *elements[1:]])),
        ("drop-last", _array(elements[:-1])),
        ("add-element", _array([*elements, b"\x00"])),
    ]
    for i in range(1, len(elements)):
        out.append((f"retype-{i}", _array([*elements[:i], _other_major(elements[i]), *elements[i + 1 :]])))
    out += [
        ("truncate", data[:-1]),
        ("trailing-byte", data + b"\x00"),
        ("indefinite-envelope", b"\x9f" + b"".join(elements) + b"\xff"),
    ]
    return out


@dataclass(frozen=True)
class Verdicts:
    """What our decoder and the CDDL say about one mutated message."""

    vector: str
    mutation: str
    decoder: str  # "accepts" or "rejects"
    cddl: str
    schema: str  # the protocol, or protocol+deviation ids when the vector needs an amended schema
    decoder_error: str = ""
    cddl_error: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.vector, self.mutation)

    @property
    def disagree(self) -> bool:
        return self.decoder != self.cddl


def mutation_verdicts(vectors: Iterable[Any]) -> list[Verdicts]:
    """Decoder and CDDL verdicts for every mutation of every golden `message` vector."""
    out = []
    for vector in vectors:
        if vector.kind != "message" or not vector.valid:
            continue
        original = wire.decode(vector.protocol, vector.data, vector.state)
        devs = deviations_for(original)
        text = amended(vector.protocol, devs) if devs else flattened(vector.protocol)
        schema = "+".join([vector.protocol, *(d.id for d in devs)])
        for name, data in mutations(vector.protocol, vector.data):
            try:
                wire.decode(vector.protocol, data, vector.state)
                decoder, decoder_error = "accepts", ""
            except wire.DecodeError as exc:
                decoder, decoder_error = "rejects", str(exc)
            try:
                validate_text(text, data, protocol=vector.protocol, schema=schema)
                verdict, cddl_error = "accepts", ""
            except CddlMismatch as exc:
                verdict, cddl_error = "rejects", exc.reason
            out.append(Verdicts(vector.id, name, decoder, verdict, schema, decoder_error, cddl_error))
    return out


def original_verdicts(vectors: Iterable[Any]) -> list[Verdicts]:
    """Decoder and CDDL verdicts on every golden message as it is (mutation `original`), with deviations."""
    out = []
    for vector in vectors:
        if vector.kind not in ("message", "stream") or not vector.valid:
            continue
        for label, data in vector_messages(vector):
            message = wire.decode(vector.protocol, data, vector.state if vector.kind == "message" else None)
            devs = deviations_for(message)
            schema = "+".join([vector.protocol, *(d.id for d in devs)])
            try:
                validate_amended(vector.protocol, data, devs) if devs else validate(vector.protocol, data)
                verdict, cddl_error = "accepts", ""
            except CddlMismatch as exc:
                verdict, cddl_error = "rejects", exc.reason
            out.append(Verdicts(label, "original", "accepts", verdict, schema, "", cddl_error))
    return out


# Why a disagreement happens: the CDDL type at the place our decoder complained about.


def _entries(tokens: list[Token]) -> list[list[Token]]:
    """The top-level entries of an array literal `[a, b, c]` given as tokens."""
    tokens = _strip(tokens)
    if not tokens or tokens[0] != ("punct", "[") or tokens[-1] != ("punct", "]"):
        return []
    out: list[list[Token]] = [[]]
    depth = 0
    for kind, value in tokens[1:-1]:
        if kind == "punct" and value in _OPEN:
            depth += 1
        elif kind == "punct" and value in _CLOSE:
            depth -= 1
        if depth == 0 and (kind, value) == ("punct", ","):
            out.append([])
        else:
            out[-1].append((kind, value))
    return [_strip(e) for e in out if _strip(e)]


def _deref(rules: _PycddlRules, tokens: list[Token]) -> list[Token]:
    """Follow a single-name alias chain to the type it stands for."""
    seen: set[str] = set()
    while len(tokens) == 1 and tokens[0][0] == "name" and tokens[0][1] in rules.alts:
        name = tokens[0][1]
        if name in seen or len(rules.alts[name]) != 1:
            break
        seen.add(name)
        tokens = rules.alts[name][0]
    return tokens


def _message_entry(text: str, tag: int, arity: int, index: int) -> tuple[_PycddlRules, list[Token]] | None:
    """The CDDL tokens of element `index` of the message `[tag, ...]` that has `arity` elements."""
    rules = _PycddlRules(text)
    for _, tokens in rules._expand([("name", rules.root)], ()):
        entries = _entries(_deref(rules, tokens))
        if len(entries) == arity and entries[0] == [("number", str(tag))]:
            return rules, entries[index]
    return None


def field_type(text: str, tag: int, arity: int, index: int) -> str | None:
    """The CDDL type (aliases followed) of element `index` of the message `[tag, ...]` of `arity` elements."""
    found = _message_entry(text, tag, arity, index)
    if found is None:
        return None
    rules, entry = found
    return "".join(v for _, v in _deref(rules, entry))


def field_source(text: str, tag: int, arity: int, index: int) -> str:
    """The name the CDDL writes at that place (`base.point`), for explanations."""
    found = _message_entry(text, tag, arity, index)
    return "".join(v for _, v in found[1]) if found else "?"


_CARDANO_SHAPE = {
    "base.point": "[] or [slotNo, headerHash]",
    "base.tip": "[point, blockNo]",
    "base.header": "[eraIndex, #6.24(bytes)], Byron [0, [[variant, sizeHint], #6.24(bytes)]]",
    "base.block": "#6.24(bytes .cbor [blockEra, block])",
}

_CAUSE_TEXT = {
    "deviation:CDDL-LENGTH-FORMS": (
        "The node reads every message with decodeListLen, which refuses an indefinite-length array "
        "(PROTOCOLS.md 3.1), and so does our decoder; CDDL cannot tell definite from indefinite length, "
        "so the same elements in a 0x9f...0xff array satisfy it."
    ),
    "deviation:CDDL-POLYMORPHIC-ANY": (
        "{where} is `{cddl}` in the network-layer CDDL (polymorphic: `any`), so the CDDL accepts anything "
        "there; our decoder checks the Cardano encoding ({expected}) as the node's decoder does, and rejects "
        "it."
    ),
    "validator:PYCDDL-01": (
        "{where} is `{cddl}`; by RFC 8610 a {got} is no such array and the CDDL rejects it, but pycddl lets "
        "a non-array pass where an array of `*` entries is expected (PYCDDL-01). Our decoder rejects it, "
        "rightly."
    ),
    "validator:PYCDDL-10": (
        "{where} is `{cddl}`; by RFC 8610 a {got} is no map and the CDDL rejects it, but pycddl lets a "
        "non-map pass where a map of `*` entries is expected (PYCDDL-10). Our decoder rejects it, rightly."
    ),
}


def classify(verdict: Verdicts, text: str) -> tuple[str, str]:
    """(cause, explanation) of one disagreement, or ("unexplained", "") when no rule fits."""
    if verdict.mutation == "indefinite-envelope" and verdict.decoder == "rejects":
        cause = "deviation:CDDL-LENGTH-FORMS"
        return cause, _CAUSE_TEXT[cause]
    match = re.search(r"message=(\w+), path=\$\.(\w+): expected (.*), got (\S+)", verdict.decoder_error)
    if verdict.decoder != "rejects" or match is None:
        return "unexplained", ""
    message_name, field_name, expected, got = match.groups()
    protocol = verdict.schema.split("+")[0]
    declaration = wire.CODECS[protocol].messages[message_name]
    index = 1 + [name for name, _ in declaration.fields].index(field_name)
    cddl_type = field_type(text, declaration.tag, len(declaration.fields) + 1, index)
    where = f"{message_name} element {index} ({field_name})"
    if cddl_type == "any":
        cause = "deviation:CDDL-POLYMORPHIC-ANY"
        source = field_source(text, declaration.tag, len(declaration.fields) + 1, index)
        shape = _CARDANO_SHAPE.get(source, expected)
        return cause, _CAUSE_TEXT[cause].format(where=where, cddl=f"{source} = any", expected=shape)
    if cddl_type and cddl_type.startswith("[") and "*" in cddl_type:
        cause = "validator:PYCDDL-01"
    elif cddl_type and cddl_type.startswith("{"):
        cause = "validator:PYCDDL-10"
    else:
        return "unexplained", ""
    return cause, _CAUSE_TEXT[cause].format(where=where, cddl=cddl_type, got=got)


# --------------------------------------------------------------------------------------------------
# The recorded findings: vectors/cddl-findings.yaml.

FINDINGS_FILE = REPO / "vectors" / "cddl-findings.yaml"

_FINDINGS_HEADER = """\
# Where our decoder (conformance.wire) and the upstream CDDL (conformance.cddl, pycddl) disagree.
# Regenerate with `python -m conformance.cddl findings --write`; explanations already here are kept.
#
# findings: golden message vectors, unmutated (mutation: original) and mutated (conformance.cddl.mutations):
#   decoder / cddl: accepts or rejects; schema: the CDDL used (protocol, plus the deviations whose amendment
#   applies to the vector); cause: deviation:<id> or validator:<id> (conformance/cddl_deviations.yaml).
#   Our decoder accepting what the CDDL rejects is a decoder bug: tests/test_cddl.py allows none.
# tests/test_cddl.py fails on a disagreement that is not recorded here and on a record that no longer occurs.
"""


def compute_findings(vectors: Iterable[Any]) -> list[dict[str, Any]]:
    """Every disagreement on golden vectors (unmutated and mutated), classified and explained."""
    vectors = list(vectors)
    out = []
    for verdict in [*original_verdicts(vectors), *mutation_verdicts(vectors)]:
        if not verdict.disagree:
            continue
        protocol, *ids = verdict.schema.split("+")
        text = amended(protocol, [deviation(i) for i in ids]) if ids else flattened(protocol)
        cause, explanation = classify(verdict, text)
        out.append(
            {
                "vector": verdict.vector,
                "mutation": verdict.mutation,
                "decoder": verdict.decoder,
                "cddl": verdict.cddl,
                "schema": verdict.schema,
                "cause": cause,
                "explanation": explanation,
            }
        )
    return out


def load_findings(path: Path = FINDINGS_FILE) -> list[dict[str, Any]]:
    """The recorded disagreements between our decoder and the CDDL."""
    if not path.is_file():
        return []
    document = yaml.safe_load(path.read_text()) or {}
    return list(document.get("findings", []))


def write_findings(findings: list[dict[str, Any]], path: Path = FINDINGS_FILE) -> None:
    """Write findings, keeping the explanations (and causes) of records already in the file."""
    old = load_findings(path)
    kept = {(f["vector"], f["mutation"]): f for f in old}
    merged = []
    for finding in findings:
        previous = kept.get((finding["vector"], finding["mutation"]))
        if previous and previous.get("explanation") and not str(previous["explanation"]).startswith("TODO"):
            finding = {**finding, "cause": previous["cause"], "explanation": previous["explanation"]}
        if not finding["explanation"]:
            finding = {**finding, "explanation": "TODO: explain"}
        merged.append(finding)
    body = yaml.safe_dump({"findings": merged}, sort_keys=False, width=110, allow_unicode=True)
    path.write_text(_FINDINGS_HEADER + "\n" + body)


# --------------------------------------------------------------------------------------------------
# Command line.


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from .vectors import load_vectors

    parser = argparse.ArgumentParser(prog="python -m conformance.cddl", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    flatten = commands.add_parser("flatten", help="print a protocol's flattened CDDL")
    flatten.add_argument("protocol", choices=sorted(SCHEMAS))
    flatten.add_argument(
        "--pycddl", action="store_true", help="print what pycddl compiles (the rewritten variants)"
    )
    commands.add_parser("check", help="validate every golden message against its protocol's CDDL")
    findings = commands.add_parser(
        "findings", help="compare decoder and CDDL verdicts with the recorded findings"
    )
    findings.add_argument("--write", action="store_true", help=f"rewrite {FINDINGS_FILE.relative_to(REPO)}")
    args = parser.parse_args(argv)

    if args.command == "flatten":
        text = flattened(args.protocol)
        print(pycddl_text(text) if args.pycddl else text, end="")
        return 0
    if args.command == "check":
        failed = 0
        for verdict in original_verdicts(load_vectors()):
            print(f"{verdict.cddl:8} {verdict.schema:50} {verdict.vector}")
            failed += verdict.cddl != "accepts"
        print(f"{failed} of the golden messages fail their CDDL (deviations applied)")
        return 0
    current = compute_findings(load_vectors())
    if args.write:
        write_findings(current)
        print(f"wrote {len(current)} findings to {FINDINGS_FILE}")
        return 0
    recorded = load_findings()
    now = {(f["vector"], f["mutation"]) for f in current}
    before = {(f["vector"], f["mutation"]) for f in recorded}
    for key in sorted(now - before):
        print("new:     ", *key, file=sys.stderr)
    for key in sorted(before - now):
        print("gone:    ", *key, file=sys.stderr)
    print(f"{len(current)} findings now, {len(recorded)} recorded")
    return 1 if now != before else 0


if __name__ == "__main__":
    raise SystemExit(main())
