"""End to end: the reference peer as initiator against itself as responder, over real sockets (TCP on
127.0.0.1 for node-to-node, a Unix socket for node-to-client), for every mini-protocol.

Each test asserts that the exchange really happened (counts kept by the behaviours, or the connection's
transcript) and that neither side recorded a violation, a warning or a broken rule of its own: the peer
raises no false alarm against a correct remote. Every test is bounded twice: pytest-timeout and
`asyncio.wait_for` (via `run`).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from conformance.peer import keep_alive, local_tx_submission, peer_sharing, tx_submission
from conformance.peer.agent import BehaviourFactory
from conformance.peer.block_fetch import BlockFetchClient
from conformance.peer.chain import ChainStore, as_point
from conformance.peer.chain_roles import follow_chain, serve_chain
from conformance.peer.chain_sync import ChainSyncClient, ChainSyncServer
from conformance.peer.connection import Connection
from conformance.peer.defaults import default_behaviours
from conformance.peer.local_client import ScriptedClient
from conformance.peer.local_state_query import POINT_NOT_ON_CHAIN
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.node import PeerConfig, Server, connect, connect_unix, serve, serve_unix
from conformance.wire.cardano import ChainPoint
from conformance.wire.cbor import decode_item
from conformance.wire.message import Message

from .connection_helpers import run, until

pytestmark = pytest.mark.timeout(60)

N2N, N2C = "node-to-node", "node-to-client"
GOLDEN = golden_transactions()
Behaviours = Mapping[tuple[str, str], BehaviourFactory]


# -- helpers -----------------------------------------------------------------------------------------


def clean(connection: Connection) -> None:
    """No false alarm on this connection: no violation of the remote, no SHOULD warning, none of ours."""
    assert connection.violations == [], connection.violations
    assert connection.warnings == [], connection.warnings
    assert connection.own_violations == [], connection.own_violations
    if connection.closed.done():
        info = connection.closed.result()
        assert info.error is None, info


def all_clean(server: Server, *connections: Connection) -> None:
    for connection in (*connections, *server.connections):
        clean(connection)


async def tcp_pair(
    served: Behaviours, following: Behaviours, *, server: dict[str, Any] | None = None, **client: Any
) -> tuple[Server, Connection]:
    """A responder on a free loopback port running `served`, and one initiator running `following`."""
    responder = await serve("127.0.0.1", 0, PeerConfig(behaviours=served, **(server or {})))
    connection = await connect("127.0.0.1", responder.port, PeerConfig(behaviours=following, **client))
    assert connection.negotiated is not None, connection.transcript
    return responder, connection


async def finished(connection: Connection, *keys: tuple[str, str], timeout: float = 20.0) -> None:
    """Wait until every behaviour in `keys` has finished (or fail, naming what is still running)."""
    done = await until(lambda: all(key in connection.finished for key in keys), timeout=timeout)
    assert done, {key: connection.finished.get(key) for key in keys}


def received(connection: Connection, protocol: str) -> list[str]:
    """The names of the messages `connection` received on `protocol`, in order, from its transcript."""
    return [
        e.name or ""
        for e in connection.transcript
        if e.kind == "message" and e.direction == "received" and e.protocol == protocol
    ]


async def server_received(server: Server, protocol: str, last: list[str]) -> bool:
    """Whether the server's first connection reads `last` as its final messages on `protocol`, in time.

    The client finishing means it has sent its last message, not that the server has read it yet.
    """
    return await until(lambda: received(server.connections[0], protocol)[-len(last) :] == last)


def behaviour(connection: Connection, protocol: str, side: str) -> Any:
    return connection.behaviours[(protocol, side)]


def follower(headers: int, depth: int, **client: Any) -> Behaviours:
    """Chain-sync and block-fetch initiators following `headers` headers (no local chain-sync)."""
    return {
        k: f
        for k, f in follow_chain(headers=headers, depth=depth, range_size=50, **client).items()
        if k[0] != "local-chain-sync"
    }


def chain_server(chain: ChainStore, **options: Any) -> Behaviours:
    return {k: f for k, f in serve_chain(chain, **options).items() if k[0] != "local-chain-sync"}


async def close(server: Server, *connections: Connection) -> None:
    for connection in connections:
        await connection.close()
    await server.close()


def check_followed(connection: Connection, chain: ChainStore, headers: int) -> None:
    """The client followed `headers` headers from the origin with every hash and link checked, and
    fetched every one of them, each block's hash and body checked against its header."""
    client: ChainSyncClient = behaviour(connection, "chain-sync", "initiator")
    fetcher: BlockFetchClient = behaviour(connection, "block-fetch", "initiator")
    assert client.problems == [] and fetcher.problems == []
    assert client.received == headers
    assert fetcher.blocks == headers and fetcher.not_served == 0
    assert client.recent[-1].hash == chain.point(headers - 1).hash


