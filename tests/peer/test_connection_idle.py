"""The node's protocol idle timeout on our responder (PeerConfig.idle_timeout, on in `serve`): a connection
on which no mini-protocol runs for 5 s (scaled; node-to-client 2 s), from accept or from when every
mini-protocol finished, gets a SHOULD finding (MUX-IDLE-01) and is closed; one in use is kept. Over TCP."""

from __future__ import annotations

from conformance.peer.connection import IDLE_AT_LEAST, Connection, idle_limit
from conformance.protocol.mux import PROTOCOL_IDLE_TIMEOUT
from conformance.wire import Message

from .connection_helpers import node, run, scripted, until

SCALE = 0.05  # keep-alive StClient: 4.85 s, after the idle timeout (2 s)
LIMIT = idle_limit("node-to-node", SCALE)  # 2 s: scaled, but never below IDLE_AT_LEAST


def server_side(server: object) -> Connection:
    connections = list(server.connections)  # type: ignore[attr-defined]
    assert len(connections) == 1
    return connections[0]


def test_a_connection_on_which_nothing_starts_is_closed_with_a_should_finding() -> None:
    async def go() -> None:
        async with await node(time_scale=SCALE, idle_timeout=True) as server:
            client = await scripted(server, time_scale=SCALE)
            info = await client.wait_closed(LIMIT * 3)
            assert info is not None and info.by == "remote"
            ours = server_side(server)
            assert [w.requirement for w in ours.warnings] == ["MUX-IDLE-01"] and ours.violations == []
            assert "after the handshake" in str(ours.warnings[0]) and ours.warnings[0].severity == "SHOULD"
            assert ours.closed.result().reason.startswith("protocol idle timeout")

    run(go())


def test_a_running_mini_protocol_keeps_the_connection_and_finishing_all_starts_the_clock() -> None:
    async def go() -> None:
        async with await node(time_scale=SCALE, idle_timeout=True) as server:
            client = await scripted(server, time_scale=SCALE)
            await client.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": 7}))
            assert (await client.receive("keep-alive", 5)).name == "MsgKeepAliveResponse"
            assert await client.wait_closed(LIMIT * 1.5) is None  # keep-alive runs (StClient): not idle
            await client.send("keep-alive", Message("keep-alive", "MsgDone", {}))
            info = await client.wait_closed(LIMIT * 3)  # every protocol finished: the clock starts
            assert info is not None and info.by == "remote"
            ours = server_side(server)
            assert [w.requirement for w in ours.warnings] == ["MUX-IDLE-01"]
            assert "after every mini-protocol finished" in str(ours.warnings[0])

    run(go())


def test_without_the_timer_an_idle_connection_stays() -> None:
    async def go() -> None:
        async with await node(time_scale=SCALE) as server:
            client = await scripted(server, time_scale=SCALE)
            assert await client.wait_closed(LIMIT * 1.5) is None
            assert await until(lambda: len(server.connections) == 1)
            assert server_side(server).warnings == []
            await client.close()

    run(go())


def test_the_idle_timeout_scales_down_to_a_floor_only() -> None:
    assert idle_limit("node-to-node", 1.0) == PROTOCOL_IDLE_TIMEOUT["node-to-node"] == 5.0
    assert idle_limit("node-to-client", 1.0) == 2.0
    assert idle_limit("node-to-node", 0.05) == idle_limit("node-to-client", 0.05) == IDLE_AT_LEAST
    assert idle_limit("node-to-node", 10.0) == 50.0
