"""The handshake as the node runs it, sans-I/O: what we propose, what we answer, what we accept.

Responder: `respond` follows the node's server algorithm (PROTOCOLS.md 4.3): unknown keys are skipped,
no common version is MsgRefuse VersionMismatch (with all our versions), undecodable data of the highest
common version is HandshakeDecodeError, another magic is Refused, a query from either side is
MsgQueryReply, otherwise MsgAcceptVersion with the negotiated data (4.6).
Initiator: `proposal` builds the version table; `accepted` re-runs the negotiation on the reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.wire import Message
from conformance.wire.handshake import N2C_VERSION_BIT

N2N = "node-to-node"
N2C = "node-to-client"
N2N_DEFAULT_VERSIONS = (14, 15, 16)
N2C_DEFAULT_VERSIONS = tuple(range(16, 24))


HANDSHAKES = ("handshake", "n2c-handshake")
"""The wire names of both handshakes (protocol_name of each mode)."""


def protocol_name(mode: str) -> str:
    """The handshake's wire protocol name in `mode`."""
    return "handshake" if mode == N2N else "n2c-handshake"


def wire_key(mode: str, version: int) -> int:
    """A version number as the handshake writes it (node-to-client numbers carry bit 15)."""
    return version | N2C_VERSION_BIT if mode == N2C else version


def version_data(
    mode: str, version: int, *, magic: int, initiator_only: bool = False, peer_sharing: int = 0, query: bool = False
) -> dict[str, Any]:
    """Our version data for `version` (a plain number), with exactly the fields its declaration has."""
    if mode == N2C:
        return {"network_magic": magic, "query": query}
    data: dict[str, Any] = {
        "network_magic": magic,
        "initiator_only": initiator_only,
        "peer_sharing": peer_sharing,
        "query": query,
    }
    if version >= 16:
        data["peras_support"] = False
    return data


def version_table(
    mode: str,
    versions: Sequence[int],
    *,
    magic: int,
    initiator_only: bool = False,
    peer_sharing: int = 0,
    query: bool = False,
) -> dict[int, dict[str, Any]]:
    """Our version table, keyed as on the wire, ascending (the codec requires it)."""
    return {
        wire_key(mode, v): version_data(
            mode, v, magic=magic, initiator_only=initiator_only, peer_sharing=peer_sharing, query=query
        )
        for v in sorted(set(versions))
    }


def proposal(mode: str, table: Mapping[int, Mapping[str, Any]]) -> Message:
    return Message(protocol_name(mode), "MsgProposeVersions", {"versions": {k: dict(v) for k, v in table.items()}})


def _flag(data: Mapping[str, Any], name: str) -> bool:
    return bool(data.get(name, False))


def negotiate(mode: str, local: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any] | str:
    """`acceptableVersion local remote`: the agreed data, or why it is refused (a Refused text)."""
    if remote.get("network_magic") != local.get("network_magic"):
        return f"version data mismatch: network magic {remote.get('network_magic')} != {local.get('network_magic')}"
    agreed: dict[str, Any] = {"network_magic": local["network_magic"]}
    if mode == N2N:
        agreed["initiator_only"] = _flag(local, "initiator_only") or _flag(remote, "initiator_only")
        agreed["peer_sharing"] = 1 if local.get("peer_sharing") == 1 and remote.get("peer_sharing") == 1 else 0
    agreed["query"] = _flag(local, "query") or _flag(remote, "query")
    if "peras_support" in local:
        agreed["peras_support"] = _flag(local, "peras_support") and _flag(remote, "peras_support")
    return agreed


def _well_formed(mode: str, key: int, data: Any, ours: Mapping[str, Any]) -> bool:
    """The proposed data decoded as a record of exactly our declaration's fields."""
    return isinstance(data, Mapping) and set(data) == set(ours)


@dataclass(frozen=True)
class Answer:
    """The responder's reply and what follows it: `version`/`data` set only when accepted."""

    reply: Message
    version: int | None = None
    data: dict[str, Any] | None = None

    @property
    def accepted(self) -> bool:
        return self.version is not None


def respond(mode: str, ours: Mapping[int, Mapping[str, Any]], proposed: Mapping[int, Any]) -> Answer:
    """The node's answer to a MsgProposeVersions carrying `proposed` (keys as on the wire)."""
    name = protocol_name(mode)
    common = sorted(set(ours) & {k for k in proposed if isinstance(k, int)})
    if not common:
        reason: dict[str, Any] = {"kind": "VersionMismatch", "versions": sorted(ours)}
        return Answer(Message(name, "MsgRefuse", {"reason": reason}))
    key = common[-1]
    remote = proposed[key]
    if not _well_formed(mode, key, remote, ours[key]):
        reason = {"kind": "HandshakeDecodeError", "version": key, "message": f"version data of {key} does not decode"}
        return Answer(Message(name, "MsgRefuse", {"reason": reason}))
    agreed = negotiate(mode, ours[key], remote)
    if isinstance(agreed, str):
        return Answer(Message(name, "MsgRefuse", {"reason": {"kind": "Refused", "version": key, "message": agreed}}))
    if agreed["query"]:
        return Answer(Message(name, "MsgQueryReply", {"versions": {k: dict(v) for k, v in ours.items()}}))
    return Answer(Message(name, "MsgAcceptVersion", {"version": key, "version_data": agreed}), key, agreed)


def accepted(mode: str, ours: Mapping[int, Mapping[str, Any]], reply: Message) -> dict[str, Any] | str:
    """The initiator's check of MsgAcceptVersion: the negotiated data, or why the node would close."""
    key = reply.fields.get("version")
    data = reply.fields.get("version_data")
    if not isinstance(key, int) or key not in ours:
        return f"NotRecognisedVersion: {key} was not proposed"
    if not isinstance(data, Mapping) or not _well_formed(mode, key, data, ours[key]):
        return f"HandshakeDecodeError: the data of {key} does not decode"
    again = negotiate(mode, ours[key], data)
    if isinstance(again, str) or again != dict(data):
        return f"InvalidServerSelection: {dict(data)} for our {dict(ours[key])}"
    return dict(data)