# -- node-to-node ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [14, 15, 16])
def test_handshake_in_each_version_then_the_bundle_runs(version: int) -> None:
    async def scenario() -> None:
        served = {("keep-alive", "responder"): keep_alive.server()}
        following = {("keep-alive", "initiator"): keep_alive.client(0.01, rounds=2)}
        server, connection = await tcp_pair(
            served, following, server={"magic": 2}, magic=2, versions=(version,), initiator_only=True
        )
        await finished(connection, ("keep-alive", "initiator"))
        theirs = server.connections[0]
        assert connection.negotiated is not None and theirs.negotiated is not None
        assert connection.negotiated.version == theirs.negotiated.version == version
        assert connection.negotiated.version_data["network_magic"] == 2
        assert theirs.negotiated.version_data["initiator_only"] is True and not connection.duplex
        assert behaviour(theirs, "keep-alive", "responder").requests == 2
        assert received(connection, "keep-alive") == ["MsgKeepAliveResponse"] * 2
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


@pytest.mark.parametrize("depth", [1, 50])
def test_follow_500_headers_and_fetch_every_block(depth: int) -> None:
    async def scenario() -> None:
        chain = ChainStore.synthetic(500)
        server, connection = await tcp_pair(chain_server(chain), follower(500, depth), initiator_only=True)
        await finished(connection, ("chain-sync", "initiator"), ("block-fetch", "initiator"))
        check_followed(connection, chain, 500)
        fetcher: BlockFetchClient = behaviour(connection, "block-fetch", "initiator")
        assert fetcher.blocks == 500 and fetcher.not_served == 0 and fetcher.bytes > 0
        theirs = server.connections[0]
        assert behaviour(theirs, "chain-sync", "responder").sent_forward == 500
        assert behaviour(theirs, "block-fetch", "responder").blocks == 500
        assert received(connection, "chain-sync").count("MsgRollForward") == 500
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_a_growing_tip_is_awaited_then_followed() -> None:
    async def scenario() -> None:
        chain = ChainStore.synthetic(10)
        server, connection = await tcp_pair(
            chain_server(chain, grow_every=0.25), follower(16, 1), server={"time_scale": 0.2}, initiator_only=True
        )
        await finished(connection, ("chain-sync", "initiator"), ("block-fetch", "initiator"))
        names = [n for n in received(connection, "chain-sync") if n in ("MsgAwaitReply", "MsgRollForward")]
        assert "MsgAwaitReply" in names
        assert names[names.index("MsgAwaitReply") + 1] == "MsgRollForward"  # the new block, after the wait
        check_followed(connection, chain, 16)
        assert behaviour(connection, "block-fetch", "initiator").blocks == 16
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_a_rollback_of_the_served_chain_reaches_a_client_at_the_tip() -> None:
    async def scenario() -> None:
        chain = ChainStore.synthetic(100)
        old_tip = chain.point(99)
        server, connection = await tcp_pair(
            chain_server(chain, poll_every=0.25), follower(150, 5), server={"time_scale": 0.2}, initiator_only=True
        )
        client: ChainSyncClient = behaviour(connection, "chain-sync", "initiator")
        assert await until(lambda: client.received == 100)
        theirs = server.connections[0]
        chain_server_side: ChainSyncServer = behaviour(theirs, "chain-sync", "responder")
        assert await until(lambda: chain_server_side.awaiting)
        chain.rollback(79)  # the last 20 blocks go, then 70 others grow in their place
        chain.extend(70)
        assert chain.point(99) != old_tip
        await finished(connection, ("chain-sync", "initiator"), ("block-fetch", "initiator"))
        backward = [e for e in connection.transcript if e.name == "MsgRollBackward" and e.direction == "received"]
        assert [as_point(e.fields["point"]) for e in backward][-1] == chain.point(79)
        assert client.problems == [] and client.received == 150
        assert client.recent[-1].hash == chain.point(129).hash  # 100 followed, back to 79, 50 more
        fetcher: BlockFetchClient = behaviour(connection, "block-fetch", "initiator")
        assert fetcher.problems == [] and fetcher.blocks + fetcher.not_served >= 150 - 20
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_tx_submission_moves_the_golden_transactions() -> None:
    async def scenario() -> None:
        ours, theirs_pool = Mempool(GOLDEN), Mempool()
        server, connection = await tcp_pair(
            {("tx-submission2", "responder"): tx_submission.inbound(theirs_pool)},
            {("tx-submission2", "initiator"): tx_submission.outbound(ours)},
            initiator_only=True,
        )
        assert await until(lambda: len(theirs_pool) == len(GOLDEN))
        assert {t.txid for t in theirs_pool} == {t.txid for t in ours}
        assert [t.tx for t in theirs_pool] == GOLDEN
        theirs = server.connections[0]
        inbound = behaviour(theirs, "tx-submission2", "responder")
        assert inbound.received == len(GOLDEN) and inbound.refused == 0
        assert behaviour(connection, "tx-submission2", "initiator").sent_txs == len(GOLDEN)
        # the responder ends with a blocking request that waits for more, and it stays open
        assert await until(lambda: behaviour(connection, "tx-submission2", "initiator").held is not None)
        requests = [
            e.fields for e in connection.transcript if e.name == "MsgRequestTxIds" and e.direction == "received"
        ]
        assert requests[0]["blocking"] is True and requests[-1]["blocking"] is True
        assert any(not r["blocking"] for r in requests)
        # a non-blocking request once the mempool ran dry is answered at once with an empty list
        replies = [
            e.fields["txids"] for e in theirs.transcript if e.name == "MsgReplyTxIds" and e.direction == "received"
        ]
        assert replies[-1] == [] and sum(len(r) for r in replies) == len(GOLDEN)
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_tx_submission_with_an_empty_mempool_waits_without_closing() -> None:
    async def scenario() -> None:
        ours, theirs_pool = Mempool(), Mempool()
        scale = {"time_scale": 0.1}
        server, connection = await tcp_pair(
            {("tx-submission2", "responder"): tx_submission.inbound(theirs_pool)},
            {("tx-submission2", "initiator"): tx_submission.outbound(ours)},
            server=scale,
            initiator_only=True,
            **scale,
        )
        outbound = behaviour(connection, "tx-submission2", "initiator")
        assert await until(lambda: outbound.held is not None)
        await asyncio.sleep(1.2)  # 12 scaled seconds, past every 10 s limit: none applies to a held request
        assert not connection.closed.done() and not server.connections[0].closed.done()
        assert received(connection, "tx-submission2") == ["MsgRequestTxIds"]
        assert received(server.connections[0], "tx-submission2") == ["MsgInit"]
        ours.add(GOLDEN[0])  # the held request is answered once the mempool has something
        assert await until(lambda: len(theirs_pool) == 1)
        assert [t.tx for t in theirs_pool] == GOLDEN[:1]
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_keep_alive_and_peer_sharing_in_duplex() -> None:
    async def scenario() -> None:
        peers_a = [peer_sharing.address("10.0.0.1", 3001), peer_sharing.address("10.0.0.2", 3002)]
        peers_b = [peer_sharing.address("192.168.1.1", 6000)]

        def both(peers: list[dict[str, Any]]) -> Behaviours:
            return {
                ("keep-alive", "initiator"): keep_alive.client(0.01, rounds=3),
                ("keep-alive", "responder"): keep_alive.server(),
                ("peer-sharing", "initiator"): peer_sharing.client(5),
                ("peer-sharing", "responder"): peer_sharing.server(peers),
            }

        server, connection = await tcp_pair(both(peers_a), both(peers_b), server={"peer_sharing": 1}, peer_sharing=1)
        theirs = server.connections[0]
        assert connection.duplex and theirs.duplex
        for side in (connection, theirs):
            await finished(side, ("keep-alive", "initiator"), ("peer-sharing", "initiator"))
            assert behaviour(side, "keep-alive", "initiator").answers == 3
        assert await until(lambda: behaviour(theirs, "keep-alive", "responder").requests == 3)
        assert behaviour(connection, "keep-alive", "responder").requests == 3
        assert behaviour(connection, "peer-sharing", "initiator").received == peers_a
        assert behaviour(theirs, "peer-sharing", "initiator").received == peers_b
        modes = {(e.protocol, e.mode) for e in connection.transcript if e.kind == "sdu" and e.direction == "received"}
        assert {("keep-alive", 0), ("keep-alive", 1), ("peer-sharing", 0), ("peer-sharing", 1)} <= modes
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_twenty_initiators_follow_one_responder_at_once() -> None:
    async def scenario() -> None:
        chain = ChainStore.synthetic(200)
        server = await serve("127.0.0.1", 0, PeerConfig(behaviours=chain_server(chain)))
        following = follower(200, 10)
        connections = await asyncio.gather(
            *(
                connect("127.0.0.1", server.port, PeerConfig(behaviours=following, initiator_only=True))
                for _ in range(20)
            )
        )
        for connection in connections:
            await finished(connection, ("chain-sync", "initiator"), ("block-fetch", "initiator"), timeout=30)
            check_followed(connection, chain, 200)
            assert behaviour(connection, "block-fetch", "initiator").blocks == 200
        assert len(server.connections) == 20
        assert all(behaviour(c, "chain-sync", "responder").sent_forward == 200 for c in server.connections)
        await close(server, *connections)
        all_clean(server, *connections)

    run(scenario(), timeout=50)


