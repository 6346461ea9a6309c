"""Peer-sharing in both roles (PROTOCOLS.md section 9); runs only where peerSharing = 1 was negotiated.

The server answers MsgShareRequest with at most min(amount, 10) addresses of its configured list (the
node's `ps_POLICY_PEER_SHARE_MAX_PEERS`), in list order (the node picks at random, re-salted every 823 s;
a stable answer is what a conformance run wants). The client asks once for `amount` and keeps the answer;
it then sends MsgDone, or asks again every `interval` seconds when one is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.wire import Message

from .agent import Action, After, BehaviourFactory, Finish, Negotiated, Send

PROTOCOL = "peer-sharing"
NODE_MAX_PEERS = 10


def address(ip: str, port: int) -> dict[str, Any]:
    """A peer address as the wire layer declares it."""
    return {"ip": ip, "port": port}


class PeerSharingServer:
    protocol = PROTOCOL
    side = "responder"

    def __init__(self, peers: Sequence[dict[str, Any]] = ()) -> None:
        self.peers = list(peers)

    def start(self) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name == "MsgShareRequest":
            amount = min(int(message.fields["amount"]), NODE_MAX_PEERS)
            return [Send(Message(PROTOCOL, "MsgSharePeers", {"peers": self.peers[:amount]}))]
        if message.name == "MsgDone":
            return [Finish("done")]
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        return []


class PeerSharingClient:
    protocol = PROTOCOL
    side = "initiator"

    def __init__(self, amount: int = NODE_MAX_PEERS, *, interval: float | None = None) -> None:
        self.amount = amount
        self.interval = interval
        self.received: list[Any] = []

    def _ask(self) -> list[Action]:
        return [Send(Message(PROTOCOL, "MsgShareRequest", {"amount": self.amount}))]

    def start(self) -> Sequence[Action]:
        return self._ask()

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name != "MsgSharePeers":
            return []
        self.received = list(message.fields["peers"])
        if self.interval is None:
            return [Send(Message(PROTOCOL, "MsgDone", {})), Finish(f"{len(self.received)} peers")]
        return [After(self.interval, "ask")]

    def on_timer(self, token: str) -> Sequence[Action]:
        return self._ask() if token == "ask" else []


def server(peers: Sequence[dict[str, Any]] = ()) -> BehaviourFactory:
    def build(negotiated: Negotiated) -> PeerSharingServer:
        return PeerSharingServer(peers)

    return build


def client(amount: int = NODE_MAX_PEERS, *, interval: float | None = None) -> BehaviourFactory:
    def build(negotiated: Negotiated) -> PeerSharingClient:
        return PeerSharingClient(amount, interval=None if interval is None else interval * negotiated.time_scale)

    return build
