"""Chain-sync, block-fetch and local chain-sync behaviours against each other through real bytes: every
message goes through wire.encode, a Session of its protocol (no violation allowed) and wire.decode."""

from __future__ import annotations

import pytest

from conformance import wire
from conformance.peer.block_fetch import BlockFetchClient, BlockFetchServer
from conformance.peer.chain import ChainFault, ChainStore, point_fields
from conformance.peer.chain_sync import ChainSyncClient, ChainSyncServer, Followed, intersection_points
from conformance.peer.local_chain_sync import LocalChainSyncClient, LocalChainSyncServer
from conformance.peer.wire_loop import WireLoop
from conformance.wire.message import Message

N2N = 14
N2C = 16 | 0x8000


def follow(
    chain: ChainStore,
    *,
    headers: int | None,
    depth: int = 1,
    fetch: bool = True,
    range_size: int = 50,
    **server: object,
) -> tuple[WireLoop, ChainSyncClient, BlockFetchClient | None]:
    loop = WireLoop(N2N)
    followed = Followed()
    client = ChainSyncClient(headers=headers, depth=depth, followed=followed if fetch else None)
    loop.link(client, ChainSyncServer(chain, **server))  # type: ignore[arg-type]
    fetcher = None
    if fetch:
        fetcher = BlockFetchClient(followed, range_size=range_size)
        loop.link(fetcher, BlockFetchServer(chain))
    loop.run()
    return loop, client, fetcher


def finished(loop: WireLoop) -> bool:
    return all(link.finished == {"initiator", "responder"} and link.session.done for link in loop.links)


@pytest.mark.parametrize("depth", [1, 10, 100])
def test_follow_and_fetch_at_each_pipelining_depth(depth: int) -> None:
    chain = ChainStore.synthetic(1_500)
    loop, client, fetcher = follow(chain, headers=1_500, depth=depth)
    assert loop.violations == []
    assert client.problems == [] and fetcher is not None and fetcher.problems == []
    assert client.received == 1_500 and fetcher.blocks == 1_500
    assert client.recent[-1].hash == chain.point(1_499).hash
    assert finished(loop)


def test_follow_ten_thousand_headers_at_depth_100() -> None:
    chain = ChainStore.synthetic(10_000)
    loop, client, _ = follow(chain, headers=None, depth=100, fetch=False)
    assert loop.violations == [] and client.problems == []
    assert client.received == 10_000 and finished(loop)
    assert loop.links[0].session.history  # the session saw the traffic


@pytest.mark.slow
@pytest.mark.parametrize("depth", [1, 10, 100])
def test_follow_and_fetch_ten_thousand_at_each_depth(depth: int) -> None:
    chain = ChainStore.synthetic(10_000)
    loop, client, fetcher = follow(chain, headers=10_000, depth=depth)
    assert loop.violations == [] and client.problems == [] and fetcher is not None and fetcher.problems == []
    assert fetcher.blocks == 10_000


@pytest.mark.parametrize("kind", ["link", "hash", "number", "slot"])
@pytest.mark.parametrize("at", [37, 199])
def test_a_faulty_chain_is_caught_by_the_header_checks(kind: str, at: int) -> None:
    chain = ChainStore.synthetic(200, fault=ChainFault(kind, at))
    loop, client, _ = follow(chain, headers=200, depth=10, fetch=False)
    assert loop.violations == []  # a wrong chain of headers breaks no chain-sync rule
    assert [p.kind for p in client.problems] in (["hash"], ["link"], ["number"], ["slot"])
    assert client.problems[0].at in (at + 1, at + 2)


def test_a_broken_link_in_a_batch_is_also_a_block_fetch_violation() -> None:
    chain = ChainStore.synthetic(100, fault=ChainFault("link", 37))
    loop, client, fetcher = follow(chain, headers=100, depth=10)
    assert [p.kind for p in client.problems] == ["link"]
    assert [v.requirement for v in loop.violations] == ["BF-ORDER-01"]  # type: ignore[attr-defined]


