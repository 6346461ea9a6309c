"""LocalTxSubmission (N2C mini-protocol 6). The reject reason is the era's ApplyTxErr, kept as raw CBOR.

The transaction is the Cardano GenTx `[era, #6.24(tx)]` (Byron `[0, [kind, ...]]`): the node-to-client
HardFork codec uses the same `encodeNS` and per-era encoders as node-to-node.
"""

from __future__ import annotations

from .codec import Codec, MessageType
from .common import Tx
from .handshake import N2C_VERSION_BIT
from .schema import Raw

LOCAL_TX_SUBMISSION = Codec(
    "local-tx-submission",
    6,
    [
        MessageType("MsgSubmitTx", 0, "tx" / Tx, states=["StIdle"]),
        MessageType("MsgAcceptTx", 1, states=["StBusy"]),
        MessageType("MsgRejectTx", 2, "reason" / Raw("rejectReason"), states=["StBusy"]),
        MessageType("MsgDone", 3, states=["StIdle"]),
    ],
    version_bit=N2C_VERSION_BIT,
)
