"""The reference peer as a reconnecting initiator: what an initiator-role suite run needs on the other end.

The suite (`--role initiator --listen HOST:PORT`) takes one connection per case and closes it at the end
of the case; a node under test reconnects. `reconnect` plays that node: it connects, runs the connection's
behaviours until the remote closes it (or refuses the handshake), pauses briefly and connects again, until
`seconds` have passed, the address has refused connections for `refused_for` seconds in a row (the suite
stopped listening), or `stop` is set. Every bound is explicit: one connection attempt, one handshake, the
pause, the whole run, and the violations kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from conformance.protocol import Violation

from .connection import Connection
from .node import HANDSHAKE_WAIT, PeerConfig, connect

PAUSE = 0.1
"""Seconds between the end of a connection (or a refused attempt) and the next attempt."""
REFUSED_FOR = 3.0
"""Seconds of refused attempts in a row after which the remote is taken to have stopped listening."""
CONNECT_TIMEOUT = 5.0
"""Seconds one TCP connection attempt may take."""
VIOLATIONS_KEPT = 100
"""Violations kept for the summary; more are only counted (a remote may break a rule on every connection)."""


@dataclass
class Reconnected:
    """What a reconnecting run saw: connections made, handshakes refused, what the followers followed,
    the remote's violations (at most VIOLATIONS_KEPT, the rest counted) and how the run ended."""

    connections: int = 0
    refusals: int = 0
    headers: int = 0
    blocks: int = 0
    violations: list[Violation] = field(default_factory=list)
    violations_dropped: int = 0
    problems: list[str] = field(default_factory=list)
    ended: str = "time"  # "time", "refused" (the address stopped accepting) or "stopped"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Connected at least once, and the remote broke no rule and served no broken chain."""
        return self.connections > 0 and not self.violations and not self.violations_dropped and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "refusals": self.refusals,
            "headers": self.headers,
            "blocks": self.blocks,
            "violations": [{"requirement": v.requirement, "detail": str(v)} for v in self.violations],
            "violations_dropped": self.violations_dropped,
            "problems": self.problems[:VIOLATIONS_KEPT],
            "ended": self.ended,
            "seconds": round(self.seconds, 3),
        }

    def add(self, connection: Connection) -> None:
        """Count one finished connection in."""
        if connection.refusal is not None:
            self.refusals += 1
        room = max(0, VIOLATIONS_KEPT - len(self.violations))
        self.violations.extend(connection.violations[:room])
        self.violations_dropped += len(connection.violations) - len(connection.violations[:room])
        for behaviour in connection.behaviours.values():
            report = getattr(behaviour, "summary", None)
            if not callable(report):
                continue
            figures = report()
            self.headers += int(figures.get("headers", 0))
            self.blocks += int(figures.get("blocks", 0))
            for key in ("chain_problems", "block_problems"):
                if len(self.problems) < VIOLATIONS_KEPT:
                    self.problems.extend(str(p) for p in figures.get(key, ()))


async def reconnect(
    host: str,
    port: int,
    config: PeerConfig,
    *,
    seconds: float,
    pause: float = PAUSE,
    refused_for: float = REFUSED_FOR,
    stop: asyncio.Event | None = None,
) -> Reconnected:
    """Connect to HOST:PORT again and again with `config` (see the module docstring)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + seconds
    result = Reconnected()
    refused_since: float | None = None
    stop = stop or asyncio.Event()
    while True:
        now = loop.time()
        if stop.is_set():
            result.ended = "stopped"
            break
        if now >= deadline:
            result.ended = "time"
            break
        # `connect` bounds its handshake itself; this bound only ever cuts the TCP attempt short
        bound = CONNECT_TIMEOUT + HANDSHAKE_WAIT * config.time_scale * 2 + 1
        try:
            connection = await asyncio.wait_for(connect(host, port, config), bound)
        except (OSError, TimeoutError):
            refused_since = now if refused_since is None else refused_since
            if loop.time() - refused_since >= refused_for:
                result.ended = "refused"
                break
            await _pause(stop, pause)
            continue
        refused_since = None
        result.connections += 1
        await _until_closed(connection, stop, deadline - loop.time())
        result.add(connection)
        await _pause(stop, pause)
    result.seconds = loop.time() - started
    return result


async def _until_closed(connection: Connection, stop: asyncio.Event, within: float) -> None:
    """Run the connection until the remote closes it (or we do, on a violation), `stop` or `within` s."""
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({stopping, connection.closed}, timeout=max(within, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    with contextlib.suppress(Exception):
        await connection.close()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