def test_a_wrong_body_is_caught_by_the_block_fetch_client() -> None:
    chain = ChainStore.synthetic(120, fault=ChainFault("body", 77))
    loop, client, fetcher = follow(chain, headers=120, depth=5)
    assert loop.violations == [] and client.problems == []
    assert fetcher is not None and [p.kind for p in fetcher.problems] == ["body"]


def test_a_range_from_a_header_with_a_wrong_hash_comes_back_empty() -> None:
    chain = ChainStore.synthetic(120, fault=ChainFault("hash", 60))
    _, _, fetcher = follow(chain, headers=120, depth=5, range_size=30)  # a range starts at block 60
    assert fetcher is not None and fetcher.not_served == 30 and fetcher.blocks == 90


def test_intersection_from_a_known_fork_rolls_back_to_the_fork_point() -> None:
    served = ChainStore.synthetic(100)
    known = ChainStore.synthetic(100)
    known.rollback(59)
    known.extend(10)  # a fork after block 59
    loop = WireLoop(N2N)
    client = ChainSyncClient(headers=40, depth=3, known=known)
    link = loop.link(client, ChainSyncServer(served))
    loop.run()
    assert loop.violations == [] and client.problems == []
    assert client.intersection == served.point(54)  # points 69, 68, 66, 62 are on the fork; 54 is not
    names = [observed.message.name for observed in link.session.history]
    assert names[:3] == ["MsgFindIntersect", "MsgIntersectFound", "MsgRequestNext"]
    assert "MsgRollBackward" in names[3:8] and names[-1] == "MsgDone"
    assert client.recent[-1].hash == served.point(94).hash


def test_intersection_points_back_off_exponentially() -> None:
    chain = ChainStore.synthetic(20)
    points = intersection_points(chain)
    assert points[:5] == [chain.point(i) for i in (19, 18, 16, 12, 4)] and points[-1] is None
    assert intersection_points(None) == [None]


def test_the_tip_grows_on_a_timer_after_await_reply() -> None:
    chain = ChainStore.synthetic(10)
    loop = WireLoop(N2N)
    client = ChainSyncClient(headers=15, depth=2)
    link = loop.link(client, ChainSyncServer(chain, grow_every=20.0))
    loop.run()
    names = [observed.message.name for observed in link.session.history]
    assert loop.violations == [] and client.problems == [] and client.received == 15
    assert "MsgAwaitReply" in names and len(chain) >= 15
    assert loop.clock.now() >= 100.0  # five blocks, twenty virtual seconds each


def test_a_tip_grown_by_someone_else_is_seen_by_polling() -> None:
    chain = ChainStore.synthetic(5)
    loop = WireLoop(N2N)
    client = ChainSyncClient(headers=7, depth=1)
    loop.link(client, ChainSyncServer(chain, poll_every=1.0))
    loop.run(until=3.0)
    assert client.received == 5 and not client.finished
    chain.extend(2)
    loop.run()
    assert client.received == 7 and client.finished and loop.violations == []


def test_rollback_on_request_reaches_a_waiting_client() -> None:
    chain = ChainStore.synthetic(30)
    loop = WireLoop(N2N)
    client = ChainSyncClient(headers=40, depth=4)
    server = ChainSyncServer(chain, grow_every=5.0)
    link = loop.link(client, server)
    loop.run(until=12.0)
    assert server.awaiting and len(chain) == 32
    loop.act(link, "responder", server.rollback(5))
    loop.run()
    assert loop.violations == [] and client.problems == [] and client.rollbacks == 2
    assert client.recent[-1].hash == chain.point(len(chain) - 1).hash or client.received == 40


