"""The chain behaviours as (protocol, side) -> factory mappings, for `PeerConfig.behaviours`.

`serve_chain` gives the responder sides that serve one shared `ChainStore` (chain-sync and block-fetch
node-to-node, local chain-sync node-to-client). `follow_chain` gives the initiator sides that follow a
chain and fetch its blocks; the two share one `Followed` queue per connection, found by the identity of
the `Negotiated` value the connection hands to every factory of that connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .agent import BehaviourFactory, Negotiated
from .block_fetch import BlockFetchClient, BlockFetchServer
from .chain import ChainStore
from .chain_sync import ChainSyncClient, ChainSyncServer, Followed
from .local_chain_sync import LocalChainSyncClient, LocalChainSyncServer

Roles = Mapping[tuple[str, str], BehaviourFactory]


def serve_chain(chain: ChainStore, **server: Any) -> Roles:
    """Responders serving `chain` on every connection; `server` options go to the chain-sync servers
    (`grow_every`, `poll_every`)."""
    return {
        ("chain-sync", "responder"): lambda n: ChainSyncServer(chain, n, **server),
        ("block-fetch", "responder"): lambda n: BlockFetchServer(chain, n),
        ("local-chain-sync", "responder"): lambda n: LocalChainSyncServer(chain, n, **server),
    }


class _PerConnection:
    """One `Followed` per connection, keyed by the identity of the connection's `Negotiated` value and
    handed out twice (to its chain-sync client, then to its block-fetch client, in either order), then
    forgotten, so an identity reused by a later connection gets a new queue."""

    def __init__(self) -> None:
        self._pending: dict[int, tuple[Negotiated, Followed]] = {}

    def __call__(self, negotiated: Negotiated) -> Followed:
        key = id(negotiated)
        pending = self._pending.pop(key, None)
        if pending is not None and pending[0] is negotiated:
            return pending[1]
        queue = Followed()
        self._pending[key] = (negotiated, queue)  # holding `negotiated` keeps its identity unique meanwhile
        return queue


FETCH_IN_FLIGHT = 2
"""Ranges a follower's block-fetch client keeps requested at once (the node pipelines its requests too)."""


def follow_chain(
    *, headers: int | None = None, depth: int = 1, range_size: int = 100, fetch: bool = True, **client: Any
) -> Roles:
    """Initiators that follow a chain for `headers` headers (None: to the tip) with `depth` requests in
    flight and, with `fetch`, fetch the followed blocks in ranges of `range_size`."""
    followed = _PerConnection()

    def chain_sync(negotiated: Negotiated) -> ChainSyncClient:
        queue = followed(negotiated) if fetch else None
        return ChainSyncClient(negotiated, headers=headers, depth=depth, followed=queue, **client)

    roles: dict[tuple[str, str], BehaviourFactory] = {
        ("chain-sync", "initiator"): chain_sync,
        ("local-chain-sync", "initiator"): lambda n: LocalChainSyncClient(n, headers=headers, depth=depth, **client),
    }
    if fetch:
        roles[("block-fetch", "initiator")] = lambda n: BlockFetchClient(
            followed(n), n, range_size=range_size, in_flight=FETCH_IN_FLIGHT
        )
    return roles
