"""Peer profiles: what an implementation under test offers, and its known deviations (xfail).

A profile (`--peer-profile FILE`, YAML; examples in peers/profiles/) says which mini-protocols and
versions the peer offers, so that a case for something it does not offer is graded `unsupported` instead of
failed, and lists known deviations: a requirement (optionally only in cases whose name matches a glob)
that the peer is known to break, with the reason and, where known, the release that fixes it. A case that
breaks a listed requirement is graded `xfail`; one that no longer breaks it says so.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.protocol import catalogue


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Deviation:
    requirement: str
    reason: str
    fixed_in: str | None = None
    case: str = "*"  # a glob on the case name

    def applies(self, requirement: str, case: str) -> bool:
        return requirement == self.requirement and fnmatch.fnmatchcase(case, self.case)

    def describe(self) -> str:
        fixed = f"; fixed in {self.fixed_in}" if self.fixed_in else ""
        return f"known deviation: {self.reason}{fixed}"


@dataclass(frozen=True)
class PeerProfile:
    name: str = "unprofiled"
    implementation: str | None = None
    protocols: frozenset[str] | None = None  # None: assume every mini-protocol is offered
    versions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # mode -> versions offered
    deviations: tuple[Deviation, ...] = ()

    def offers(self, protocol: str) -> bool:
        return self.protocols is None or protocol in self.protocols

    def deviation(self, requirement: str, case: str) -> Deviation | None:
        return next((d for d in self.deviations if d.applies(requirement, case)), None)


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{where}: a list of names is expected")
    return value


def parse(document: Any, source: str = "<profile>") -> PeerProfile:
    """A profile from its YAML document; every requirement id is checked against the catalogue."""
    if not isinstance(document, dict):
        raise ProfileError(f"{source}: a mapping is expected")
    known = set(catalogue.load())
    unknown_keys = set(document) - {"name", "implementation", "protocols", "versions", "known_deviations"}
    if unknown_keys:
        raise ProfileError(f"{source}: unknown keys {sorted(unknown_keys)}")
    protocols = document.get("protocols")
    versions: dict[str, tuple[int, ...]] = {}
    for mode, listed in (document.get("versions") or {}).items():
        if mode not in ("node-to-node", "node-to-client") or not isinstance(listed, list):
            raise ProfileError(f"{source}: versions.{mode}: a list under node-to-node or node-to-client is expected")
        versions[mode] = tuple(int(v) for v in listed)
    deviations = []
    for index, entry in enumerate(document.get("known_deviations") or []):
        where = f"{source}: known_deviations[{index}]"
        if not isinstance(entry, dict) or "requirement" not in entry or "reason" not in entry:
            raise ProfileError(f"{where}: needs requirement and reason")
        if entry["requirement"] not in known:
            raise ProfileError(f"{where}: {entry['requirement']} is not in conformance/requirements.yaml")
        fixed = entry.get("fixed_in")
        deviations.append(
            Deviation(
                str(entry["requirement"]),
                str(entry["reason"]),
                None if fixed is None else str(fixed),
                str(entry.get("case", "*")),
            )
        )
    return PeerProfile(
        name=str(document.get("name", Path(source).stem)),
        implementation=document.get("implementation"),
        protocols=None if protocols is None else frozenset(_strings(protocols, f"{source}: protocols")),
        versions=versions,
        deviations=tuple(deviations),
    )


def load(path: Path) -> PeerProfile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProfileError(f"{path}: {error.strerror or error}") from None
    try:
        return parse(yaml.safe_load(text), str(path))
    except yaml.YAMLError as error:
        raise ProfileError(f"{path}: not YAML: {error}") from None