# -- node-to-client over a Unix socket ---------------------------------------------------------------


def socket_path(tmp_path: Path) -> str:
    """A Unix socket in tmp_path, or in a shorter temporary folder when that path is too long."""
    path = tmp_path / "node.socket"
    if len(str(path)) < 100:
        return str(path)
    return str(Path(tempfile.mkdtemp(prefix="e2e")) / "node.socket")  # pragma: no cover


async def unix_pair(path: str, chain: ChainStore, mempool: Mempool, following: Behaviours) -> tuple[Server, Connection]:
    served = default_behaviours(N2C, "responder", chain=chain, mempool=mempool)
    server = await serve_unix(path, PeerConfig(mode=N2C, behaviours=served))
    connection = await connect_unix(path, PeerConfig(mode=N2C, behaviours=following))
    assert connection.negotiated is not None, connection.transcript
    return server, connection


def scripted(protocol: str, requests: Iterable[Message]) -> Behaviours:
    listed = list(requests)
    return {(protocol, "initiator"): lambda n: ScriptedClient(protocol, listed, n)}


def test_local_chain_sync_of_200_whole_blocks(tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = ChainStore.synthetic(200)
        following = {
            ("local-chain-sync", "initiator"): follow_chain(headers=200, depth=10)[("local-chain-sync", "initiator")]
        }
        server, connection = await unix_pair(socket_path(tmp_path), chain, Mempool(), following)
        await finished(connection, ("local-chain-sync", "initiator"))
        client = behaviour(connection, "local-chain-sync", "initiator")
        assert client.problems == [] and client.received == 200
        assert client.recent[-1].hash == chain.point(199).hash
        assert behaviour(server.connections[0], "local-chain-sync", "responder").sent_forward == 200
        assert received(connection, "local-chain-sync").count("MsgRollForward") == 200
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_local_tx_submission_accepts_then_rejects_a_duplicate(tmp_path: Path) -> None:
    async def scenario() -> None:
        mempool = Mempool()
        following = {
            ("local-tx-submission", "initiator"): lambda n: local_tx_submission.submit([*GOLDEN, GOLDEN[0]], n)
        }
        server, connection = await unix_pair(socket_path(tmp_path), ChainStore.synthetic(10), mempool, following)
        await finished(connection, ("local-tx-submission", "initiator"))
        assert received(connection, "local-tx-submission") == ["MsgAcceptTx"] * len(GOLDEN) + ["MsgRejectTx"]
        assert [t.tx for t in mempool] == GOLDEN
        theirs = behaviour(server.connections[0], "local-tx-submission", "responder")
        assert (theirs.accepted, theirs.rejected) == (len(GOLDEN), 1)
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def lsq(name: str, **fields: Any) -> Message:
    return Message("local-state-query", name, fields)


def test_local_state_query_at_the_tip_and_off_the_chain(tmp_path: Path) -> None:
    async def scenario() -> None:
        chain = ChainStore.synthetic(50)
        tip = chain.point(49)
        off_chain = {"slot": tip.slot, "hash": bytes(32)}
        requests = [
            lsq("MsgAcquireVolatileTip"),
            lsq("MsgQuery", query=bytes.fromhex("8103")),  # GetChainPoint
            lsq("MsgQuery", query=bytes.fromhex("8102")),  # GetChainBlockNo
            lsq("MsgRelease"),
            lsq("MsgAcquire", point=off_chain),
        ]
        server, connection = await unix_pair(
            socket_path(tmp_path), chain, Mempool(), scripted("local-state-query", requests)
        )
        await finished(connection, ("local-state-query", "initiator"))
        replies = behaviour(connection, "local-state-query", "initiator").replies
        assert [r.name for r in replies] == ["MsgAcquired", "MsgResult", "MsgResult", "MsgFailure"]
        point = decode_item(bytes(replies[1].fields["result"]))[0]
        assert ChainPoint(point[0], bytes(point[1])) == tip
        assert decode_item(bytes(replies[2].fields["result"]))[0] == [1, chain.block_no(49)]
        assert replies[3].fields["failure"] == POINT_NOT_ON_CHAIN
        assert await server_received(server, "local-state-query", ["MsgDone"])
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


GET_CURRENT_ERA = bytes.fromhex("820082028101")  # [0, [2, [1]]]: BlockQuery (QueryHardFork GetCurrentEra)


def test_local_state_query_answers_the_current_era_from_the_chain(tmp_path: Path) -> None:
    """The era index of the acquired block: 6 on a Conway chain, 5 on a Babbage one (not a constant)."""

    async def scenario(era: str) -> int:
        requests = [lsq("MsgAcquireVolatileTip"), lsq("MsgQuery", query=GET_CURRENT_ERA), lsq("MsgRelease")]
        folder = tmp_path / era
        folder.mkdir()
        server, connection = await unix_pair(
            socket_path(folder), ChainStore.synthetic(5, era=era), Mempool(), scripted("local-state-query", requests)
        )
        await finished(connection, ("local-state-query", "initiator"))
        replies = behaviour(connection, "local-state-query", "initiator").replies
        assert [r.name for r in replies] == ["MsgAcquired", "MsgResult"]
        await close(server, connection)
        all_clean(server, connection)
        return int(decode_item(bytes(replies[1].fields["result"]))[0])

    assert run(scenario("conway")) == 6
    assert run(scenario("babbage")) == 5


def test_a_query_the_peer_cannot_answer_closes_the_connection_instead_of_leaving_the_client_waiting(
    tmp_path: Path,
) -> None:
    """A block query needs a ledger the reference peer does not have: it says so and closes, as the node
    closes when it cannot go on; the client sees the close at once (found by an npm client that waited)."""

    async def scenario() -> None:
        get_epoch_no = bytes.fromhex("8200820082068101")  # [0, [0, [6, [1]]]]: QueryIfCurrent Conway GetEpochNo
        requests = [lsq("MsgAcquireVolatileTip"), lsq("MsgQuery", query=get_epoch_no)]
        server, connection = await unix_pair(
            socket_path(tmp_path), ChainStore.synthetic(5), Mempool(), scripted("local-state-query", requests)
        )
        assert await until(lambda: connection.closed.done(), timeout=10.0), "the client was left waiting"
        assert await until(lambda: server.connections[0].closed.done(), timeout=5.0)
        info = server.connections[0].closed.result()
        assert info.by == "local" and "needs a ledger" in info.reason, info
        assert connection.closed.result().by == "remote"
        assert connection.violations == [] and server.connections[0].violations == []  # nobody broke a rule
        await close(server, connection)

    run(scenario())


def ltm(name: str, **fields: Any) -> Message:
    return Message("local-tx-monitor", name, fields)


def test_local_tx_monitor_walks_the_mempool(tmp_path: Path) -> None:
    async def scenario() -> None:
        held, outsider = GOLDEN[:-1], next(iter(Mempool(GOLDEN[-1:])))
        mempool = Mempool(held)
        first = next(iter(mempool))
        requests = [
            ltm("MsgAcquire"),
            *[ltm("MsgNextTx")] * (len(held) + 1),
            ltm("MsgHasTx", txid=first.txid),
            ltm("MsgHasTx", txid=outsider.txid),
            ltm("MsgGetSizes"),
            ltm("MsgRelease"),
        ]
        server, connection = await unix_pair(
            socket_path(tmp_path), ChainStore.synthetic(10), mempool, scripted("local-tx-monitor", requests)
        )
        await finished(connection, ("local-tx-monitor", "initiator"))
        replies = behaviour(connection, "local-tx-monitor", "initiator").replies
        assert replies[0].name == "MsgAcquired"
        n = len(held)
        assert [r.fields["tx"] for r in replies[1 : n + 2]] == [*held, None]  # in mempool order, then none
        assert [r.fields["has"] for r in replies[n + 2 : n + 4]] == [True, False]
        sizes = dict(replies[n + 4].fields["sizes"])
        assert sizes["count"] == n and sizes["size"] == sum(t.size for t in mempool)
        assert sizes["capacity"] == mempool.capacity
        assert await server_received(server, "local-tx-monitor", ["MsgRelease", "MsgDone"])
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


# -- the whole default stacks at once ----------------------------------------------------------------


def test_the_default_node_stacks_in_duplex_run_every_protocol_at_once() -> None:
    """What `connect` and `serve` run, on one duplex connection: both sides follow nothing they were not
    asked to, exchange keep-alives and peers both ways, and offer their mempools to each other."""

    async def scenario() -> None:
        served_chain, ours_pool, theirs_pool = ChainStore.synthetic(300), Mempool(GOLDEN), Mempool()
        served = default_behaviours(N2N, "responder", chain=served_chain, mempool=theirs_pool, keep_alive_interval=0.05)
        following = default_behaviours(
            N2N, "initiator", chain=ChainStore.synthetic(20), mempool=ours_pool, headers=300, depth=10
        )
        server, connection = await tcp_pair(served, following, server={"peer_sharing": 1}, peer_sharing=1)
        theirs = server.connections[0]
        assert connection.duplex
        await finished(
            connection, ("chain-sync", "initiator"), ("block-fetch", "initiator"), ("peer-sharing", "initiator")
        )
        check_followed(connection, served_chain, 300)
        assert await until(lambda: [t.txid for t in theirs_pool] == [t.txid for t in ours_pool])
        assert await until(lambda: behaviour(theirs, "keep-alive", "initiator").answers >= 2)
        assert behaviour(connection, "keep-alive", "initiator").answers >= 1
        # the responder offers its mempool back: every id is already known, so no body moves back
        offering = behaviour(theirs, "tx-submission2", "initiator")
        assert await until(lambda: offering.last_ticket == len(GOLDEN))  # every id announced back to us
        pulling = behaviour(connection, "tx-submission2", "responder")
        assert await until(lambda: pulling.unacked == deque() and pulling.asked_ids > 0)
        assert (pulling.received, pulling.refused, offering.sent_txs) == (0, 0, 0)
        assert [t.tx for t in ours_pool] == GOLDEN
        sent = {(e.protocol, e.mode) for e in connection.transcript if e.kind == "sdu" and e.direction == "sent"}
        assert {("chain-sync", 0), ("block-fetch", 0), ("tx-submission2", 0), ("tx-submission2", 1)} <= sent
        assert {("keep-alive", 0), ("keep-alive", 1), ("peer-sharing", 0)} <= sent
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())


