"""The one registry of behaviour factories the CLI's `serve` and `connect` use, by (protocol, side).

The other behaviours (chain-sync, block-fetch, tx-submission2, node-to-client) plug in here; a
negotiated protocol without a behaviour is still validated, and its messages are recorded, not answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import keep_alive, peer_sharing
from .agent import BehaviourFactory
from .handshake import N2N


def default_behaviours(
    mode: str,
    role: str,
    *,
    chain: Any = None,
    mempool: Any = None,
    peers: Sequence[dict[str, Any]] = (),
    keep_alive_interval: float = keep_alive.NODE_INTERVAL,
    **options: Any,
) -> dict[tuple[str, str], BehaviourFactory]:
    """Every behaviour a node-like peer runs in `mode`; `role` is the connection role (initiator or
    responder): both sides are listed where duplex can run them. `options` carries what the CLI knows
    for the behaviours plugged in later (e.g. `headers`: how many headers `connect` follows)."""
    behaviours: dict[tuple[str, str], BehaviourFactory] = {}
    if mode == N2N:
        behaviours[("keep-alive", "initiator")] = keep_alive.client(keep_alive_interval)
        behaviours[("keep-alive", "responder")] = keep_alive.server()
        behaviours[("peer-sharing", "responder")] = peer_sharing.server(peers)
        if role == "initiator":
            behaviours[("peer-sharing", "initiator")] = peer_sharing.client()
    return behaviours
