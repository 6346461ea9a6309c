"""The requirement catalogue: every rule the engine checks, with a stable id, severity and sources.

The catalogue is data (`conformance/requirements.yaml`); reports group results by its ids, and the
tests check that code and catalogue name the same set of rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "requirements.yaml"
SEVERITIES = ("MUST", "SHOULD", "informational")
ID_PATTERN = re.compile(r"^[A-Z]{2,4}(?:-[A-Z0-9]+)+-\d{2}$")
SOURCE_KEYS = ("spec", "cddl", "haskell", "differs")


class CatalogueError(ValueError):
    """The catalogue file does not have the expected shape."""


@dataclass(frozen=True)
class Requirement:
    """One rule: what must hold, how strongly, for which protocols, and where it is written down."""

    id: str
    statement: str
    severity: str
    protocols: tuple[str, ...]
    sources: Mapping[str, str]

    @property
    def differs(self) -> str | None:
        """Where the Haskell node differs from the written spec, if it does."""
        return self.sources.get("differs")


def _requirement(entry: Any) -> Requirement:
    if not isinstance(entry, dict):
        raise CatalogueError(f"entry is not a mapping: {entry!r}")
    rid = entry.get("id")
    if not isinstance(rid, str) or not ID_PATTERN.match(rid):
        raise CatalogueError(f"bad requirement id {rid!r}")
    unknown = set(entry) - {"id", "statement", "severity", "protocols", "sources"}
    if unknown:
        raise CatalogueError(f"{rid}: unknown keys {sorted(unknown)}")
    statement = entry.get("statement")
    if not isinstance(statement, str) or not statement.strip() or "\n" in statement.strip():
        raise CatalogueError(f"{rid}: the statement must be one line")
    severity = entry.get("severity")
    if severity not in SEVERITIES:
        raise CatalogueError(f"{rid}: severity {severity!r} is not one of {SEVERITIES}")
    protocols = entry.get("protocols")
    if not isinstance(protocols, list) or not protocols or not all(isinstance(p, str) for p in protocols):
        raise CatalogueError(f"{rid}: protocols must be a non-empty list of names")
    sources = entry.get("sources")
    if not isinstance(sources, dict) or not sources or set(sources) - set(SOURCE_KEYS):
        raise CatalogueError(f"{rid}: sources must map some of {SOURCE_KEYS} to text")
    if not all(isinstance(text, str) and text for text in sources.values()):
        raise CatalogueError(f"{rid}: every source must be non-empty text")
    return Requirement(rid, statement.strip(), severity, tuple(protocols), dict(sources))


def parse(text: str) -> dict[str, Requirement]:
    """Parse catalogue YAML text into requirements by id."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not isinstance(document.get("requirements"), list):
        raise CatalogueError("the catalogue must be a mapping with a 'requirements' list")
    catalogue: dict[str, Requirement] = {}
    for entry in document["requirements"]:
        requirement = _requirement(entry)
        if requirement.id in catalogue:
            raise CatalogueError(f"{requirement.id} is listed twice")
        catalogue[requirement.id] = requirement
    return catalogue


@lru_cache(maxsize=1)
def load() -> Mapping[str, Requirement]:
    """The project's catalogue, read once."""
    return parse(CATALOGUE_PATH.read_text(encoding="utf-8"))


def severity(requirement: str) -> str:
    """The severity of `requirement`; an id missing from the catalogue is treated as MUST."""
    entry = load().get(requirement)
    return "MUST" if entry is None else entry.severity


def for_protocol(name: str) -> list[Requirement]:
    """The requirements that apply to one protocol (or "mux"), in catalogue order."""
    return [entry for entry in load().values() if name in entry.protocols]


def judge(violation: Any, *, strict: bool) -> bool:
    """Give `violation` its catalogue severity; True when it fails the check (MUST, or any when `strict`)."""
    violation.severity = severity(violation.requirement)
    violation.args = (str(violation),)
    return bool(violation.severity == "MUST" or strict)


def report(violations: Iterable[Any], *, strict: bool, warnings: list[Any]) -> None:
    """Raise the first MUST violation (any, when `strict`); collect SHOULD and informational ones."""
    for violation in violations:
        if judge(violation, strict=strict):
            raise violation
        warnings.append(violation)
