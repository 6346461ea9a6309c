"""Where the CDDL and the node disagree (and where pycddl and RFC 8610 do), loaded from
conformance/cddl_deviations.yaml, and the protocol's CDDL amended by deviations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .. import wire
from .matchers import MATCHERS
from .pycddl_compile import validate_text
from .spec import SCHEMAS, CddlError, _rules, _source, flatten_file

DEVIATIONS_FILE = Path(__file__).resolve().parent.parent / "cddl_deviations.yaml"

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
        return self.matches is not None and message.protocol in self.protocols and MATCHERS[self.matches](message)


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