def test_rollback_while_the_client_reads_behind_the_tip() -> None:
    chain = ChainStore.synthetic(60)
    loop = WireLoop(N2N)
    client = ChainSyncClient(headers=None, depth=1)
    server = ChainSyncServer(chain)
    loop.link(client, server)
    loop.run(max_steps=41)
    assert 15 <= server.cursor < 25
    server.rollback(50)  # to block 9, below what the client read: it is rolled back at its next request
    chain.extend(50)
    loop.run()
    assert loop.violations == [] and client.problems == [] and client.rollbacks == 2
    assert client.recent[-1].hash == chain.point(59).hash


def test_block_fetch_server_says_no_blocks_for_a_range_off_the_chain() -> None:
    chain = ChainStore.synthetic(5)
    server = BlockFetchServer(chain)
    other = ChainStore.synthetic(5, seed=b"another chain")
    request = Message(
        "block-fetch",
        "MsgRequestRange",
        {"from_point": point_fields(other.point(1)), "to_point": point_fields(chain.point(3))},
    )
    decoded = wire.decode("block-fetch", wire.encode(request))
    [send] = server.on_message(decoded)
    assert send.message.name == "MsgNoBlocks"  # type: ignore[union-attr]
    good = Message(
        "block-fetch",
        "MsgRequestRange",
        {"from_point": point_fields(chain.point(1)), "to_point": point_fields(chain.point(3))},
    )
    names = [a.message.name for a in server.on_message(wire.decode("block-fetch", wire.encode(good)))]  # type: ignore[union-attr]
    assert names == ["MsgStartBatch", "MsgBlock", "MsgBlock", "MsgBlock", "MsgBatchDone"]


@pytest.mark.parametrize("depth", [1, 10])
def test_local_chain_sync_serves_whole_blocks(depth: int) -> None:
    chain = ChainStore.synthetic(300)
    loop = WireLoop(N2C)
    client = LocalChainSyncClient(headers=None, depth=depth)
    link = loop.link(client, LocalChainSyncServer(chain))
    loop.run()
    assert loop.violations == [] and client.problems == [] and client.received == 300
    forward = next(o.message for o in link.session.history if o.message.name == "MsgRollForward")
    assert bytes(forward.fields["block"]) == chain.block(0)
    assert finished(loop)


@pytest.mark.parametrize("kind", ["body", "link"])
def test_local_chain_sync_client_catches_a_faulty_block(kind: str) -> None:
    chain = ChainStore.synthetic(50, fault=ChainFault(kind, 20))
    loop = WireLoop(N2C)
    client = LocalChainSyncClient(headers=50, depth=4)
    loop.link(client, LocalChainSyncServer(chain))
    loop.run()
    assert loop.violations == [] and [p.kind for p in client.problems] == [kind]


def test_a_real_block_chain_is_served_and_followed() -> None:
    from conformance.vectors import load_vectors

    real = next(v.data for v in load_vectors() if v.id == "blk-pallas-babbage1-block")
    chain = ChainStore.from_blocks([real], era="babbage")
    chain.extend(20)
    loop, client, fetcher = follow(chain, headers=21, depth=3, range_size=7)
    assert loop.violations == [] and client.problems == [] and fetcher is not None and fetcher.problems == []
    assert fetcher.blocks == 21


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError):
        ChainSyncClient(depth=0)
    with pytest.raises(ValueError):
        BlockFetchClient(Followed(), range_size=0)


def test_role_factories_share_one_followed_queue_per_connection() -> None:
    from conformance.peer.agent import Negotiated
    from conformance.peer.chain_roles import follow_chain, serve_chain

    chain = ChainStore.synthetic(250)
    served, following = serve_chain(chain), follow_chain(headers=250, depth=7, range_size=60)
    for negotiated in (Negotiated("node-to-node", N2N), Negotiated("node-to-node", N2N)):  # two connections
        loop = WireLoop(N2N)
        client = following[("chain-sync", "initiator")](negotiated)
        fetcher = following[("block-fetch", "initiator")](negotiated)
        loop.link(client, served[("chain-sync", "responder")](negotiated))
        loop.link(fetcher, served[("block-fetch", "responder")](negotiated))
        loop.run()
        assert loop.violations == [] and finished(loop)
        assert fetcher.blocks == 250 and fetcher.problems == []  # type: ignore[attr-defined]


