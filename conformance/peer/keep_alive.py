"""Keep-alive in both roles, with the node's timing (PROTOCOLS.md section 8).

The client sends MsgKeepAlive with a fresh random word16 cookie at once and then `interval` seconds
(the node: 10 s) after each answer, as `keepAliveClient` in Ouroboros.Network.KeepAlive does; the
connection's Session checks the echo (KA-COOKIE-01) and the server's 60 s answer limit. The server
echoes every cookie. Both are examples of the `conformance.peer.agent` contract: no I/O, no clock;
time comes back through `After`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from conformance.wire import Message

from .agent import Action, After, BehaviourFactory, Finish, Negotiated, Send

PROTOCOL = "keep-alive"
NODE_INTERVAL = 10.0
"""Seconds between the node's keep-alive requests (`KeepAliveInterval 10`)."""


class KeepAliveClient:
    """Asks every `interval` seconds; stops with MsgDone after `rounds` answers when given."""

    protocol = PROTOCOL
    side = "initiator"

    def __init__(self, interval: float = NODE_INTERVAL, *, rounds: int | None = None, seed: int | None = None) -> None:
        self.interval = interval
        self.rounds = rounds
        self.answers = 0
        self.cookies: list[int] = []
        self._random = random.Random(seed)

    def _ask(self) -> list[Action]:
        cookie = self._random.getrandbits(16)
        self.cookies.append(cookie)
        return [Send(Message(PROTOCOL, "MsgKeepAlive", {"cookie": cookie}))]

    def start(self) -> Sequence[Action]:
        return self._ask()

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name != "MsgKeepAliveResponse":
            return []
        if message.fields.get("cookie") != self.cookies[-1]:
            return [Finish(f"KeepAliveCookieMissmatch: sent {self.cookies[-1]}, got {message.fields.get('cookie')}")]
        self.answers += 1
        if self.rounds is not None and self.answers >= self.rounds:
            return [Send(Message(PROTOCOL, "MsgDone", {})), Finish("done")]
        return [After(self.interval, "keep-alive")]

    def on_timer(self, token: str) -> Sequence[Action]:
        return self._ask() if token == "keep-alive" else []


class KeepAliveServer:
    """Echoes every cookie; finishes on MsgDone."""

    protocol = PROTOCOL
    side = "responder"

    def __init__(self) -> None:
        self.requests = 0

    def start(self) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name == "MsgKeepAlive":
            self.requests += 1
            return [Send(Message(PROTOCOL, "MsgKeepAliveResponse", {"cookie": message.fields["cookie"]}))]
        if message.name == "MsgDone":
            return [Finish("done")]
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        return []


def client(interval: float = NODE_INTERVAL, *, rounds: int | None = None) -> BehaviourFactory:
    """A keep-alive client factory; the interval is scaled by the connection's time scale."""

    def build(negotiated: Negotiated) -> KeepAliveClient:
        return KeepAliveClient(interval * negotiated.time_scale, rounds=rounds)

    return build


def server() -> BehaviourFactory:
    def build(negotiated: Negotiated) -> KeepAliveServer:
        return KeepAliveServer()

    return build
