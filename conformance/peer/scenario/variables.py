"""`${name}` in a scenario: a value captured by an earlier step (or given on the command line).

A string that is exactly `${name}` stands for the captured value itself, whatever its type (a cookie
stays an integer, a point stays a mapping); `${name}` inside a longer string is replaced by its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import StepError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
PREDEFINED = ("magic",)
"""Variables every scenario has: `magic` is the network magic (the header's, or --magic)."""


def references(value: Any) -> Iterator[str]:
    """Every variable name `value` mentions, at any depth."""
    if isinstance(value, str):
        yield from _REFERENCE.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every `${name}` replaced; an unset name is a StepError."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables)
        return _REFERENCE.sub(lambda m: _text(_lookup(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise StepError(f"variable ${{{name}}} is not set (captured: {', '.join(sorted(variables)) or 'none'})")
    return variables[name]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
