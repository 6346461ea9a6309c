"""Handshake (mini-protocol 0), node-to-node and node-to-client: table and negotiation rules.

Sources: `Ouroboros.Network.Protocol.Handshake.{Type,Codec,Server,Client}`,
`Cardano.Network.NodeToNode.Version`, `Cardano.Network.NodeToClient.Version` (PROTOCOLS.md section 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from conformance.wire import DecodeError, EncodeError, cbor
from conformance.wire.handshake import (
    N2C_VERSION_BIT,
    PEER_SHARING_AND_SINCE,
    n2c_version_data,
    n2n_version_data,
)
from conformance.wire.schema import RawCbor

from .fields import fields_of
from .limits import HANDSHAKE_BYTE_LIMIT, SHORT_WAIT, bytes_, seconds
from .rules import Move, Rules, is_word
from .table import INITIATOR, NOBODY, RESPONDER, CodecRule, ProtocolTable, State, Transition
from .violations import Violation

REFUSE_KINDS = ("VersionMismatch", "HandshakeDecodeError", "Refused")


def version_items(table: Any) -> list[tuple[Any, Any]]:
    """A version table as (key, data) pairs in wire order; a list of pairs keeps duplicate keys."""
    if isinstance(table, Mapping):
        return list(table.items())
    if isinstance(table, (list, tuple)):
        return [tuple(pair) for pair in table]  # type: ignore[misc]
    return []


def _transitions() -> tuple[Transition, ...]:
    return (
        Transition("MsgProposeVersions", "StPropose", "StConfirm"),
        Transition(
            "MsgReplyVersions",
            "StConfirm",
            "StDone",
            "simultaneous open: a proposal received in StConfirm",
        ),
        Transition("MsgAcceptVersion", "StConfirm", "StDone"),
        Transition("MsgRefuse", "StConfirm", "StDone"),
        Transition("MsgQueryReply", "StConfirm", "StDone"),
    )


def _flag(data: Mapping[str, Any], name: str) -> bool:
    """A boolean field of version data; False for a version whose declaration does not have it."""
    return bool(data.get(name, False))


class HandshakeRules(Rules):
    """Version negotiation as `acceptableVersion` does it, and the shape of every reply.

    Which versions exist and what data each carries come from the wire declarations
    (`conformance.wire.handshake`); an ordering or shape the decoder refuses is named by the table's
    codec rules. `responder_versions` (the responder's own version table, when the harness knows it)
    enables the checks that need it: highest common version, exact negotiated data, the mismatch list.
    """

    n2c = False
    requirements: ClassVar[tuple[str, ...]] = (
        "HS-VDATA-01",
        "HS-ACCEPT-01",
        "HS-ACCEPT-02",
        "HS-NEG-01",
        "HS-NEG-02",
        "HS-NEG-03",
        "HS-NEG-04",
        "HS-NEG-05",
        "HS-REFUSE-01",
        "HS-REFUSE-02",
        "HS-REFUSE-03",
        "HS-QUERY-01",
        "HS-QUERY-02",
    )

    def __init__(
        self, version: int | None = None, *, responder_versions: Mapping[int, Mapping[str, Any]] | None = None
    ) -> None:
        super().__init__(version)
        self.responder_versions = dict(responder_versions) if responder_versions is not None else None
        self.proposed: dict[int, Any] = {}

    # -- shapes -------------------------------------------------------------------------------------

    def declaration(self, key: Any) -> Any:
        """The wire declaration of version `key`'s data, or None for a version the codec does not know."""
        if not is_word(key, 32):
            return None
        return n2c_version_data(key) if self.n2c else n2n_version_data(key)

    def known(self, key: Any) -> bool:
        return self.declaration(key) is not None

    def data_problem(self, key: int, data: Any) -> str | None:
        """Why `data` is not version data of version `key` as the wire declares it, or None when it is."""
        kind = self.declaration(key)
        if kind is None:
            return None
        if isinstance(data, RawCbor) or not isinstance(data, Mapping):
            shown = bytes(data).hex() if isinstance(data, bytes) else repr(data)
            return f"version data of {key} is not {kind.describe()}: {shown}"
        names = [name for name, _ in kind.fields]
        if set(data) != set(names):
            return f"version {key} carries fields {sorted(data)}; its declaration has {sorted(names)}"
        try:
            item, _ = cbor.decode_item(cbor.encode_item(kind.to_item(dict(data), "$")))
            kind.from_item(item, "$")
        except (DecodeError, EncodeError, TypeError, ValueError) as error:
            return f"version data of {key} is not {kind.describe()}: {error}"
        return None

    def table_problems(self, move: Move, table: Any) -> Iterator[Violation]:
        items = version_items(table)
        for key, data in items:
            problem = self.data_problem(key, data)
            if problem:
                yield move.violation("HS-VDATA-01", problem)
        yield from self.key_problems(move, [key for key, _ in items])

    def key_problems(self, move: Move, keys: Iterable[Any]) -> Iterator[Violation]:
        return iter(())

    def common(self) -> list[int]:
        if self.responder_versions is None:
            return []
        return sorted(set(self.proposed) & set(self.responder_versions))

    # -- negotiation --------------------------------------------------------------------------------

    def negotiate(self, key: int, local: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any]:
        """The data the responder must accept: `local` is its own, `remote` the proposed one (only the
        fields version `key` declares)."""
        kind = self.declaration(key)
        names = {name for name, _ in kind.fields} if kind is not None else set()
        agreed: dict[str, Any] = {"network_magic": remote["network_magic"]}
        if "query" in names:
            agreed["query"] = _flag(local, "query") or _flag(remote, "query")
        if "initiator_only" in names:
            agreed["initiator_only"] = _flag(local, "initiator_only") or _flag(remote, "initiator_only")
        if "peer_sharing" in names and key >= PEER_SHARING_AND_SINCE:
            agreed["peer_sharing"] = 1 if local["peer_sharing"] == 1 and remote["peer_sharing"] == 1 else 0
        if "peras_support" in names:
            agreed["peras_support"] = _flag(local, "peras_support") and _flag(remote, "peras_support")
        return agreed

    def check(self, move: Move) -> Iterable[Violation]:
        name = move.name
        if name not in ("MsgProposeVersions", "MsgReplyVersions", "MsgAcceptVersion", "MsgRefuse", "MsgQueryReply"):
            return ()
        fields = fields_of(move)
        if name in ("MsgProposeVersions", "MsgReplyVersions"):
            return self.table_problems(move, fields.get("versions"))
        if name == "MsgAcceptVersion":
            return self.accept_problems(move, fields.get("version"), fields.get("version_data"))
        if name == "MsgRefuse":
            return self.refuse_problems(move, fields.get("reason"))
        return self.query_problems(move, fields.get("versions"))

    def accept_problems(self, move: Move, key: Any, data: Any) -> Iterator[Violation]:
        yield from self.key_problems(move, [key])
        if key not in self.proposed:
            yield move.violation("HS-ACCEPT-01", f"version {key} was not proposed ({sorted(self.proposed)})")
            return
        common = self.common()
        if common and key != common[-1]:
            yield move.violation("HS-ACCEPT-02", f"version {key} accepted; the highest common is {common[-1]}")
        problem = self.data_problem(key, data)
        if problem:
            yield move.violation("HS-VDATA-01", problem)
            return
        remote = self.proposed[key]
        if not self.known(key) or self.data_problem(key, remote):
            return
        if data["network_magic"] != remote["network_magic"]:
            yield move.violation(
                "HS-NEG-01",
                f"network magic {data['network_magic']} accepted for a proposal of {remote['network_magic']}",
            )
        if _flag(remote, "query") or _flag(data, "query"):
            yield move.violation("HS-NEG-04", "query was negotiated; the reply must be MsgQueryReply")
        if not self.n2c:
            yield from self.n2n_negotiation_problems(move, key, data, remote)

    def n2n_negotiation_problems(
        self, move: Move, key: int, data: Mapping[str, Any], remote: Mapping[str, Any]
    ) -> Iterator[Violation]:
        local = (self.responder_versions or {}).get(key)
        ours = None if local is None else self.negotiate(key, local, remote)
        if (_flag(remote, "initiator_only") and not _flag(data, "initiator_only")) or (
            ours is not None and _flag(data, "initiator_only") != ours["initiator_only"]
        ):
            yield move.violation("HS-NEG-02", "initiator_only is not the OR of both sides")
        if key >= PEER_SHARING_AND_SINCE and (
            (remote["peer_sharing"] == 0 and data["peer_sharing"] == 1)
            or (ours is not None and data["peer_sharing"] != ours["peer_sharing"])
        ):
            yield move.violation("HS-NEG-03", "peer_sharing is not the AND of both sides")
        if "peras_support" in data and (
            (not _flag(remote, "peras_support") and _flag(data, "peras_support"))
            or (ours is not None and _flag(data, "peras_support") != ours["peras_support"])
        ):
            yield move.violation("HS-NEG-05", "peras_support is not the AND of both sides")

    def refuse_problems(self, move: Move, reason: Any) -> Iterator[Violation]:
        kind = reason.get("kind") if isinstance(reason, Mapping) else None
        if kind not in REFUSE_KINDS:
            return  # the wire declaration refuses any other reason (HS-REFUSE-04, a codec rule)
        if kind == "VersionMismatch":
            versions = list(reason.get("versions") or [])
            yield from self.key_problems(move, versions)
            shared = sorted(set(versions) & set(self.proposed))
            if shared:
                yield move.violation("HS-REFUSE-01", f"VersionMismatch although {shared} were proposed")
            elif self.responder_versions is not None and set(versions) != set(self.responder_versions):
                yield move.violation("HS-REFUSE-01", f"VersionMismatch lists {versions}, not all its versions")
            return
        rule = "HS-REFUSE-02" if kind == "HandshakeDecodeError" else "HS-REFUSE-03"
        key = reason.get("version")
        if key not in self.proposed:
            yield move.violation(rule, f"{kind} names version {key!r}, which was not proposed")

    def query_problems(self, move: Move, versions: Any) -> Iterator[Violation]:
        yield from self.table_problems(move, versions)
        if self.responder_versions is not None and dict(version_items(versions)) != self.responder_versions:
            yield move.violation("HS-QUERY-01", "MsgQueryReply does not carry the responder's version table")
        if not any(isinstance(d, Mapping) and d.get("query") for d in self.proposed.values()):
            yield move.violation("HS-QUERY-02", "MsgQueryReply although the initiator did not ask for query")

    def commit(self, move: Move) -> None:
        if move.name == "MsgProposeVersions":
            self.proposed = {key: data for key, data in version_items(fields_of(move).get("versions"))}


class N2CHandshakeRules(HandshakeRules):
    """Node-to-client: version numbers carry bit 15, version data is [networkMagic, query].

    The node skips proposed version numbers it does not know, those without bit 15 included, so a
    key without the bit is a SHOULD (HS-N2C-01), never a refusal.
    """

    n2c = True
    requirements = tuple(r for r in HandshakeRules.requirements if r not in ("HS-NEG-02", "HS-NEG-03", "HS-NEG-05"))
    requirements = requirements + ("HS-N2C-01",)

    def key_problems(self, move: Move, keys: Iterable[Any]) -> Iterator[Violation]:
        bad = [key for key in keys if not (is_word(key, 32) and key & N2C_VERSION_BIT)]
        if bad:
            yield move.violation("HS-N2C-01", f"node-to-client version numbers {bad} lack bit 15")


def _codec_rules() -> tuple[CodecRule, ...]:
    """Handshake bytes the decoder refuses, by the requirement they break."""
    return (
        CodecRule("MsgProposeVersions", "$.versions", "HS-PROPOSE-01"),
        CodecRule("MsgReplyVersions", "$.versions", "HS-PROPOSE-01"),
        CodecRule("MsgQueryReply", "$.versions", "HS-QUERY-01"),
        CodecRule("MsgAcceptVersion", "$.version", "HS-ACCEPT-01"),
        CodecRule("MsgAcceptVersion", "$.version_data", "HS-VDATA-01", prefix=True),
        CodecRule("MsgRefuse", "$.reason", "HS-REFUSE-04"),
        CodecRule("MsgRefuse", "$.reason.versions", "HS-REFUSE-01", prefix=True),
        CodecRule("MsgRefuse", "$.reason.", "HS-REFUSE-02", prefix=True, when=((1, 0), 1)),
        CodecRule("MsgRefuse", "$.reason.", "HS-REFUSE-03", prefix=True, when=((1, 0), 2)),
    )


def _states(time_limit: float | None) -> tuple[State, ...]:
    note = "" if time_limit else "N2C runs the handshake with noTimeLimitsHandshake"
    return (
        State("StPropose", INITIATOR, bytes_(HANDSHAKE_BYTE_LIMIT), seconds(time_limit, note=note)),
        State("StConfirm", RESPONDER, bytes_(HANDSHAKE_BYTE_LIMIT), seconds(time_limit, note=note)),
        State("StDone", NOBODY),
    )


SOURCES = (
    "ON:ouroboros-network/framework/lib/Ouroboros/Network/Protocol/Handshake/Type.hs",
    "ON:ouroboros-network/framework/lib/Ouroboros/Network/Protocol/Handshake/Codec.hs",
    "network spec: miniprotocols.tex, Handshake",
)

HANDSHAKE = ProtocolTable(
    name="handshake",
    title="Handshake (node-to-node)",
    prefix="HS",
    mode="node-to-node",
    initial="StPropose",
    states=_states(SHORT_WAIT),
    transitions=_transitions(),
    codec_rules=_codec_rules(),
    sources=SOURCES + ("CDDL: handshake-node-to-node-v14.cddl",),
    note="Runs on the raw bearer before the mux starts; each message is one SDU.",
    rules=HandshakeRules,
)

N2C_HANDSHAKE = ProtocolTable(
    name="n2c-handshake",
    title="Handshake (node-to-client)",
    prefix="HS",
    mode="node-to-client",
    initial="StPropose",
    states=_states(None),
    transitions=_transitions(),
    codec_rules=_codec_rules(),
    sources=SOURCES + ("CDDL: handshake-node-to-client.cddl",),
    note="Version numbers carry bit 15 (32784 = v16).",
    rules=N2CHandshakeRules,
)
