"""The contract between the connection (asyncio, I/O only) and a node behaviour (sans-I/O decisions).

A behaviour plays one side of one mini-protocol instance on one connection: a chain-sync server, a
keep-alive client, a tx-submission2 inbound side. It never touches a socket or a clock: the connection
calls `start()` once the mini-protocol runs, `on_message()` for every message the remote sent on it
(already validated by the connection's `Session`), and `on_timer()` when a delay it asked for is over.
Each call returns the actions to take, in order. So every decision is testable on bytes alone, and the
same behaviour runs over TCP, a Unix socket or a test harness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.wire.message import Message


@dataclass(frozen=True)
class Send:
    """Send `message` on this mini-protocol (the connection encodes, checks and segments it)."""

    message: Message


@dataclass(frozen=True)
class After:
    """Call `on_timer(token)` after `seconds` (already scaled by the behaviour's time scale)."""

    seconds: float
    token: str


@dataclass(frozen=True)
class Finish:
    """This behaviour is done (it sent or received MsgDone, or has nothing more to do). With `close`, it
    cannot go on and the connection closes from our side, as the node closes when it cannot answer: a
    remote left waiting for an answer that never comes would hang instead."""

    reason: str = ""
    close: bool = False


Action = Send | After | Finish


@dataclass(frozen=True)
class Negotiated:
    """What the handshake settled, as every behaviour on the connection sees it."""

    mode: str  # "node-to-node" or "node-to-client"
    version: int  # the version number as on the wire (node-to-client keys carry bit 15)
    version_data: Mapping[str, Any] = field(default_factory=dict)
    time_scale: float = 1.0


class Behaviour(Protocol):
    """One side of one mini-protocol: see the module docstring."""

    protocol: str  # the wire layer's protocol name, e.g. "chain-sync"
    side: str  # "initiator" or "responder": the side of the mini-protocol this behaviour plays

    def start(self) -> Sequence[Action]: ...

    def on_message(self, message: Message) -> Sequence[Action]: ...

    def on_timer(self, token: str) -> Sequence[Action]: ...


BehaviourFactory = Callable[[Negotiated], Behaviour]
"""Builds a behaviour for a connection once its handshake is done."""
