"""Field matchers of an `expect` step, applied to a received message's fields in the wire layer's JSON
form (the form `ouroboros-conformance decode` prints: bytes as hex, points as mappings).

A matcher is written as a plain value (equality) or a one-key mapping: `{equals: V}`, `{regex: PATTERN}`
(searched in text, e.g. hex), `{any_of: [matcher, ...]}`, `{range: [LOW, HIGH]}` (inclusive; null for
no bound) or `{present: true|false}`. Fields are named by dotted paths (`tip.block_no`, `points.0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .variables import substitute

KEYWORDS = ("equals", "regex", "any_of", "range", "present")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""What a path names when the message has no such field."""


@dataclass(frozen=True)
class Equals:
    expected: Any

    def mismatch(self, value: Any, variables: Mapping[str, Any]) -> str | None:
        expected = substitute(self.expected, variables)
        if value is MISSING:
            return f"missing, expected {expected!r}"
        if _same(value, expected):
            return None
        return f"{value!r}, expected {expected!r}"


@dataclass(frozen=True)
class Regex:
    pattern: str

    def mismatch(self, value: Any, variables: Mapping[str, Any]) -> str | None:
        pattern = substitute(self.pattern, variables)
        if not isinstance(value, str):
            return f"{value!r} is not text, expected text matching /{pattern}/"
        if re.search(pattern, value):
            return None
        return f"{value!r} does not match /{pattern}/"


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Matcher, ...]

    def mismatch(self, value: Any, variables: Mapping[str, Any]) -> str | None:
        reasons = []
        for option in self.options:
            reason = option.mismatch(value, variables)
            if reason is None:
                return None
            reasons.append(reason)
        return "none of the options: " + "; ".join(reasons)


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any

    def mismatch(self, value: Any, variables: Mapping[str, Any]) -> str | None:
        low, high = substitute(self.low, variables), substitute(self.high, variables)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{value!r} is not a number, expected one in [{low}, {high}]"
        if (low is None or value >= low) and (high is None or value <= high):
            return None
        return f"{value} is outside [{low}, {high}]"


@dataclass(frozen=True)
class Present:
    wanted: bool

    def mismatch(self, value: Any, variables: Mapping[str, Any]) -> str | None:
        if (value is not MISSING) == self.wanted:
            return None
        return "missing, expected present" if self.wanted else f"{value!r} present, expected absent"


Matcher = Equals | Regex | AnyOf | Range | Present


def _same(value: Any, expected: Any) -> bool:
    """Equality of JSON forms, where YAML integers and booleans are not confused (True is not 1)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if isinstance(value, dict) and isinstance(expected, dict):
        return value.keys() == expected.keys() and all(_same(value[k], expected[k]) for k in value)
    if isinstance(value, list) and isinstance(expected, list):
        return len(value) == len(expected) and all(_same(a, b) for a, b in zip(value, expected, strict=True))
    if isinstance(value, str) and isinstance(expected, str):
        return value == expected or _hex_equal(value, expected)
    return bool(type(value) is type(expected) and value == expected) or (
        isinstance(value, (int, float)) and isinstance(expected, (int, float)) and value == expected
    )


def _hex_equal(a: str, b: str) -> bool:
    """Hex strings compare without regard to case ("00AB" is "00ab")."""
    return bool(re.fullmatch(r"[0-9a-fA-F]*", a) and re.fullmatch(r"[0-9a-fA-F]*", b)) and a.lower() == b.lower()


def resolve(fields: Any, path: str) -> Any:
    """The value at a dotted path in a message's JSON fields, or MISSING."""
    value = fields
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value
