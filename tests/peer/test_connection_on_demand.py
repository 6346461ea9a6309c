"""Responder clocks start on demand, as the node's mux starts its responders (over TCP, scaled).

The node starts each responder mini-protocol at its first inbound data (StartOnDemand: no limit on the
remote's first message) and keep-alive's at the first inbound data of any of them (StartOnDemandAny: from
then StClient's 97 s count). Our responder must follow the same rule, or it raises KA-TIME-01 against an
initiator the node accepts; our initiator's own checks mirror it from the data we send.
"""

from __future__ import annotations

import asyncio

from conformance.peer.connection import Connection
from conformance.peer.defaults import default_behaviours
from conformance.protocol import TABLES
from conformance.wire import Message

from .connection_helpers import node, run, scripted, server_side

SCALE = 0.03
KA_LIMIT = 97.0 * SCALE  # StClient at this scale: 2.91 s
FIRST_DATA = 0.5 * KA_LIMIT  # the initiator's first chain-sync message, after the handshake
SILENCE = 0.8 * KA_LIMIT  # then this long before its first MsgKeepAlive: past handshake + limit
CS = "chain-sync"
KA = "keep-alive"


async def _first_chain_sync_message(client: Connection) -> float:
    """Send MsgFindIntersect (the initiator's first data), take the answer; return when it was sent."""
    sent = asyncio.get_running_loop().time()
    await client.send(CS, Message(CS, "MsgFindIntersect", {"points": []}))
    answer = await client.receive(CS, timeout=5)
    assert answer.name in ("MsgIntersectFound", "MsgIntersectNotFound")
    return sent


def test_the_first_keepalive_may_come_97_s_after_the_first_data_not_after_the_handshake() -> None:
    """First data 1.5 s (scaled 4 s-like) after the handshake, the first MsgKeepAlive 2.3 s after that: past
    handshake + 2.91 s, within first data + 2.91 s, so no KA-TIME-01 (the old clock raised it)."""

    async def go() -> None:
        async with await node(time_scale=SCALE) as server:
            client = await scripted(server, time_scale=SCALE)
            await asyncio.sleep(FIRST_DATA)
            await _first_chain_sync_message(client)
            await asyncio.sleep(SILENCE)
            # checked: our own initiator Session mirrors the remote's clock, so it does not refuse this send
            await client.send(KA, Message(KA, "MsgKeepAlive", {"cookie": 9}))
            answer = await client.receive(KA, timeout=5)
            assert answer.name == "MsgKeepAliveResponse" and answer.fields["cookie"] == 9
            ours = await server_side(server)
            assert ours.violations == [] and not ours.is_closed
            await client.close()

    run(go())


def test_a_client_that_never_asks_is_closed_97_s_after_its_first_data() -> None:
    """No MsgKeepAlive after a first chain-sync message: KA-TIME-01 and the close, counted from that data."""

    async def go() -> None:
        async with await node(time_scale=SCALE) as server:
            client = await scripted(server, time_scale=SCALE)
            await asyncio.sleep(FIRST_DATA)
            sent = await _first_chain_sync_message(client)
            info = await client.wait_closed(KA_LIMIT * 3)
            closed = asyncio.get_running_loop().time()
            assert info is not None and info.by == "remote"
            assert closed - sent >= KA_LIMIT - 0.05, f"closed {closed - sent:.2f} s after the first data"
            ours = await server_side(server)
            assert [v.requirement for v in ours.violations] == ["KA-TIME-01"]
            assert ours.violations[0].state == "StClient"

    run(go())


def test_a_client_that_sends_nothing_meets_no_mini_protocol_limit() -> None:
    """No data at all after the handshake: no responder started, so no time limit applies (the node's idle
    timeout, off here, is what closes such a connection)."""

    async def go() -> None:
        async with await node(time_scale=SCALE) as server:
            client = await scripted(server, time_scale=SCALE)
            ours = await server_side(server)
            assert not ours.started(KA) and not ours.started(CS)
            assert await client.wait_closed(KA_LIMIT * 1.3) is None
            assert ours.violations == [] and not ours.is_closed
            await client.close()

    run(go())


def test_only_the_protocol_that_got_data_and_keepalive_start() -> None:
    async def go() -> None:
        async with await node(time_scale=SCALE) as server:
            client = await scripted(server, time_scale=SCALE)
            ours = await server_side(server)
            await _first_chain_sync_message(client)
            assert ours.started(CS) and ours.started(KA)
            assert not ours.started("block-fetch") and not ours.started("tx-submission2")
            await client.close()

    run(go())


def test_initiator_clocks_start_with_the_data_we_send() -> None:
    """Our initiator Sessions mirror the remote's responders: nothing runs after the handshake; our first
    chain-sync message starts chain-sync's and keep-alive's (StartOnDemandAny), no other; on a duplex
    connection our responders still wait for the remote's data."""

    async def go() -> None:
        every = default_behaviours("node-to-node", "responder")
        responders = {key: factory for key, factory in every.items() if key[1] == "responder"}
        async with await node(time_scale=SCALE, behaviours=responders) as server:  # it sends us nothing first
            client = await scripted(server, time_scale=SCALE, initiator_only=False)
            assert client.duplex
            for protocol in (CS, KA, "block-fetch", "tx-submission2"):
                assert protocol in TABLES and not client.started(protocol, "initiator"), protocol
            await _first_chain_sync_message(client)
            assert client.started(CS, "initiator") and client.started(KA, "initiator")
            assert not client.started("block-fetch", "initiator") and not client.started("tx-submission2", "initiator")
            for protocol in (CS, KA, "block-fetch", "tx-submission2"):
                assert not client.started(protocol, "responder"), protocol
            await client.close()

    run(go())
