"""Handshake (mini-protocol 0), node-to-node and node-to-client: table and negotiation rules.

Sources: `Ouroboros.Network.Protocol.Handshake.{Type,Codec,Server,Client}`,
`Cardano.Network.NodeToNode.Version`, `Cardano.Network.NodeToClient.Version` (PROTOCOLS.md section 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from .limits import HANDSHAKE_BYTE_LIMIT, SHORT_WAIT, bytes_, seconds
from .rules import Move, Rules, is_word
from .table import INITIATOR, NOBODY, RESPONDER, ProtocolTable, State, Transition
from .violations import Violation

N2C_VERSION_BIT = 0x8000
N2N_VERSIONS = (14, 15, 16)
N2C_VERSIONS = tuple(N2C_VERSION_BIT | n for n in range(16, 24))
REFUSE_KINDS = ("VersionMismatch", "HandshakeDecodeError", "Refused")
N2N_FIELDS = ("network_magic", "initiator_only", "peer_sharing", "query")
N2C_FIELDS = ("network_magic", "query")


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


class HandshakeRules(Rules):
    """Version negotiation as `acceptableVersion` does it, and the shape of every reply.

    `responder_versions` (the responder's own version table, when the harness knows it) enables the
    checks that need it: highest common version, exact negotiated data, the mismatch list.
    """

    n2c = False
    requirements: ClassVar[tuple[str, ...]] = (
        "HS-PROPOSE-01",
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
        "HS-REFUSE-04",
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

    def known(self, key: Any) -> bool:
        return key in (N2C_VERSIONS if self.n2c else N2N_VERSIONS)

    def data_problem(self, key: int, data: Any) -> str | None:
        """Why `data` is not version data of version `key`, or None when it is."""
        if not isinstance(data, Mapping):
            return f"version data of {key} is not a record"
        fields = N2C_FIELDS if self.n2c else N2N_FIELDS + (("peras_support",) if key >= 16 else ())
        if set(data) != set(fields):
            return f"version {key} carries fields {sorted(data)}; expected {sorted(fields)}"
        if not is_word(data["network_magic"], 32):
            return f"network_magic {data['network_magic']!r} is not a word32"
        if not isinstance(data["query"], bool):
            return "query is not a bool"
        if not self.n2c:
            if not isinstance(data["initiator_only"], bool):
                return "initiator_only is not a bool"
            if data["peer_sharing"] not in (0, 1) or isinstance(data["peer_sharing"], bool):
                return f"peer_sharing {data['peer_sharing']!r} is not 0 or 1"
            if "peras_support" in fields and not isinstance(data["peras_support"], bool):
                return "peras_support is not a bool"
        return None

    def table_problems(self, move: Move, table: Any, order_rule: str) -> Iterator[Violation]:
        items = version_items(table)
        if not isinstance(table, (Mapping, list, tuple)):
            yield move.violation(order_rule, "the version table is not a map")
            return
        keys = [key for key, _ in items]
        if any(not is_word(key, 32) for key in keys):
            yield move.violation(order_rule, f"version keys {keys} are not all unsigned integers")
            return
        if any(b <= a for a, b in zip(keys, keys[1:], strict=False)):
            yield move.violation(order_rule, f"version keys {keys} are not strictly ascending")
        for key, data in items:
            if not self.known(key):
                continue
            problem = self.data_problem(key, data)
            if problem:
                yield move.violation("HS-VDATA-01", problem)
        yield from self.key_problems(move, keys)

    def key_problems(self, move: Move, keys: Iterable[Any]) -> Iterator[Violation]:
        return iter(())

    def common(self) -> list[int]:
        if self.responder_versions is None:
            return []
        return sorted(set(self.proposed) & set(self.responder_versions))

    # -- negotiation --------------------------------------------------------------------------------

    def negotiate(self, key: int, local: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any]:
        """The data the responder must accept: `local` is its own, `remote` the proposed one."""
        agreed = {"network_magic": remote["network_magic"], "query": bool(local["query"] or remote["query"])}
        if not self.n2c:
            agreed["initiator_only"] = bool(local["initiator_only"] or remote["initiator_only"])
            agreed["peer_sharing"] = 1 if local["peer_sharing"] == 1 and remote["peer_sharing"] == 1 else 0
            if key >= 16:
                agreed["peras_support"] = bool(local["peras_support"] and remote["peras_support"])
        return agreed

    def check(self, move: Move) -> Iterable[Violation]:
        name, fields = move.name, move.fields
        if name in ("MsgProposeVersions", "MsgReplyVersions"):
            return self.table_problems(move, fields.get("versions"), "HS-PROPOSE-01")
        if name == "MsgAcceptVersion":
            return self.accept_problems(move, fields.get("version"), fields.get("version_data"))
        if name == "MsgRefuse":
            return self.refuse_problems(move, fields.get("reason"))
        if name == "MsgQueryReply":
            return self.query_problems(move, fields.get("versions"))
        return ()

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
        if self.data_problem(key, remote):
            return
        if data["network_magic"] != remote["network_magic"]:
            yield move.violation(
                "HS-NEG-01",
                f"network magic {data['network_magic']} accepted for a proposal of {remote['network_magic']}",
            )
        if remote["query"] or data["query"]:
            yield move.violation("HS-NEG-04", "query was negotiated; the reply must be MsgQueryReply")
        local = (self.responder_versions or {}).get(key)
        if not self.n2c:
            ours = None if local is None else self.negotiate(key, local, remote)
            if (
                remote["initiator_only"]
                and not data["initiator_only"]
                or (ours is not None and data["initiator_only"] != ours["initiator_only"])
            ):
                yield move.violation("HS-NEG-02", "initiator_only is not the OR of both sides")
            if (
                remote["peer_sharing"] == 0
                and data["peer_sharing"] == 1
                or (ours is not None and data["peer_sharing"] != ours["peer_sharing"])
            ):
                yield move.violation("HS-NEG-03", "peer_sharing is not the AND of both sides")
            if key >= 16 and (
                not remote["peras_support"]
                and data["peras_support"]
                or (ours is not None and data["peras_support"] != ours["peras_support"])
            ):
                yield move.violation("HS-NEG-05", "peras_support is not the AND of both sides")

    def refuse_problems(self, move: Move, reason: Any) -> Iterator[Violation]:
        kind = reason.get("kind") if isinstance(reason, Mapping) else None
        if kind not in REFUSE_KINDS:
            yield move.violation("HS-REFUSE-04", f"refuse reason {reason!r} is none of {REFUSE_KINDS}")
            return
        if kind == "VersionMismatch":
            versions = reason.get("versions")
            if not isinstance(versions, list) or getattr(versions, "indefinite", False):
                yield move.violation("HS-REFUSE-01", "VersionMismatch must carry a definite list of versions")
                return
            yield from self.key_problems(move, versions)
            shared = sorted(set(versions) & set(self.proposed))
            if shared:
                yield move.violation("HS-REFUSE-01", f"VersionMismatch although {shared} were proposed")
            elif self.responder_versions is not None and set(versions) != set(self.responder_versions):
                yield move.violation("HS-REFUSE-01", f"VersionMismatch lists {versions}, not all its versions")
            return
        rule = "HS-REFUSE-02" if kind == "HandshakeDecodeError" else "HS-REFUSE-03"
        key, text = reason.get("version"), reason.get("message")
        if key not in self.proposed:
            yield move.violation(rule, f"{kind} names version {key!r}, which was not proposed")
        elif not isinstance(text, str):
            yield move.violation(rule, f"{kind} must carry a text message, not {text!r}")

    def query_problems(self, move: Move, versions: Any) -> Iterator[Violation]:
        yield from self.table_problems(move, versions, "HS-QUERY-01")
        if self.responder_versions is not None and dict(version_items(versions)) != self.responder_versions:
            yield move.violation("HS-QUERY-01", "MsgQueryReply does not carry the responder's version table")
        if not any(isinstance(d, Mapping) and d.get("query") for d in self.proposed.values()):
            yield move.violation("HS-QUERY-02", "MsgQueryReply although the initiator did not ask for query")

    def commit(self, move: Move) -> None:
        if move.name == "MsgProposeVersions":
            self.proposed = {key: data for key, data in version_items(move.fields.get("versions"))}


class N2CHandshakeRules(HandshakeRules):
    """Node-to-client: version numbers carry bit 15, version data is [networkMagic, query]."""

    n2c = True
    requirements = tuple(r for r in HandshakeRules.requirements if r not in ("HS-NEG-02", "HS-NEG-03", "HS-NEG-05"))
    requirements = requirements + ("HS-N2C-01",)

    def key_problems(self, move: Move, keys: Iterable[Any]) -> Iterator[Violation]:
        bad = [key for key in keys if not (is_word(key, 32) and key & N2C_VERSION_BIT)]
        if bad:
            yield move.violation("HS-N2C-01", f"node-to-client version numbers {bad} lack bit 15")


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
    number=0,
    initial="StPropose",
    states=_states(SHORT_WAIT),
    transitions=_transitions(),
    sources=SOURCES + ("CDDL: handshake-node-to-node-v14.cddl",),
    note="Runs on the raw bearer before the mux starts; each message is one SDU.",
    rules=HandshakeRules,
)

N2C_HANDSHAKE = ProtocolTable(
    name="n2c-handshake",
    title="Handshake (node-to-client)",
    prefix="HS",
    mode="node-to-client",
    number=0,
    initial="StPropose",
    states=_states(None),
    transitions=_transitions(),
    sources=SOURCES + ("CDDL: handshake-node-to-client.cddl",),
    note="Version numbers carry bit 15 (32784 = v16).",
    rules=N2CHandshakeRules,
)
