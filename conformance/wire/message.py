"""A decoded (or to-be-encoded) mini-protocol message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Message:
    """One message of one mini-protocol.

    `fields` maps field names to values. Values decoded from the wire remember how they were encoded
    (integer widths, string, array and map heads, indefinite lengths; `fields` itself remembers the
    message's own array head), so encoding them again gives back the same bytes, also after copy, deep copy
    or pickle; plain Python values given by a script are encoded in canonical form. `raw` holds the exact
    bytes a decoded message came from.
    """

    protocol: str
    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.protocol, self.name, self.fields) == (other.protocol, other.name, other.fields)

    def __repr__(self) -> str:
        return f"Message({self.protocol}:{self.name} {self.fields!r})"
