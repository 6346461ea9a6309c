"""Named mutations of one message's bytes, as a scenario writes them (`mutate: [{truncate: {length: 3}}]`).

Byte mutators come from the wire layer's one home for them (imported below, in one place, so that a
move of that module is a one-line change here). `resplit` is not a byte mutation: it re-cuts the
message across SDUs of the given payload sizes, and so is always the last mutation of a step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.wire import mutate as byte_mutators  # the one import of the wire layer's mutators

ByteMutation = Callable[..., bytes]


def _pad(data: bytes, count: int, byte: int = 0) -> bytes:
    """`count` extra bytes after the message (trailing bytes, or the start of a message that never ends)."""
    for _ in range(count):
        data = byte_mutators.insert(data, len(data), byte)
    return data


@dataclass(frozen=True)
class Spec:
    """The parameters a mutation takes: name -> (kind, required). Kinds: "int", "byte", "sizes"."""

    params: Mapping[str, tuple[str, bool]]
    apply: Callable[..., bytes] | None  # None: re-split across SDUs (done by the runner)


MUTATIONS: dict[str, Spec] = {
    "flip": Spec(
        {"at": ("int", True), "mask": ("byte", False)}, lambda d, at, mask=0xFF: byte_mutators.flip(d, at, mask)
    ),
    "truncate": Spec({"length": ("int", True)}, lambda d, length: byte_mutators.truncate(d, length)),
    "insert": Spec(
        {"at": ("int", True), "byte": ("byte", True)}, lambda d, at, byte: byte_mutators.insert(d, at, byte)
    ),
    "duplicate": Spec(
        {"start": ("int", True), "end": ("int", True), "at": ("int", True)},
        lambda d, start, end, at: byte_mutators.duplicate(d, start, end, at),
    ),
    "pad": Spec({"count": ("int", True), "byte": ("byte", False)}, _pad),
    "resplit": Spec({"sizes": ("sizes", True)}, None),
}
"""Every mutation a scenario may name. Offsets may be negative (counted from the end, as in Python)."""


@dataclass(frozen=True)
class Mutation:
    name: str
    params: Mapping[str, Any]
    line: int

    @property
    def resplit(self) -> bool:
        return MUTATIONS[self.name].apply is None

    def apply(self, data: bytes) -> bytes:
        """The bytes after this mutation; offsets out of range are a ValueError naming the mutation."""
        spec = MUTATIONS[self.name]
        if spec.apply is None:
            raise ValueError("resplit is applied by cutting SDUs, not to bytes")
        args = {
            key: _offset(value, len(data), self.name, key) if spec.params[key][0] == "int" else value
            for key, value in self.params.items()
        }
        return spec.apply(data, **args)


def _offset(value: int, size: int, name: str, key: str) -> int:
    if name == "pad" and key == "count":
        return value
    resolved = value + size if value < 0 else value
    limit = size if key in ("length", "end") or (key == "at" and name in ("insert", "duplicate")) else size - 1
    if not 0 <= resolved <= limit:
        raise ValueError(f"{name}: {key}={value} is outside a message of {size} bytes")
    return resolved


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """`data` cut into pieces of the given sizes in turn, the last size repeating until all is cut."""
    pieces, at, index = [], 0, 0
    while at < len(data):
        size = sizes[min(index, len(sizes) - 1)]
        pieces.append(data[at : at + size])
        at += size
        index += 1
    return pieces
