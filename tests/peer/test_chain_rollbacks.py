"""Rollbacks and growth at any moment, while a client follows with pipelining and fetches blocks: the
sessions see no violation, the client sees no broken hash or link, and it ends at the tip it was told."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance.peer.block_fetch import BlockFetchClient, BlockFetchServer
from conformance.peer.chain import ChainStore, as_point
from conformance.peer.chain_sync import ChainSyncClient, ChainSyncServer, Followed
from conformance.peer.wire_loop import WireLoop

EVENTS = st.lists(
    st.tuples(st.sampled_from(["run", "rollback", "extend"]), st.integers(min_value=0, max_value=25)),
    max_size=12,
)


@given(events=EVENTS, depth=st.sampled_from([1, 3, 10]), range_size=st.sampled_from([1, 4, 16]))
def test_following_through_rollbacks_and_growth(events: list[tuple[str, int]], depth: int, range_size: int) -> None:
    chain = ChainStore.synthetic(30)
    loop = WireLoop(14)
    followed = Followed()
    client = ChainSyncClient(headers=None, depth=depth, followed=followed)
    server = ChainSyncServer(chain, poll_every=1.0)
    link = loop.link(client, server)
    fetcher = BlockFetchClient(followed, range_size=range_size)
    loop.link(fetcher, BlockFetchServer(chain))
    for event, n in events:
        if client.finished:
            break
        if event == "run":
            loop.run(max_steps=n * 3)
        elif event == "rollback":
            loop.act(link, "responder", server.rollback(n))
        else:
            chain.extend(n)
    chain.extend(depth)  # requests in flight past a shrunk tip are answered once the chain grows back
    loop.run(max_steps=200_000)
    assert loop.violations == []
    assert client.problems == [] and fetcher.problems == []
    assert client.finished and fetcher.finished
    tip = as_point(client.tip["point"]) if client.tip is not None else None
    if tip is not None:
        assert client.recent and client.recent[-1].hash == tip.hash
