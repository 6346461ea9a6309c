"""The opener of the command line: the reference peer (conformance/peer/node.py) as a scenario's
connection, connecting (role initiator) or listening for one connection (role responder).

The peer is imported when a scenario runs, not before, so loading and validating scenarios needs none
of it. A scenario that drives the handshake itself (`handshake: script`) needs a peer that can leave
the handshake to the script: a PeerConfig field `handshake` set to False (asked of peercore).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import sys
from typing import Any

from .errors import ScenarioError
from .surface import ConnectionSpec, ScriptedConnection

ACCEPT_WITHIN = 60.0
"""How long a listening scenario waits for the remote to connect."""


def _peer() -> Any:
    try:
        return importlib.import_module("conformance.peer.node")
    except ImportError as exc:
        raise ScenarioError(f"the reference peer (conformance.peer.node) is not available: {exc}") from None


def config_for(spec: ConnectionSpec) -> Any:
    """The PeerConfig of a scripted connection: no behaviours, so only the steps speak after the handshake."""
    node = _peer()
    options: dict[str, Any] = {
        "mode": spec.mode,
        "magic": spec.magic,
        "versions": tuple(spec.versions),
        "behaviours": {},
        "disabled_rules": spec.disabled_rules,
        "transcript_dir": spec.transcript_dir,
    }
    if spec.handshake == "script":
        names = {f.name for f in dataclasses.fields(node.PeerConfig)}
        if "handshake" not in names:
            raise ScenarioError("this scenario drives the handshake itself; the peer has no PeerConfig.handshake")
        options["handshake"] = False
    return node.PeerConfig(**options)


async def open_peer(spec: ConnectionSpec) -> ScriptedConnection:
    """Connect to `spec.address`, or listen on it and take the first connection."""
    if spec.address is None:
        raise ScenarioError("no address: give --peer HOST:PORT or --listen HOST:PORT")
    node = _peer()
    host, port = spec.address
    config = config_for(spec)
    if spec.role == "initiator":
        connection: ScriptedConnection = await node.connect(host, port, config)
        return connection
    server = await node.serve(host, port, config)
    print(json.dumps({"listening": {"host": server.host, "port": server.port}}), flush=True, file=sys.stdout)
    waited = 0.0
    while not server.connections:
        if waited >= ACCEPT_WITHIN:
            await server.close()
            raise ScenarioError(f"no connection arrived within {ACCEPT_WITHIN:g} s")
        await asyncio.sleep(0.05)
        waited += 0.05
    return _Accepted(server, server.connections[0])


class _Accepted:
    """The accepted connection; closing it also closes the listening server."""

    def __init__(self, server: Any, connection: Any) -> None:
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
