"""Every mini-protocol table by the name the wire layer uses."""

from __future__ import annotations

from .block_fetch import BLOCK_FETCH
from .chain_sync import CHAIN_SYNC, LOCAL_CHAIN_SYNC
from .handshake import HANDSHAKE, N2C_HANDSHAKE
from .keep_alive import KEEP_ALIVE
from .local import LOCAL_STATE_QUERY, LOCAL_TX_MONITOR, LOCAL_TX_SUBMISSION
from .peer_sharing import PEER_SHARING
from .table import ProtocolTable
from .tx_submission2 import TX_SUBMISSION2

TABLES: dict[str, ProtocolTable] = {
    table.name: table
    for table in (
        HANDSHAKE,
        CHAIN_SYNC,
        BLOCK_FETCH,
        TX_SUBMISSION2,
        KEEP_ALIVE,
        PEER_SHARING,
        N2C_HANDSHAKE,
        LOCAL_CHAIN_SYNC,
        LOCAL_TX_SUBMISSION,
        LOCAL_STATE_QUERY,
        LOCAL_TX_MONITOR,
    )
}