def test_a_find_intersect_pipelined_behind_an_awaited_request_is_answered_in_order() -> None:
    from conformance.protocol import FakeClock, Session

    chain = ChainStore.synthetic(1)
    server = ChainSyncServer(chain, poll_every=1.0)
    session = Session("chain-sync", N2N, FakeClock(), on_violation="record")
    replies: list[str] = []

    def exchange(actions: object) -> None:
        for action in actions:  # type: ignore[attr-defined]
            if hasattr(action, "message"):
                data = wire.encode(action.message)
                session.observe("responder", data)
                replies.append(wire.decode("chain-sync", data, version=N2N).name)

    def request(message: Message) -> None:
        data = wire.encode(message)
        session.observe("initiator", data)
        exchange(server.on_message(wire.decode("chain-sync", data, version=N2N)))

    for _ in range(3):
        request(Message("chain-sync", "MsgRequestNext"))
    request(Message("chain-sync", "MsgFindIntersect", {"points": [point_fields(chain.point(0))]}))
    assert replies == ["MsgRollBackward", "MsgRollForward", "MsgAwaitReply"]
    chain.extend(1)
    exchange(server.on_timer("poll"))
    assert replies[3:] == ["MsgRollForward", "MsgIntersectFound"]
    assert session.violations == [] and session.state == "StIdle"


@pytest.mark.parametrize("start", ["genesis", "real"])
def test_following_to_the_tip_from_an_intersection_stops_at_the_tip(start: str) -> None:
    from conformance.vectors import load_vectors

    if start == "real":  # block numbers start far from 0
        chain = ChainStore.from_blocks([next(v.data for v in load_vectors() if v.id == "blk-yaci-conway")])
        chain.extend(79)
    else:
        chain = ChainStore.synthetic(80)
    for known, expected in ((None, 80), ([chain.point(30)], 49), ([chain.point(79)], 0)):
        loop = WireLoop(N2N)
        client = ChainSyncClient(headers=None, depth=10, known=known)
        loop.link(client, ChainSyncServer(chain))
        loop.run()
        assert loop.violations == [] and client.problems == [] and client.finished
        assert client.received == expected


def test_a_real_byron_chain_is_served_with_byron_header_envelopes() -> None:
    from conformance.vectors import load_vectors

    vectors = {v.id: v.data for v in load_vectors()}
    chain = ChainStore.from_blocks(
        [vectors["blk-harmonic-preprod-byron-ebb"], vectors["blk-harmonic-preprod-byron-main"]]
    )  # preprod's first epoch boundary block and the main block after it: a real two-block chain
    loop, client, fetcher = follow(chain, headers=None, depth=2, range_size=2)
    assert loop.violations == [] and client.problems == [] and fetcher is not None and fetcher.problems == []
    assert client.received == 2 and fetcher.blocks == 2
    forwards = [o.message for o in loop.links[0].session.history if o.message.name == "MsgRollForward"]
    assert [(f.fields["header"]["era"], f.fields["header"]["byron_variant"]) for f in forwards] == [(0, 0), (0, 1)]


def test_an_intersection_off_the_chain_is_not_found() -> None:
    chain = ChainStore.synthetic(3)
    stranger = ChainStore.synthetic(3, seed=b"elsewhere")
    server = ChainSyncServer(chain)
    request = Message("chain-sync", "MsgFindIntersect", {"points": [point_fields(stranger.point(2))]})
    [reply] = server.on_message(wire.decode("chain-sync", wire.encode(request)))
    message = wire.decode("chain-sync", wire.encode(reply.message))  # type: ignore[union-attr]
    assert message.name == "MsgIntersectNotFound"
    assert message.fields["tip"] == {"point": point_fields(chain.point(2)), "block_no": 2}
