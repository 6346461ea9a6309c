"""The facts the Wireshark plugin needs, read from the wire declarations and the mux table.

Every message's name, tag and field shapes come from `conformance.wire` (its `Codec`s and their
`MessageType`s), who sends it from the protocol tables' agency, the mini-protocol numbers of each family
from `conformance.protocol.mux.MINI_PROTOCOLS`. Field types become small "shapes" (plain dicts) that the
plugin's CBOR renderer follows to name what it shows; a type this module does not know becomes `any`, which
the plugin still shows as generic CBOR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance import wire
from conformance.protocol.mux import MINI_PROTOCOLS
from conformance.protocol.registry import TABLES
from conformance.wire.codec import Codec, MessageType
from conformance.wire.handshake import N2C_VERSION_BIT, AcceptVersion, KnownVersion, VersionTable
from conformance.wire.mux import HEADER_SIZE, MAX_PROTOCOL
from conformance.wire.schema import (
    Bool,
    Bytes,
    CborType,
    Choice,
    Const,
    Embedded,
    Gated,
    Int,
    ListOf,
    MapOf,
    Mapped,
    Nothing,
    OptionalTail,
    Raw,
    Record,
    Tagged,
    Text,
    Uint,
)

Shape = dict[str, Any]
"""One field type as the plugin sees it: `{"k": kind, ...}`; composite shapes refer to others by index."""


@dataclass(frozen=True)
class MessageInfo:
    """One message: its name and tag, which side of the mini-protocol sends it, its fields' shapes."""

    name: str
    tag: int
    senders: tuple[str, ...]
    fields: tuple[tuple[str, int], ...]
    """(field name, shape index) in wire order, after the tag."""
    required: int
    """How many fields are present at least (the rest are optional trailing ones)."""


@dataclass(frozen=True)
class ProtocolInfo:
    """One mini-protocol of one family (node-to-node or node-to-client) on its mux number."""

    family: str
    number: int
    name: str
    messages: tuple[MessageInfo, ...]
    initial: str | None = None
    """The state both sides start in (None: no table for this mini-protocol)."""
    moves: tuple[tuple[str, str, str], ...] = ()
    """(state, message, next state) of every transition of the protocol table."""


@dataclass(frozen=True)
class PluginModel:
    """Everything generated into the plugin: shapes, protocols by family and number, mux constants."""

    shapes: tuple[Shape, ...]
    protocols: tuple[ProtocolInfo, ...]
    header_size: int = HEADER_SIZE
    max_protocol: int = MAX_PROTOCOL
    n2c_version_bit: int = N2C_VERSION_BIT


