"""Handshake (mini-protocol 0), node-to-node and node-to-client.

The version table is a definite map whose values are decoded per version. Like the Haskell node, an entry
for a version this harness does not know is kept as raw CBOR, and so is version data that does not decode:
the negotiation (not the message decoder) turns that into a HandshakeDecodeError refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .cbor import Map
from .codec import Codec, MessageType
from .errors import DecodeError, EncodeError, ShapeMismatch
from .schema import (
    JSON,
    Bool,
    CborType,
    Choice,
    ListOf,
    Raw,
    RawCbor,
    Record,
    Tagged,
    Text,
    Uint,
    memory_of,
    remembering,
)

NetworkMagic = Uint(32)
PEER_SHARING_AND_SINCE = 13
"""From N2N v13 peerSharing is 0|1 and negotiates as AND; v11-12 carried 0..2 (NoPeerSharing,
PeerSharingPrivate, PeerSharingPublic)."""

N2N_V7_TO_V10 = Record("network_magic" / NetworkMagic, "initiator_only" / Bool())
N2N_V11_TO_V12 = Record(
    "network_magic" / NetworkMagic,
    "initiator_only" / Bool(),
    "peer_sharing" / Uint(8, high=2),
    "query" / Bool(),
)
N2N_V13_TO_V15 = Record(
    "network_magic" / NetworkMagic,
    "initiator_only" / Bool(),
    "peer_sharing" / Uint(8, high=1),
    "query" / Bool(),
)
N2N_V16 = Record(
    "network_magic" / NetworkMagic,
    "initiator_only" / Bool(),
    "peer_sharing" / Uint(8, high=1),
    "query" / Bool(),
    "peras_support" / Bool(),
)

N2C_VERSION_BIT = 0x8000
N2C_V15_ON = Record("network_magic" / NetworkMagic, "query" / Bool())

N2N_VERSION_DATA: dict[int, Record] = {
    **dict.fromkeys(range(7, 11), N2N_V7_TO_V10),
    **dict.fromkeys(range(11, PEER_SHARING_AND_SINCE), N2N_V11_TO_V12),
    **dict.fromkeys(range(PEER_SHARING_AND_SINCE, 16), N2N_V13_TO_V15),
    16: N2N_V16,
}
"""Every N2N version this harness knows, with the shape of its data: the one home of the N2N version set."""
N2N_VERSIONS = tuple(N2N_VERSION_DATA)
N2C_VERSIONS = tuple(N2C_VERSION_BIT | v for v in range(16, 24))
"""N2C v16..v23 as they appear on the wire (bit 15 set)."""


def n2n_version_data(version: int) -> CborType | None:
    if isinstance(version, bool) or not isinstance(version, int):
        return None
    return N2N_VERSION_DATA.get(version)


def n2c_version_data(version: int) -> CborType | None:
    """Data of the N2C versions the current node knows (v16..v23; v1..v15 were removed in 2024)."""
    if version in N2C_VERSIONS:
        return N2C_V15_ON
    return None


class VersionTable(CborType):
    """`{* versionNumber => versionData}`: definite map, known version numbers strictly ascending."""

    def __init__(self, data_for: Callable[[int], CborType | None], versions: tuple[int, ...]) -> None:
        super().__init__()
        self.data_for = data_for
        self.versions = versions
        self.cddl = "versionTable"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, Map) or item.indefinite:
            raise self.mismatch(item, path, "a definite-length map (versionTable)")
        table: dict[int, Any] = {}
        last_known = -1
        for key, value in item.pairs:
            if isinstance(key, bool) or not isinstance(key, int) or key < 0:
                raise ShapeMismatch(f"unsigned version numbers as keys, got {key!r}", path=path)
            kind = self.data_for(key)
            if kind is not None:
                if key <= last_known:
                    raise ShapeMismatch(
                        f"strictly ascending known version numbers, got {key} after {last_known}", path=path
                    )
                last_known = key
            if key in table:
                raise ShapeMismatch(f"distinct version numbers, got {key} twice", path=path)
            table[key] = _data_or_raw(kind, value, f"{path}[{key}]")
        return table if item.width is None else remembering(table, width=item.width)

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise EncodeError(f"{path}: a dict of version -> data needed")
        pairs = []
        for key, data in value.items():
            kind = self.data_for(key)
            if isinstance(data, RawCbor) or kind is None:
                pairs.append((key, Raw().to_item(data, f"{path}[{key}]")))
            else:
                pairs.append((key, kind.to_item(data, f"{path}[{key}]")))
        return Map(pairs, width=getattr(value, "width", None))

    def strategy(self) -> st.SearchStrategy[Any]:
        def table(keys: list[int]) -> st.SearchStrategy[dict[int, Any]]:
            ordered = sorted(keys)  # data is drawn for each key in the order the keys are written
            kinds = [self.data_for(k) for k in ordered]
            return st.tuples(*(k.strategy() for k in kinds if k is not None)).map(
                lambda datas: dict(zip(ordered, datas, strict=True))
            )

        return st.lists(st.sampled_from(self.versions), unique=True, max_size=4).flatmap(table)

    def to_json(self, value: Any) -> JSON:
        out = {}
        for key, data in value.items():
            kind = self.data_for(key)
            out[str(key)] = bytes(data).hex() if isinstance(data, RawCbor) or kind is None else kind.to_json(data)
        return out

    def from_json(self, data: JSON) -> Any:
        out = {}
        for key, value in data.items():
            kind = self.data_for(int(key))
            out[int(key)] = (
                RawCbor(bytes.fromhex(value)) if isinstance(value, str) or kind is None else kind.from_json(value)
            )
        return out


def _data_or_raw(kind: CborType | None, value: Any, path: str) -> Any:
    if kind is not None:
        try:
            return kind.from_item(value, path)
        except DecodeError:
            pass
    return Raw().from_item(value, path)


class KnownVersion(Uint):
    """A version number the codec recognises: the node fails to decode a refusal or an acceptance naming
    any other ("unknow version", "not recognized version" in Handshake/Codec.hs)."""

    def __init__(self, data_for: Callable[[int], CborType | None], versions: tuple[int, ...]) -> None:
        super().__init__(32)
        self.data_for = data_for
        self.versions = versions
        self.cddl = "versionNumber"

    def from_item(self, item: Any, path: str) -> Any:
        version = super().from_item(item, path)
        if self.data_for(version) is None:
            raise ShapeMismatch(f"a version number this codec recognises, got {version}", path=path)
        return version

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.sampled_from(self.versions)


def _messages(data_for: Callable[[int], CborType | None], versions: tuple[int, ...]) -> list[MessageType]:
    table = VersionTable(data_for, versions)
    known = KnownVersion(data_for, versions)
    refuse = Choice(
        # the node reads the mismatch list without checking the numbers it holds
        Tagged("VersionMismatch", 0, "versions" / ListOf(Uint(32), form="definite")),
        Tagged("HandshakeDecodeError", 1, "version" / known, "message" / Text()),
        Tagged("Refused", 2, "version" / known, "message" / Text()),
        cddl="refuseReason",
    )
    return [
        MessageType("MsgProposeVersions", 0, "versions" / table, states=["StPropose"]),
        MessageType("MsgReplyVersions", 0, "versions" / table, states=["StConfirm"]),
        AcceptVersion(data_for, versions),
        MessageType("MsgRefuse", 2, "reason" / refuse, states=["StConfirm"]),
        MessageType("MsgQueryReply", 3, "versions" / table, states=["StConfirm"]),
    ]


class AcceptVersion(MessageType):
    """`[1, versionNumber, versionData]`: the data's shape depends on the version chosen."""

    def __init__(self, data_for: Callable[[int], CborType | None], versions: tuple[int, ...]) -> None:
        super().__init__(
            "MsgAcceptVersion",
            1,
            "version" / Uint(32),
            "version_data" / Raw("versionData"),
            states=["StConfirm"],
        )
        self.data_for = data_for
        self.versions = versions

    def from_item(self, item: Any, path: str) -> Any:
        fields = super().from_item(item, path)
        kind = self.data_for(fields["version"])
        if kind is None:
            raise ShapeMismatch(
                f"a version number this codec recognises, got {fields['version']}", path=f"{path}.version"
            )
        fields["version_data"] = kind.from_item(item[2], f"{path}.version_data")
        return fields

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            return super().to_item(value, path)  # refuses it with an EncodeError
        kind = self.data_for(value.get("version", -1))
        data = value.get("version_data")
        if kind is None or isinstance(data, RawCbor):
            return super().to_item(value, path)
        items = super().to_item(remembering({**value, "version_data": RawCbor(b"\xf6")}, **memory_of(value)), path)
        items[2] = kind.to_item(data, f"{path}.version_data")
        return items

    def strategy(self) -> st.SearchStrategy[Any]:
        def accept(version: int) -> st.SearchStrategy[Any]:
            kind = self.data_for(version)
            if kind is None:
                raise ValueError(f"version {version} has no declared data")
            return kind.strategy().map(lambda data: {"version": version, "version_data": data})

        return st.sampled_from(self.versions).flatmap(accept)

    def to_json(self, value: Any) -> Any:
        kind = self.data_for(value["version"])
        data = value["version_data"]
        shown = bytes(data).hex() if kind is None or isinstance(data, RawCbor) else kind.to_json(data)
        return {"version": value["version"], "version_data": shown}

    def from_json(self, data: Any) -> Any:
        kind = self.data_for(data["version"])
        raw = data["version_data"]
        value = RawCbor(bytes.fromhex(raw)) if kind is None or isinstance(raw, str) else kind.from_json(raw)
        return {"version": data["version"], "version_data": value}


HANDSHAKE = Codec("handshake", 0, _messages(n2n_version_data, N2N_VERSIONS))
N2C_HANDSHAKE = Codec("n2c-handshake", 0, _messages(n2c_version_data, N2C_VERSIONS))
