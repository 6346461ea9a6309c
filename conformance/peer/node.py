"""The reference peer's entry points: connect (initiator) and serve (responder), over TCP or a Unix socket.

`PeerConfig` says what we propose or accept and which behaviours run; a `Connection` does the rest.
`connect*` return once the handshake has ended (accepted, refused, queried or failed: see
`Connection.negotiated`, `.refusal`, `.query_reply`, `.closed`). `serve*` accept any number of
connections at once (`max_conns` bounds those open together: more are closed at once) and stop after
`lifetime` seconds when given.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.wire import Message

from .agent import BehaviourFactory
from .connection import CloseInfo, Connection, ConnectionClosed, OwnViolation
from .handshake import N2C, N2C_DEFAULT_VERSIONS, N2N, N2N_DEFAULT_VERSIONS

MAINNET_MAGIC = 764824073
HANDSHAKE_WAIT = 10.0
"""Seconds `connect` waits for the handshake to end (the node's N2N handshake limit), times time_scale."""

__all__ = [
    "CloseInfo",
    "Connection",
    "ConnectionClosed",
    "OwnViolation",
    "PeerConfig",
    "Server",
    "adopt",
    "connect",
    "connect_unix",
    "serve",
    "serve_unix",
]


@dataclass
class PeerConfig:
    """What one peer proposes or accepts, and which behaviours its connections run (docs/peer.md)."""

    mode: str = N2N
    magic: int = MAINNET_MAGIC
    versions: tuple[int, ...] = N2N_DEFAULT_VERSIONS  # N2C: plain numbers 16..23 (bit 15 added on the wire)
    initiator_only: bool = False
    peer_sharing: int = 0
    time_scale: float = 1.0
    behaviours: Mapping[tuple[str, str], BehaviourFactory] = field(default_factory=dict)
    disabled_rules: frozenset[str] = frozenset()
    transcript_dir: Path | None = None
    query: bool = False  # as initiator: ask for the version table (MsgQueryReply) instead of a connection
    max_conns: int | None = None  # as responder: connections open at once; more are closed at accept
    lifetime: float | None = None  # as responder: seconds the server runs (None: until closed)
    transcript_memory: int = 10_000  # entries kept in Connection.transcript (files keep all); 0 for long runs
    handshake: bool = True  # False: no automatic handshake; a script sends and judges it (scenarios)
    egress_tamper: Callable[[], Callable[[bytes], tuple[bytes, bool]]] | None = None
    """Fault zoo only: makes, per connection, a rewrite of each socket write after the handshake
    (returning the bytes to write and whether to close the connection after them)."""
    handshake_tamper: Callable[[Message], Message] | None = None
    """Fault zoo only: rewrites each handshake message we send."""
    idle_timeout: bool = False
    """As responder, close a connection on which no mini-protocol runs for the node's protocol idle timeout
    (5 s node-to-node, 2 s node-to-client, scaled but never below 2 s: connection.idle_limit), counted from
    the handshake or from when every mini-protocol finished, as the node's connection manager does
    (MUX-IDLE-01). `serve` turns it on."""
    tolerated: frozenset[str] = frozenset()
    """Fault zoo only: the remote's violations of these rules are recorded but not enforced: the connection
    stays open and reads nothing more (a peer that does not close where the node closes)."""

    def __post_init__(self) -> None:
        if self.mode not in (N2N, N2C):
            raise ValueError(f"mode must be {N2N} or {N2C}, not {self.mode!r}")
        if self.mode == N2C and self.versions == N2N_DEFAULT_VERSIONS:
            self.versions = N2C_DEFAULT_VERSIONS
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")


async def _initiator(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: PeerConfig) -> Connection:
    local, remote = _ends(writer)
    connection = Connection(reader, writer, config, "initiator", local=local, remote=remote)
    if not config.handshake:
        return connection  # the script proposes
    wait = HANDSHAKE_WAIT * config.time_scale * 2
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(connection.handshake_done), wait)
    return connection


def _ends(writer: asyncio.StreamWriter) -> tuple[tuple[str, int], tuple[str, int]]:
    def pair(value: Any) -> tuple[str, int]:
        if isinstance(value, tuple) and len(value) >= 2:
            return str(value[0]), int(value[1])
        return (str(value or ""), 0)

    return pair(writer.get_extra_info("sockname")), pair(writer.get_extra_info("peername"))


async def connect(host: str, port: int, config: PeerConfig) -> Connection:
    """Open a TCP connection as initiator and run the handshake."""
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return await _initiator(reader, writer, config)


async def connect_unix(path: str, config: PeerConfig) -> Connection:
    """Open a Unix-socket connection (node-to-client) as initiator and run the handshake."""
    reader, writer = await asyncio.open_unix_connection(path)
    return await _initiator(reader, writer, config)


def adopt(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: PeerConfig) -> Connection:
    """A connection accepted by a listener of the caller's own (the suite's, which picks `config` per case
    only when it takes the connection), run as responder as `Server` runs its own."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    local, remote = _ends(writer)
    return Connection(reader, writer, config, "responder", local=local, remote=remote)


class Server:
    """A listening responder; every accepted connection is in `connections` (the most recent ones)."""

    KEEP_CLOSED = 1_000

    def __init__(self, config: PeerConfig) -> None:
        self.config = config
        self.host = ""
        self.port = 0
        self.path: str | None = None
        self.connections: list[Connection] = []
        self.refused = 0
        self._server: asyncio.AbstractServer | None = None
        self._stop: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None
        self.stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed.done()]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limit = self.config.max_conns
        if (limit is not None and len(self.open_connections) >= limit) or self.stopped.done():
            self.refused += 1
            writer.close()
            return
        connection = adopt(reader, writer, self.config)
        self.connections.append(connection)
        if len(self.connections) > self.KEEP_CLOSED:
            self.connections = [c for c in self.connections if not c.closed.done()] or self.connections[-1:]
        await asyncio.shield(connection.closed)

    def _started(self, server: asyncio.AbstractServer) -> None:
        self._server = server
        if self.config.lifetime is not None:
            self._stop = asyncio.get_running_loop().call_later(self.config.lifetime, self.stop)

    def stop(self) -> None:
        """Start closing (from a timer or a signal handler); `stopped` resolves when done."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self.close())  # kept: the loop holds tasks weakly

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._stop is not None:
            self._stop.cancel()
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(c.close() for c in self.open_connections), return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if not self.stopped.done():
            self.stopped.set_result(None)

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve(host: str, port: int, config: PeerConfig) -> Server:
    """Listen on TCP as responder; port 0 picks a free port (see `Server.port`)."""
    server = Server(config)
    listener = await asyncio.start_server(server._accept, host, port)
    name = listener.sockets[0].getsockname()
    server.host, server.port = str(name[0]), int(name[1])
    server._started(listener)
    return server


async def serve_unix(path: str, config: PeerConfig) -> Server:
    """Listen on a Unix socket as responder (node-to-client)."""
    server = Server(config)
    listener = await asyncio.start_unix_server(server._accept, path)
    server.path = path
    server._started(listener)
    return server
