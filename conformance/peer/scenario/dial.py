"""The opener of the command line: the reference peer (conformance/peer/node.py) as a scenario's
connection, connecting (role initiator) or listening for one connection (role responder).

A scripted connection runs no behaviours (only the steps speak) and declares itself initiator-only, so
the connection is not duplex: the script plays one side of every mini-protocol and the remote starts no
instance of its own toward it (a node's keep-alive or chain-sync client would otherwise talk into the
script's inboxes). `handshake: script` sets `PeerConfig.handshake` False: the steps send and judge the
handshake, and the peer switches to the negotiated bundle when it sees the accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

from conformance.peer import node

from .errors import ScenarioError
from .surface import ConnectionSpec, ScriptedConnection

ACCEPT_WITHIN = 60.0
"""How long a listening scenario waits for the remote to connect."""


def config_for(spec: ConnectionSpec) -> node.PeerConfig:
    """The PeerConfig of a scripted connection: no behaviours, initiator-only, the scenario's handshake."""
    return node.PeerConfig(
        mode=spec.mode,
        magic=spec.magic,
        versions=tuple(spec.versions),
        initiator_only=True,
        behaviours={},
        disabled_rules=spec.disabled_rules,
        transcript_dir=spec.transcript_dir,
        handshake=spec.handshake != "script",
    )


def _handshake_ended(connection: Any, spec: ConnectionSpec) -> None:
    """With the automatic handshake the steps start only on a negotiated connection."""
    if spec.handshake == "script" or connection.negotiated is not None:
        return
    if connection.refusal is not None:
        why = f"refused: {connection.refusal.fields.get('reason')}"
    elif connection.closed.done():
        why = connection.closed.result().reason
    else:
        why = "no answer"
    raise ScenarioError(f"the handshake did not complete ({why})")


async def open_peer(spec: ConnectionSpec) -> ScriptedConnection:
    """Connect to `spec.address`, or listen on it and take the first connection."""
    if spec.address is None:
        raise ScenarioError("no address: give --peer HOST:PORT or --listen HOST:PORT")
    host, port = spec.address
    config = config_for(spec)
    if spec.role == "initiator":
        connection = await node.connect(host, port, config)
        try:
            _handshake_ended(connection, spec)
        except ScenarioError:
            await connection.close()
            raise
        return connection
    server = await node.serve(host, port, config)
    print(json.dumps({"listening": {"host": server.host, "port": server.port}}), flush=True, file=sys.stdout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACCEPT_WITHIN
    while not server.connections:
        if loop.time() >= deadline:
            await server.close()
            raise ScenarioError(f"no connection arrived within {ACCEPT_WITHIN:g} s")
        await asyncio.sleep(0.05)
    accepted = server.connections[0]
    if spec.handshake != "script":
        waited = node.HANDSHAKE_WAIT * config.time_scale * 2
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(accepted.handshake_done), waited)
        try:
            _handshake_ended(accepted, spec)
        except ScenarioError:
            await server.close()
            raise
    return _Accepted(server, accepted)


class _Accepted:
    """The accepted connection; closing it also closes the listening server."""

    def __init__(self, server: node.Server, connection: node.Connection) -> None:
        self._server = server
        self._connection = connection
        self.send = connection.send
        self.send_sdu = connection.send_sdu
        self.receive = connection.receive
        self.wait_closed = connection.wait_closed

    @property
    def negotiated(self) -> Any:
        return self._connection.negotiated

    @property
    def violations(self) -> list[Any]:
        return list(self._connection.violations)

    async def close(self) -> None:
        try:
            await self._connection.close()
        finally:
            await self._server.close()