class ShapeTable:
    """Shapes numbered once each: a type used in many places (Point, Tip) is declared once in the plugin."""

    def __init__(self) -> None:
        self.shapes: list[Shape] = []
        self._index: dict[str, int] = {}
        self._by_type: dict[int, int] = {}

    def add(self, shape: Shape) -> int:
        key = repr(sorted(shape.items()))
        if key not in self._index:
            self._index[key] = len(self.shapes)
            self.shapes.append(shape)
        return self._index[key]

    def of(self, kind: CborType) -> int:
        """The index of the shape of `kind` (computed once per type object)."""
        known = self._by_type.get(id(kind))
        if known is None:
            known = self.add(self._shape(kind))
            self._by_type[id(kind)] = known
        return known

    def _shape(self, kind: CborType) -> Shape:
        """The plugin's view of one declared type (more specific classes first)."""
        if isinstance(kind, KnownVersion):
            return {"k": "version"}
        if isinstance(kind, Const):
            return {"k": "const", "v": kind.value}
        if isinstance(kind, Uint):
            return {"k": "uint"}
        if isinstance(kind, Int):
            return {"k": "int"}
        if isinstance(kind, Bool):
            return {"k": "bool"}
        if isinstance(kind, Bytes):
            return {"k": "bytes"}
        if isinstance(kind, Text):
            return {"k": "text"}
        if isinstance(kind, Nothing):
            return {"k": "nothing"}
        if isinstance(kind, Embedded):
            return {"k": "cbor24", "what": kind.what}
        if isinstance(kind, Raw):
            return self._shape(kind.shape) if kind.shape is not None else {"k": "any", "what": kind.describe()}
        if isinstance(kind, (Mapped, Gated, OptionalTail)):
            return self._shape(kind.inner)
        if isinstance(kind, Tagged):
            return self._record(kind.record.fields, kind.record.required, kind=kind.kind)
        if isinstance(kind, Record):
            return self._record(kind.fields, kind.required)
        if isinstance(kind, ListOf):
            return {"k": "list", "e": self.of(kind.element)}
        if isinstance(kind, MapOf):
            return {"k": "map", "key": self.of(kind.key), "val": self.of(kind.value)}
        if isinstance(kind, Choice):
            return {"k": "choice", "a": [self.of(a) for a in kind.alternatives]}
        if isinstance(kind, VersionTable):
            return {"k": "vtable", "data": self.version_data(kind.data_for, kind.versions)}
        return {"k": "any", "what": kind.describe()}

    def _record(self, fields: list[tuple[str, CborType]], required: int, kind: str | None = None) -> Shape:
        shape: Shape = {"k": "rec", "f": [[name, self.of(t)] for name, t in fields], "min": required}
        if kind is not None:
            shape["kind"] = kind
        return shape

    def version_data(self, data_for: Any, versions: tuple[int, ...]) -> list[list[int]]:
        """[version, shape] for every version the codec knows (the data's shape depends on the version)."""
        return [[version, self.of(data_for(version))] for version in versions]


def _senders(protocol: str, declaration: MessageType) -> tuple[str, ...]:
    """Which side of the mini-protocol sends the message ("initiator" or "responder"): the agency, in the
    protocol table, of the states the wire declaration says it is sent in (else of its transitions)."""
    table = TABLES.get(protocol)
    if table is None:
        return ()
    states = {state.name: state for state in table.states}
    sources = [name for name in declaration.states if name in states]
    if not sources:
        sources = [m.source for m in table.transitions if m.message == declaration.name]
    return tuple(sorted({states[name].agency for name in sources} - {"nobody"}))


def _message(shapes: ShapeTable, protocol: str, declaration: MessageType) -> MessageInfo:
    fields: list[tuple[str, int]] = []
    for name, kind in declaration.fields:
        if isinstance(declaration, AcceptVersion) and name == "version_data":  # the chosen version's shape
            data = shapes.version_data(declaration.data_for, declaration.versions)
            fields.append((name, shapes.add({"k": "vdata", "data": data})))
        elif isinstance(declaration, AcceptVersion) and name == "version":
            fields.append((name, shapes.add({"k": "version"})))
        else:
            fields.append((name, shapes.of(kind)))
    return MessageInfo(
        name=declaration.name,
        tag=declaration.tag,
        senders=_senders(protocol, declaration),
        fields=tuple(fields),
        required=declaration.record.required - 1,
    )


def _codec(name: str) -> Codec | None:
    return wire.CODECS.get(name)


def build() -> PluginModel:
    """The model of the plugin for the declarations as they are now."""
    shapes = ShapeTable()
    protocols = []
    for family, rows in MINI_PROTOCOLS.items():
        for row in rows:
            codec = _codec(row.name)
            messages = () if codec is None else tuple(_message(shapes, codec.name, m) for m in codec.messages.values())
            table = TABLES.get(row.name)
            if table is None:
                protocols.append(ProtocolInfo(family, row.number, row.name, messages))
                continue
            moves = tuple(dict.fromkeys((m.source, m.message, m.target) for m in table.transitions))
            protocols.append(ProtocolInfo(family, row.number, row.name, messages, table.initial, moves))
    return PluginModel(shapes=tuple(shapes.shapes), protocols=tuple(protocols))
