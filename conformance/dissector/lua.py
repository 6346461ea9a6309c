"""Python data written as Lua table constructors (the generated part of the plugin)."""

from __future__ import annotations

import re
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or repeat return then true until "
    "while".split()
)


def string(text: str) -> str:
    """A Lua string literal: printable ASCII as is, everything else as decimal escapes (any Lua version)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _key(key: Any) -> str:
    if isinstance(key, str) and _IDENTIFIER.match(key) and key not in _KEYWORDS:
        return key
    return f"[{literal(key)}]"


def literal(value: Any) -> str:
    """`value` (None, bool, int, str, list, tuple or dict of these) as one Lua expression on one line."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")
