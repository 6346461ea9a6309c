"""The scripted connection surface the runner drives: exactly the part of the reference peer's
`Connection` (conformance/peer/node.py, see docs/peer.md) that a scenario needs, as a typing.Protocol.

The runner depends on this, on the peer's `ConnectionClosed` (what `receive` and `send` raise once the
connection has ended; its `info` is the peer's CloseInfo: who closed and why) and on `OwnViolation` (our
own check refused a message), both from the peer core, which never imports the scenario layer.
`CLOSED` lists what the runner reads as "closed".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conformance.peer.connection import CloseInfo, ConnectionClosed, OwnViolation
from conformance.wire.message import Message

__all__ = [
    "CLOSED",
    "CloseInfo",
    "ConnectionClosed",
    "ConnectionSpec",
    "Opener",
    "OwnViolation",
    "ScriptedConnection",
]


CLOSED: tuple[type[BaseException], ...] = (ConnectionClosed, ConnectionError, EOFError)
"""Exceptions that mean the connection is gone (a reset socket is a close too)."""


class ScriptedConnection(Protocol):
    """What the runner uses of a connection: send, send_sdu, receive, wait_closed, close, violations,
    negotiated. (The peer's Connection has more; the runner needs only these.)"""

    @property
    def negotiated(self) -> Any: ...  # conformance.peer.agent.Negotiated | None, after the handshake

    @property
    def violations(self) -> list[Any]: ...  # the REMOTE's violations (conformance.protocol.Violation)

    async def send(self, protocol: str, message: Message | bytes, *, check: bool = True) -> None: ...

    async def send_sdu(self, raw: bytes) -> None: ...

    async def receive(self, protocol: str, timeout: float) -> Message: ...

    async def wait_closed(self, timeout: float) -> Any: ...  # CloseInfo, or None when still open

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ConnectionSpec:
    """What a scenario asks of the connection it runs on (turned into a PeerConfig by the opener).

    `handshake` "auto": the peer does the handshake (`versions`, `magic`) before the first step;
    "script": the steps send and expect the handshake messages themselves.
    """

    mode: str
    role: str
    handshake: str
    versions: Sequence[int]
    magic: int
    disabled_rules: frozenset[str] = frozenset()
    transcript_dir: Path | None = None
    address: tuple[str, int] | None = None  # connect to (initiator) or listen on (responder)
    extra: dict[str, Any] = field(default_factory=dict)


Opener = Callable[[ConnectionSpec], Awaitable[ScriptedConnection]]
"""Opens (connects, or listens and accepts one) a connection for a scenario."""
