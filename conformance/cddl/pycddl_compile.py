"""Compiling the flattened CDDL for pycddl, by a meaning-preserving rewrite, and validating bytes with it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import pycddl

from .. import wire
from ..wire import cbor
from .spec import _CLOSE, _OPEN, CddlError, Rule, _rules, flattened


class CddlMismatch(Exception):
    """Bytes that the protocol's CDDL rejects; `reason` is pycddl's message."""

    def __init__(self, protocol: str, reason: str, schema: str | None = None) -> None:
        self.protocol = protocol
        self.reason = reason.strip()
        self.schema = schema or protocol
        super().__init__(f"{self.schema}: CDDL rejects the bytes: {self.reason}")


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
            and ((i == 0 or body[i - 1] != ("punct", "/")) and (i + 1 == len(body) or body[i + 1] != ("punct", "/")))
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
            self._literal_structured(alt) or (len(alt) == 1 and alt[0][0] == "name" and self.structured(alt[0][1]))
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
        head = " ".join("".join(v for _, v in self.heads[name]).split())  # name and `=` on one line: PYCDDL-07
        return f"{head} " + " / ".join(self._spelled(alt) for alt in self.alts[name])

    def variants(self) -> list[tuple[str, str]]:
        """(label, CDDL text) per choice-free expansion of the root rule."""
        others = "\n".join(self.text_of(n) for n in self.alts)
        out = []
        for label, tokens in self._expand([("name", self.root)], ()):
            root = self._spelled(tokens)
            out.append((" > ".join(label) or self.root, f"{self.root}.variant = {root}\n{others}\n"))
        return out

    def _expand(self, tokens: list[Token], label: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], list[Token]]]:
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
        raise CddlMismatch(protocol, f"not well-formed CBOR: {exc.expected} at offset {exc.offset}", schema) from None
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