def test_every_node_to_client_protocol_on_one_unix_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        chain, mempool = ChainStore.synthetic(60), Mempool(GOLDEN[:2])
        following: dict[tuple[str, str], BehaviourFactory] = {
            **scripted(
                "local-state-query",
                [lsq("MsgAcquireVolatileTip"), lsq("MsgQuery", query=bytes.fromhex("8102")), lsq("MsgRelease")],
            ),
            **scripted("local-tx-monitor", [ltm("MsgAcquire"), ltm("MsgGetSizes"), ltm("MsgRelease")]),
            ("local-tx-submission", "initiator"): lambda n: local_tx_submission.submit(GOLDEN[2:4], n),
            ("local-chain-sync", "initiator"): follow_chain(headers=60, depth=5)[("local-chain-sync", "initiator")],
        }
        server, connection = await unix_pair(socket_path(tmp_path), chain, mempool, following)
        await finished(connection, *following)
        assert behaviour(connection, "local-chain-sync", "initiator").received == 60
        assert [r.name for r in behaviour(connection, "local-state-query", "initiator").replies] == [
            "MsgAcquired",
            "MsgResult",
        ]
        assert [r.name for r in behaviour(connection, "local-tx-monitor", "initiator").replies] == [
            "MsgAcquired",
            "MsgReplyGetSizes",
        ]
        assert received(connection, "local-tx-submission") == ["MsgAcceptTx"] * 2
        assert [t.tx for t in mempool] == GOLDEN[:4]
        await close(server, connection)
        all_clean(server, connection)

    run(scenario())
