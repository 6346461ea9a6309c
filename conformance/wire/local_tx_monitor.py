"""LocalTxMonitor (N2C mini-protocol 9). Tag 1 is MsgAcquire in StIdle and MsgAwaitAcquire in StAcquired.

The mini-protocol exists from node-to-client v12; MsgGetMeasures and MsgReplyGetMeasures from v20
(LocalTxMonitor_V2: the node's encoder refuses them before, its decoder does not look). Transactions and
tx ids are the Cardano GenTx / GenTxId, as in LocalTxSubmission and TxSubmission2.
"""

from __future__ import annotations

from .codec import Codec, MessageType
from .common import SlotNo, Tx, TxId
from .handshake import N2C_VERSION_BIT
from .schema import Bool, Int, MapOf, OptionalTail, Record, Text, Uint

_BUSY = ("StBusyNextTx", "StBusyHasTx", "StBusyGetSizes", "StBusyGetMeasures")
MEASURES_SINCE = 20
"""Node-to-client version from which MsgGetMeasures / MsgReplyGetMeasures exist."""

LOCAL_TX_MONITOR = Codec(
    "local-tx-monitor",
    9,
    [
        MessageType("MsgDone", 0, states=["StIdle"]),
        MessageType("MsgAcquire", 1, states=["StIdle"]),
        MessageType("MsgAwaitAcquire", 1, states=["StAcquired"]),
        MessageType("MsgAcquired", 2, "slot" / SlotNo, states=["StAcquiring"]),
        MessageType("MsgRelease", 3, states=["StAcquired"]),
        MessageType("MsgNextTx", 5, states=["StAcquired"]),
        MessageType("MsgReplyNextTx", 6, "tx" / OptionalTail(Tx), states=[_BUSY[0]]),
        MessageType("MsgHasTx", 7, "txid" / TxId, states=["StAcquired"]),
        MessageType("MsgReplyHasTx", 8, "has" / Bool(), states=[_BUSY[1]]),
        MessageType("MsgGetSizes", 9, states=["StAcquired"]),
        MessageType(
            "MsgReplyGetSizes",
            10,
            "sizes" / Record("capacity" / Uint(32), "size" / Uint(32), "count" / Uint(32)),
            states=[_BUSY[2]],
        ),
        MessageType("MsgGetMeasures", 11, states=["StAcquired"], since=MEASURES_SINCE),
        MessageType(
            "MsgReplyGetMeasures",
            12,
            "tx_count" / Uint(32),
            "measures" / MapOf(Text(), Record("size" / Int(), "capacity" / Int())),
            states=[_BUSY[3]],
            since=MEASURES_SINCE,
        ),
    ],
    since=12,
    version_bit=N2C_VERSION_BIT,
)
