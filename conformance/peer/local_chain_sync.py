"""Local chain-sync (node-to-client): the chain-sync behaviours with whole blocks in MsgRollForward.

The wire layer declares the node-to-client payload as the block content in tag 24,
`#6.24([blockEraTag, block])`; the server sends `ChainStore.block(i)` there and the client checks each
block as the node-to-node client checks headers (hash, link, number, slot), plus its body against the
body hash and size its header announces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .agent import Negotiated
from .chain import BlockInfo, ChainStore, read_block
from .chain_sync import ChainSyncClient, ChainSyncServer


class LocalChainSyncServer(ChainSyncServer):
    """Serves whole blocks to a local client (see `ChainSyncServer` for intersections, rollbacks, the tip)."""

    protocol = "local-chain-sync"
    payload = "block"

    def payload_at(self, index: int) -> Any:
        return self.chain.block(index)


class LocalChainSyncClient(ChainSyncClient):
    """Follows whole blocks (see `ChainSyncClient`); each block's body is checked against its header."""

    protocol = "local-chain-sync"
    payload = "block"
    _body_problem: str | None = None

    def info_of(self, payload: Any) -> BlockInfo:
        info, self._body_problem = read_block(bytes(payload))
        return info

    def check_payload(self, payload: Any, info: BlockInfo) -> None:
        problem, self._body_problem = self._body_problem, None
        if problem is not None:
            self._problem("body", f"block {info.block_no} at slot {info.slot}: {problem}")


def local_chain_sync_server(chain: ChainStore, **options: Any) -> Callable[[Negotiated], LocalChainSyncServer]:
    """A `BehaviourFactory`: one server per local connection, all serving `chain`."""
    return lambda negotiated: LocalChainSyncServer(chain, negotiated, **options)


def local_chain_sync_client(**options: Any) -> Callable[[Negotiated], LocalChainSyncClient]:
    """A `BehaviourFactory` for a local client following whole blocks."""
    return lambda negotiated: LocalChainSyncClient(negotiated, **options)
