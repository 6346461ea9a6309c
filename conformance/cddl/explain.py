"""Why a disagreement between our decoder and the CDDL happens: its cause and explanation."""

from __future__ import annotations

import re

from .. import wire
from .pycddl_compile import Token, _PycddlRules, _strip
from .spec import _CLOSE, _OPEN
from .verdicts import Verdicts

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
