"""Rules read message fields through the wire declarations, so a name the declaration lacks fails loudly.

`fields_of(move)` gives a read-only view of a message's fields that knows the declared names of its
`MessageType` (and of every nested `Record`): reading a name the declaration does not have raises
`UndeclaredField` instead of quietly giving None, as `fields.get("capacity")` did for a message whose
wire shape is `{"sizes": {"capacity", ...}}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from conformance.wire.schema import Record


class UndeclaredField(KeyError):
    """A rule read a field name that the message's wire declaration does not have (a bug in the rule)."""


@cache
def declared(protocol: str, message: str) -> Mapping[str, Any]:
    """The declared fields of `message` in `protocol`: name -> CborType, in wire order."""
    from conformance import wire

    declaration = wire.codec(protocol).messages.get(message)
    if declaration is None:
        raise UndeclaredField(f"{protocol} declares no message {message}")
    return dict(declaration.fields)


class DeclaredFields(Mapping[str, Any]):
    """The fields of one value, readable only by their declared names; nested records are views too.

    Read on every message by the rules, so a view is cheap: its path is only spelled out for an error."""

    __slots__ = ("_kinds", "_parent", "_name", "_values")

    def __init__(
        self, where: str, kinds: Mapping[str, Any], values: Mapping[str, Any], parent: DeclaredFields | None = None
    ) -> None:
        self._parent = parent
        self._name = where
        self._kinds = kinds
        self._values = values

    @property
    def _where(self) -> str:
        return self._name if self._parent is None else f"{self._parent._where}.{self._name}"

    def __getitem__(self, name: str) -> Any:
        try:
            kind = self._kinds[name]
        except KeyError:
            raise UndeclaredField(f"{self._where} declares no field {name!r}; it has {sorted(self._kinds)}") from None
        value = self._values.get(name)
        if isinstance(kind, Record) and isinstance(value, Mapping):  # the cheap test first
            return DeclaredFields(name, _kinds_of(kind), value, self)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        value = self[name]
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(name for name in self._kinds if name in self._values)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"{self._where}{dict(self._values)!r}"


@cache
def _kinds_of(record: Any) -> dict[str, Any]:
    """A record's field kinds by name, built once per declaration (declarations live as long as the process)."""
    return dict(record.fields)


def fields_of(move: Any) -> DeclaredFields:
    """The fields of a `Move` (or anything with protocol, name and fields) as its declaration names them."""
    kinds = declared(move.protocol, move.name)
    return DeclaredFields(f"{move.protocol}:{move.name}", kinds, getattr(move, "fields", None) or {})
