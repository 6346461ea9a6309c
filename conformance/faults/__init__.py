"""The fault zoo: faulty peers, each the reference peer with one requirement broken (peers/faulty/*.yaml),
and the sensitivity run that proves the suite catches each one with its exact id (docs/faults.md)."""

from __future__ import annotations

from pathlib import Path

from .apply import behaviours, configure
from .loader import FaultError, load, parse
from .model import Egress, Fault, Rewrite


def zoo_dir() -> Path:
    """peers/faulty/ of the checkout, or its installed copy."""
    from conformance.data import _folder

    return _folder("conformance.data.faulty", "README.md")


def load_all(folder: Path | None = None) -> list[Fault]:
    """Every fault of the zoo, sorted by name; names must be unique."""
    faults = [load(path) for path in sorted((folder or zoo_dir()).glob("*.yaml"))]
    names = [f.name for f in faults]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FaultError(f"fault names used twice: {duplicated}")
    return sorted(faults, key=lambda f: f.name)


def find(name: str) -> Fault:
    """A fault by its name, or by the path of its file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return load(Path(name))
    for fault in load_all():
        if fault.name == name:
            return fault
    raise FaultError(f"no fault named {name!r} in {zoo_dir()}")


__all__ = ["Egress", "Fault", "FaultError", "Rewrite", "behaviours", "configure", "find", "load", "load_all", "parse"]
