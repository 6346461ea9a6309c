"""The scenario runner's remote: the real reference peer (conformance.peer.node.serve), node-like.

`served()` runs the peer as a node does on a free loopback port, with the default behaviours
(`conformance.peer.defaults.default_behaviours`); a fault is a behaviour of the same peer with one rule of
its own sending side switched off, as a faulty node would send (`lie_about_cookie`). `closing_listener()`
is the one remote that is not the peer: it closes every connection at its first bytes (a node that closes
instead of answering). The tests at the bottom check the scripted surface (`scenario.dial.open_peer`) on
the real peer: its handshake in both directions, its own validation, and raw SDUs kept in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from conformance import wire
from conformance.peer import keep_alive, tx_submission
from conformance.peer.agent import Action, Negotiated, Send
from conformance.peer.defaults import default_behaviours
from conformance.peer.mempool import Mempool
from conformance.peer.node import PeerConfig, Server, connect, serve
from conformance.peer.scenario.dial import open_peer
from conformance.peer.scenario.surface import ConnectionClosed, ConnectionSpec, OwnViolation
from conformance.wire.mux import SDU
from conformance.wire.mux import segment as cut_into_sdus

TIMEOUT = 60.0
"""Seconds any one test here may take, however the sockets behave."""


def node_behaviours(mode: str = "node-to-node", role: str = "responder") -> dict[tuple[str, str], Any]:
    """The default behaviours, and the tx-submission2 inbound side of a shared mempool where the defaults do
    not list it yet (it is on main; the registry takes it at the lead's merge)."""
    behaviours = dict(default_behaviours(mode, role))
    if mode == "node-to-node":
        behaviours.setdefault(("tx-submission2", "responder"), tx_submission.inbound(Mempool()))
    return behaviours


def serves(protocol: str, mode: str = "node-to-node") -> bool:
    """Whether the node-like peer answers `protocol` as its responder."""
    return (protocol, "responder") in node_behaviours(mode)


def needs_responder(*protocols: str) -> None:
    """A test whose remote must answer these protocols: the default behaviours serve them (fails, never skips)."""
    missing = [p for p in protocols if not serves(p)]
    assert not missing, f"default_behaviours has no responder for {', '.join(missing)}"


class _LyingKeepAliveServer(keep_alive.KeepAliveServer):
    """Echoes cookie + 1 (KA-COOKIE-01): the peer sends it only with that rule switched off."""

    def on_message(self, message: wire.Message) -> Sequence[Action]:
        actions = list(super().on_message(message))
        for index, action in enumerate(actions):
            if isinstance(action, Send) and action.message.name == "MsgKeepAliveResponse":
                cookie = (action.message.fields["cookie"] + 1) & 0xFFFF
                actions[index] = Send(wire.Message("keep-alive", "MsgKeepAliveResponse", {"cookie": cookie}))
        return actions


def _lying(negotiated: Negotiated) -> _LyingKeepAliveServer:
    return _LyingKeepAliveServer()


@contextlib.asynccontextmanager
async def served(*, magic: int = 764824073, lie_about_cookie: bool = False) -> AsyncIterator[Server]:
    """The reference peer as a node-like responder on 127.0.0.1, closed at the end."""
    behaviours = node_behaviours()
    disabled: frozenset[str] = frozenset()
    if lie_about_cookie:
        behaviours[("keep-alive", "responder")] = _lying
        disabled = frozenset({"KA-COOKIE-01"})
    server = await serve("127.0.0.1", 0, PeerConfig(magic=magic, behaviours=behaviours, disabled_rules=disabled))
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def closing_listener() -> AsyncIterator[int]:
    """A listener that closes each connection as soon as bytes arrive; yields its port."""

    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    listener = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    try:
        yield int(listener.sockets[0].getsockname()[1])
    finally:
        listener.close()
        await listener.wait_closed()


def opener_for(port: int) -> Callable[[ConnectionSpec], Any]:
    """The command line's opener (the reference peer), pointed at `port` on 127.0.0.1."""

    async def open_there(spec: ConnectionSpec) -> Any:
        return await open_peer(dataclasses.replace(spec, address=("127.0.0.1", port)))

    return open_there


def spec(**changes: Any) -> ConnectionSpec:
    base: dict[str, Any] = dict(
        mode="node-to-node", role="initiator", handshake="auto", versions=(14, 15, 16), magic=764824073
    )
    base.update(changes)
    return ConnectionSpec(**base)


def bounded(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def keep_alive_message(name: str, cookie: int) -> wire.Message:
    return wire.Message("keep-alive", name, {"cookie": cookie})


# -- the scripted surface on the real peer -------------------------------------------------------------


def test_handshake_then_keep_alive_echo() -> None:
    async def scenario() -> None:
        async with served() as server:
            connection = await opener_for(server.port)(spec())
            assert connection.negotiated is not None and connection.negotiated.version == 16
            assert connection.negotiated.version_data["initiator_only"] is True  # not duplex: one side each
            await connection.send("keep-alive", keep_alive_message("MsgKeepAlive", 9))
            reply = await connection.receive("keep-alive", 5.0)
            assert (reply.name, reply.fields["cookie"]) == ("MsgKeepAliveResponse", 9)
            assert connection.violations == []
            await connection.close()

    bounded(scenario())


def test_a_remote_violation_is_recorded_and_closes() -> None:
    async def scenario() -> None:
        async with served(lie_about_cookie=True) as server:
            connection = await opener_for(server.port)(spec())
            await connection.send("keep-alive", keep_alive_message("MsgKeepAlive", 9))
            with pytest.raises(ConnectionClosed) as closed:
                await connection.receive("keep-alive", 5.0)
            assert closed.value.info.by == "local"  # our peer closed on the remote's violation
            assert [v.requirement for v in connection.violations] == ["KA-COOKIE-01"]
            await connection.close()

    bounded(scenario())


def test_our_own_rule_break_is_refused_unless_disabled() -> None:
    async def scenario() -> None:
        async with served() as server:
            response = keep_alive_message("MsgKeepAliveResponse", 1)
            connection = await opener_for(server.port)(spec())
            with pytest.raises(OwnViolation):
                await connection.send("keep-alive", response)
            await connection.close()
            connection = await opener_for(server.port)(spec(disabled_rules=frozenset({"KA-RESP-01"})))
            await connection.send("keep-alive", response)
            info = await connection.wait_closed(5.0)
            assert info is not None and info.by == "remote"  # the node closes on the agency violation
            assert connection.violations == []
            await connection.close()

    bounded(scenario())


def test_a_message_resplit_in_raw_sdus_keeps_our_sessions_in_step() -> None:
    """Raw SDUs carry a valid MsgKeepAlive a byte at a time: our keep-alive Session must see it sent, or
    the answer would look like a response nobody asked for (a false KA-RESP-01 on the remote)."""

    async def scenario() -> None:
        async with served() as server:
            connection = await opener_for(server.port)(spec())
            for round_, cookie in enumerate((513, 514)):
                payload = wire.encode(keep_alive_message("MsgKeepAlive", cookie))
                for piece in cut_into_sdus(payload, protocol=8, mode=0, max_payload=1):
                    await connection.send_sdu(piece.encode())
                reply = await connection.receive("keep-alive", 5.0)
                assert (reply.name, reply.fields["cookie"]) == ("MsgKeepAliveResponse", cookie), round_
            # and a whole message sent the ordinary way afterwards is judged in the right state too
            await connection.send("keep-alive", keep_alive_message("MsgKeepAlive", 515))
            assert (await connection.receive("keep-alive", 5.0)).fields["cookie"] == 515
            assert connection.violations == [] and connection.own_violations == []
            assert await connection.wait_closed(0.2) is None
            await connection.close()

    bounded(scenario())


def test_a_scripted_handshake_in_raw_sdus_switches_to_the_bundle() -> None:
    """handshake: script, the proposal sent as two raw SDUs: the accept that answers it starts keep-alive."""

    async def scenario() -> None:
        async with served() as server:
            connection = await opener_for(server.port)(spec(handshake="script"))
            assert connection.negotiated is None
            data = {"network_magic": 764824073, "initiator_only": True, "peer_sharing": 0, "query": False}
            proposal = wire.Message("handshake", "MsgProposeVersions", {"versions": {15: data}})
            payload = wire.encode(proposal)
            await connection.send_sdu(SDU(0, 0, 0, payload[:3]).encode() + SDU(0, 0, 0, payload[3:]).encode())
            accept = await connection.receive("handshake", 5.0)
            assert accept.name == "MsgAcceptVersion" and accept.fields["version"] == 15
            assert connection.negotiated is not None and connection.negotiated.version == 15
            await connection.send("keep-alive", keep_alive_message("MsgKeepAlive", 3))
            assert (await connection.receive("keep-alive", 5.0)).fields["cookie"] == 3
            assert connection.violations == []
            await connection.close()

    bounded(scenario())


def test_a_listening_script_answers_the_handshake_itself() -> None:
    """handshake: script as responder: the proposal waits for the script; its accept starts the bundle,
    and the dialing node's keep-alive client then reaches the script."""

    async def scenario() -> None:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):  # open_peer prints {"listening": ...} as the CLI does
            opening = asyncio.ensure_future(
                open_peer(spec(role="responder", handshake="script", address=("127.0.0.1", 0)))
            )
            for _ in range(500):  # the line comes as soon as it listens; a bounded wait for it
                if printed.getvalue():
                    break
                await asyncio.sleep(0.01)
        port = json.loads(printed.getvalue())["listening"]["port"]
        dialer = asyncio.ensure_future(
            connect("127.0.0.1", port, PeerConfig(behaviours=default_behaviours("node-to-node", "initiator")))
        )
        script = await opening
        proposal = await script.receive("handshake", 5.0)
        assert proposal.name == "MsgProposeVersions" and 16 in proposal.fields["versions"]
        agreed = dict(proposal.fields["versions"][16])
        agreed["initiator_only"] = True
        accept = wire.Message("handshake", "MsgAcceptVersion", {"version": 16, "version_data": agreed})
        await script.send("handshake", accept)
        node = await dialer
        assert node.negotiated is not None and node.negotiated.version == 16
        assert script.negotiated is not None and script.negotiated.version == 16
        asked = await script.receive("keep-alive", 10.0)
        assert asked.name == "MsgKeepAlive"
        await script.send("keep-alive", keep_alive_message("MsgKeepAliveResponse", asked.fields["cookie"]))
        await asyncio.sleep(0.1)
        assert node.violations == [] and script.violations == []
        assert not node.closed.done()
        await node.close()
        await script.close()

    bounded(scenario())
