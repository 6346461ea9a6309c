"""PeerSharing (node-to-node mini-protocol 10), present only when peerSharing = 1 was negotiated.

Sources: `Ouroboros.Network.Protocol.PeerSharing.{Type,Codec}`, `Ouroboros.Network.PeerSharing`
(PROTOCOLS.md section 9).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .fields import fields_of
from .limits import HANDSHAKE_BYTE_LIMIT, LONG_WAIT, bytes_, seconds
from .rules import Move, Rules
from .table import INITIATOR, NOBODY, RESPONDER, CodecRule, ProtocolTable, State, Transition
from .violations import Violation


class PeerSharingRules(Rules):
    """Answers carry no more peers than asked for; the protocol runs only when negotiated.

    `version_data` is the negotiated handshake data, when known: peer_sharing = 0 forbids the protocol.
    A word8 amount and well-formed addresses are the wire declaration's to check (PS-AMOUNT-02 and
    PS-ADDR-01 are named by the table's codec rules).
    """

    requirements = ("PS-NEG-01", "PS-AMOUNT-01")

    def __init__(self, version: int | None = None, *, version_data: Mapping[str, Any] | None = None) -> None:
        super().__init__(version)
        # v11-v12 carried 0 NoPeerSharing, 1 PeerSharingPrivate, 2 PeerSharingPublic; v13 on 0 or 1
        self.negotiated = None if version_data is None else bool(version_data.get("peer_sharing"))
        self.amount = 0

    def check(self, move: Move) -> Iterator[Violation]:
        if self.negotiated is False:
            yield move.violation("PS-NEG-01", "peer sharing was not negotiated (peer_sharing = 0)")
            return
        if move.name == "MsgSharePeers":
            peers = fields_of(move).get("peers", [])
            if len(peers) > self.amount:
                yield move.violation("PS-AMOUNT-01", f"{len(peers)} peers shared; {self.amount} were requested")

    def commit(self, move: Move) -> None:
        if move.name == "MsgShareRequest":
            self.amount = fields_of(move).get("amount", 0)


PEER_SHARING = ProtocolTable(
    name="peer-sharing",
    title="PeerSharing",
    prefix="PS",
    mode="node-to-node",
    initial="StIdle",
    states=(
        State("StIdle", INITIATOR, bytes_(HANDSHAKE_BYTE_LIMIT)),
        State("StBusy", RESPONDER, bytes_(HANDSHAKE_BYTE_LIMIT), seconds(LONG_WAIT)),
        State("StDone", NOBODY),
    ),
    transitions=(
        Transition("MsgShareRequest", "StIdle", "StBusy"),
        Transition("MsgSharePeers", "StBusy", "StIdle"),
        Transition("MsgDone", "StIdle", "StDone"),
    ),
    codec_rules=(
        CodecRule("MsgShareRequest", "$.amount", "PS-AMOUNT-02"),
        CodecRule("MsgSharePeers", "$.peers[", "PS-ADDR-01", prefix=True),
    ),
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/PeerSharing/Type.hs",
        "ON:cardano-diffusion/protocols/lib/Cardano/Network/Protocol/PeerSharing/Codec.hs",
        "network spec: miniprotocols.tex, Peer-Sharing",
        "CDDL: peer-sharing-v14.cddl",
    ),
    note="The node answers with at most min(amount, 10) peers; IPv4 words are little-endian.",
    rules=PeerSharingRules,
)
