"""Golden vectors: loading the YAML files in `vectors/` (installed as `conformance.data.vectors`) into typed records.

A vector is exact bytes plus what they must decode to, with where the bytes came from (`origin`,
`provenance`) and whether they are ours or imported (`source`). Kinds:

- `message`: one whole mini-protocol message (`fields` is the decoded JSON form);
- `stream`: several messages of one protocol back to back (`messages` lists their names);
- `sdu`: mux SDU bytes (`sdu` gives the header fields; may be a partial read);
- `payload`: an item carried inside a message (`payload` names which: header, block, gentx, query, ...).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .data import DataMissing, vectors_dir

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (several times faster on the large files)."""


@dataclass
class Vector:
    id: str
    file: str
    kind: str
    protocol: str
    data: bytes
    source: str
    origin: str
    message: str | None = None
    state: str | None = None
    fields: Any = None
    payload: str | None = None
    valid: bool = True
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def real(self) -> bool:
        """Bytes a real node produced or real chain data (not hand-written, generated or golden examples)."""
        return self.origin.startswith(("real-node-captured", "real-chain-data"))


_KNOWN = {
    "id",
    "kind",
    "protocol",
    "hex",
    "hex_file",
    "source",
    "origin",
    "message",
    "state",
    "fields",
    "payload",
    "valid",
    "provenance",
}


def _bytes_of(entry: dict[str, Any], root: Path) -> bytes:
    if "hex" in entry:
        return bytes.fromhex(entry["hex"])
    with gzip.open(root / entry["hex_file"], "rt") as handle:
        return bytes.fromhex(handle.read().strip())


def load_vectors(root: Path | None = None) -> tuple[Vector, ...]:
    """Every vector of every file under `root` (default: the golden vectors); finding none is an error."""
    return _load(vectors_dir() if root is None else root)


@cache
def _load(root: Path) -> tuple[Vector, ...]:
    """Cached per folder: the files do not change during a run."""
    vectors: list[Vector] = []
    for path in sorted(root.glob("*.yaml")):
        document = yaml.load(path.read_text(), Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
        for entry in document.get("vectors", []):
            vectors.append(
                Vector(
                    id=entry["id"],
                    file=path.name,
                    kind=entry["kind"],
                    protocol=entry["protocol"],
                    data=_bytes_of(entry, root),
                    source=entry["source"],
                    origin=entry["origin"],
                    message=entry.get("message"),
                    state=entry.get("state"),
                    fields=entry.get("fields"),
                    payload=entry.get("payload"),
                    valid=entry.get("valid", True),
                    provenance=entry.get("provenance", {}),
                    extra={k: v for k, v in entry.items() if k not in _KNOWN},
                )
            )
    ids = [v.id for v in vectors]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate vector ids: {sorted(duplicates)}")
    if not vectors:  # a loader that finds nothing must not let a check pass on nothing
        raise DataMissing(f"no golden vectors in {root}")
    return tuple(vectors)


def by_kind(kind: str) -> list[Vector]:
    return [v for v in load_vectors() if v.kind == kind]
