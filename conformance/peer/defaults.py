"""The one registry of behaviour factories the CLI's `serve` and `connect` use, by (protocol, side).

A node-like peer serves its chain (chain-sync, block-fetch, local chain-sync), keeps a mempool that
tx-submission2 and the node-to-client protocols share, answers keep-alive and peer-sharing, and, as the
connection's initiator, follows the remote's chain for `headers` headers when asked. A negotiated
protocol without a behaviour is still validated, and its messages are recorded, not answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import keep_alive, local_state_query, local_tx_monitor, local_tx_submission, peer_sharing, tx_submission
from .agent import BehaviourFactory
from .chain import ChainStore
from .chain_roles import follow_chain, serve_chain
from .chain_view import StoreView
from .handshake import N2N
from .mempool import Mempool

DEFAULT_CHAIN_LENGTH = 1_000
"""Blocks in the synthetic chain a peer serves when it is given none."""


def default_behaviours(
    mode: str,
    role: str,
    *,
    chain: ChainStore | None = None,
    mempool: Mempool | None = None,
    peers: Sequence[dict[str, Any]] = (),
    keep_alive_interval: float = keep_alive.NODE_INTERVAL,
    headers: int = 0,
    depth: int = 1,
    **options: Any,
) -> dict[tuple[str, str], BehaviourFactory]:
    """Every behaviour a node-like peer runs in `mode`; `role` is the connection role (initiator or
    responder): both sides are listed where duplex can run them. `chain` defaults to a synthetic chain
    of DEFAULT_CHAIN_LENGTH blocks and `mempool` to one holding the chain's transactions; as initiator
    the peer follows `headers` headers (0: none) with `depth` requests in flight and fetches their
    blocks. `options` go to the chain-sync servers (`grow_every`, `poll_every`)."""
    chain = chain if chain is not None else ChainStore.synthetic(DEFAULT_CHAIN_LENGTH)
    mempool = mempool if mempool is not None else Mempool(chain.transactions())
    behaviours: dict[tuple[str, str], BehaviourFactory] = {}
    if mode == N2N:
        behaviours[("keep-alive", "initiator")] = keep_alive.client(keep_alive_interval)
        behaviours[("keep-alive", "responder")] = keep_alive.server()
        behaviours[("peer-sharing", "responder")] = peer_sharing.server(peers)
        behaviours[("tx-submission2", "responder")] = tx_submission.inbound(mempool)
        behaviours[("tx-submission2", "initiator")] = tx_submission.outbound(mempool)
        behaviours.update(
            {key: factory for key, factory in serve_chain(chain, **options).items() if key[0] != "local-chain-sync"}
        )
        if role == "initiator":
            behaviours[("peer-sharing", "initiator")] = peer_sharing.client()
            if headers > 0:
                follow = follow_chain(headers=headers, depth=depth)
                behaviours.update({key: factory for key, factory in follow.items() if key[0] != "local-chain-sync"})
    else:
        behaviours[("local-chain-sync", "responder")] = serve_chain(chain, **options)[("local-chain-sync", "responder")]
        behaviours[("local-tx-submission", "responder")] = local_tx_submission.server(mempool)
        behaviours[("local-state-query", "responder")] = local_state_query.server(StoreView(chain))
        behaviours[("local-tx-monitor", "responder")] = local_tx_monitor.server(mempool)
        if role == "initiator" and headers > 0:
            behaviours[("local-chain-sync", "initiator")] = follow_chain(headers=headers, depth=depth)[
                ("local-chain-sync", "initiator")
            ]
    return behaviours
