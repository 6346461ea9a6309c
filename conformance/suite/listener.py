"""Where an initiator-role run waits for the tested initiator: one listening socket for the whole run.

The initiator under test connects, is closed at the end of a case, and reconnects for the next one. The
listener only queues accepted sockets; a case takes the next one and runs it with the case's own
configuration (`conformance.peer.node.adopt`), so no connection runs with the wrong case's behaviours. A
socket the initiator gave up on while it waited (closed before any byte was read) is skipped; `take` says how
long the socket waited, so that a case can tell a socket the initiator abandoned after its proposal (it
waited too long for our answer) from one it closed on us.
"""

from __future__ import annotations

import asyncio
import contextlib

from conformance.peer import node
from conformance.peer.connection import Connection

from .case import Unreachable

QUEUE_LIMIT = 64
"""Sockets kept waiting for a case; more are closed at once (a reconnect storm is bounded)."""


class Listener:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.accepted = 0
        self._queue: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] | None = None
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue(QUEUE_LIMIT)
        try:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)
        except OSError as error:
            raise Unreachable(f"cannot listen on {self.host}:{self.port}: {error}") from None
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._queue is not None
        self.accepted += 1
        try:
            self._queue.put_nowait((reader, writer, asyncio.get_running_loop().time()))
        except asyncio.QueueFull:
            writer.close()

    async def take(self, config: node.PeerConfig, within: float) -> tuple[Connection, float]:
        """The next live connection of the tested initiator, run with `config`, and the seconds it waited
        in the queue since the initiator connected."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            left = deadline - loop.time()
            try:
                reader, writer, accepted_at = await asyncio.wait_for(self._queue.get(), max(left, 0.001))
            except TimeoutError:
                raise Unreachable(
                    f"the initiator under test did not connect to {self.host}:{self.port} within {within:g} s"
                ) from None
            if reader.at_eof() or writer.is_closing():
                writer.close()
                continue
            return node.adopt(reader, writer, config), loop.time() - accepted_at

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        while self._queue is not None and not self._queue.empty():
            _, writer, _ = self._queue.get_nowait()
            writer.close()
