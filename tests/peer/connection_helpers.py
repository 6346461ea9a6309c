"""Shared pieces of the connection tests: bounded runs, a responder, SDUs and messages as real bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from conformance import wire
from conformance.peer import keep_alive
from conformance.peer.connection import Connection
from conformance.peer.defaults import default_behaviours
from conformance.peer.node import PeerConfig, Server, connect, serve
from conformance.wire import Message
from conformance.wire.mux import SDU

T = TypeVar("T")
TIMEOUT = 30.0
"""Seconds any one test may take, however the sockets behave."""


def run(coro: Awaitable[T], timeout: float = TIMEOUT) -> T:
    """Run one test's coroutine, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def encode(protocol: str, name: str, **fields: Any) -> bytes:
    return wire.encode(Message(protocol, name, fields))


def sdu(protocol: int, mode: int, payload: bytes, timestamp: int = 0) -> bytes:
    return SDU(timestamp, mode, protocol, payload).encode()


def node_config(mode: str = "node-to-node", role: str = "responder", **overrides: Any) -> PeerConfig:
    """A node-like config: the default behaviours of `mode` for `role`."""
    overrides.setdefault("behaviours", default_behaviours(mode, role))
    return PeerConfig(mode=mode, **overrides)


async def node(**overrides: Any) -> Server:
    """A node-like N2N responder on a free loopback port."""
    return await serve("127.0.0.1", 0, node_config(**overrides))


async def scripted(server: Server, **overrides: Any) -> Connection:
    """A connection that only runs the handshake; the test drives it (initiator-only unless told: in
    duplex the server's own keep-alive requests would share the keep-alive inbox with its answers)."""
    overrides.setdefault("behaviours", {})
    overrides.setdefault("initiator_only", True)
    connection = await connect("127.0.0.1", server.port, PeerConfig(**overrides))
    assert connection.negotiated is not None, connection.transcript
    return connection


async def until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Poll `predicate` until it holds or `timeout` passes (bounded: at most timeout/step checks)."""
    for _ in range(int(timeout / step)):
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


async def keep_alive_round(connection: Connection, cookie: int) -> Message:
    """One scripted keep-alive round trip: the answer must echo `cookie`."""
    await connection.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": cookie}))
    answer = await connection.receive("keep-alive", timeout=5)
    assert answer.name == "MsgKeepAliveResponse" and answer.fields["cookie"] == cookie
    return answer


async def server_side(server: Server, index: int = -1, count: int = 1) -> Connection:
    """The server's connection number `index` once at least `count` were accepted."""
    assert await until(lambda: len(server.connections) >= count)
    return server.connections[index]


def fast_keep_alive(rounds: int | None = None, interval: float = 0.01) -> dict[tuple[str, str], Any]:
    return {("keep-alive", "initiator"): keep_alive.client(interval, rounds=rounds)}
