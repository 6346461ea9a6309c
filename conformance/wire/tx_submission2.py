"""TxSubmission2 (N2N mini-protocol 4). Its lists are indefinite-length only, even when empty.

The mini-protocol exists from node-to-node v6. Tx ids and transactions are the Cardano GenTxId
`[era, id]` and GenTx `[era, #6.24(tx)]` (Byron `[0, [kind, ...]]`), as the node's HardFork codec
requires; their exact bytes are kept.
"""

from __future__ import annotations

from .codec import Codec, MessageType
from .common import Tx, TxId
from .schema import Bool, ListOf, Record, Uint

TX_SUBMISSION2 = Codec(
    "tx-submission2",
    4,
    [
        MessageType("MsgInit", 6, states=["StInit"]),
        MessageType("MsgRequestTxIds", 0, "blocking" / Bool(), "ack" / Uint(16), "req" / Uint(16), states=["StIdle"]),
        MessageType(
            "MsgReplyTxIds",
            1,
            "txids" / ListOf(Record("txid" / TxId, "size" / Uint(32)), form="indefinite"),
            states=["StTxIdsBlocking", "StTxIdsNonBlocking"],
        ),
        MessageType("MsgRequestTxs", 2, "txids" / ListOf(TxId, form="indefinite"), states=["StIdle"]),
        MessageType("MsgReplyTxs", 3, "txs" / ListOf(Tx, form="indefinite"), states=["StTxs"]),
        MessageType("MsgDone", 4, states=["StTxIdsBlocking"]),
    ],
    since=6,
)
