"""LocalStateQuery (N2C mini-protocol 7). Queries and results are era/HFC specific: kept as raw CBOR.

The mini-protocol exists from node-to-client v2; acquiring the immutable tip (tags 10 and 11) from v16
(LocalStateQuery_V2). Which queries exist also depends on the version (consensus'
`blockQueryIsSupportedOnVersion`, e.g. GetBigLedgerPeerSnapshot from v19), but queries are kept raw here,
so that is not checked by this layer.
"""

from __future__ import annotations

from .codec import Codec, MessageType
from .common import Point
from .handshake import N2C_VERSION_BIT
from .schema import Raw, Uint

IMMUTABLE_TIP_SINCE = 16
"""Node-to-client version from which the immutable tip can be (re-)acquired."""

LOCAL_STATE_QUERY = Codec(
    "local-state-query",
    7,
    [
        MessageType("MsgAcquire", 0, "point" / Point, states=["StIdle"]),
        MessageType("MsgAcquireVolatileTip", 8, states=["StIdle"]),
        MessageType("MsgAcquireImmutableTip", 10, states=["StIdle"], since=IMMUTABLE_TIP_SINCE),
        MessageType("MsgAcquired", 1, states=["StAcquiring"]),
        MessageType("MsgFailure", 2, "failure" / Uint(8, high=1), states=["StAcquiring"]),
        MessageType("MsgQuery", 3, "query" / Raw("query"), states=["StAcquired"]),
        MessageType("MsgResult", 4, "result" / Raw("result"), states=["StQuerying"]),
        MessageType("MsgRelease", 5, states=["StAcquired"]),
        MessageType("MsgReAcquire", 6, "point" / Point, states=["StAcquired"]),
        MessageType("MsgReAcquireVolatileTip", 9, states=["StAcquired"]),
        MessageType("MsgReAcquireImmutableTip", 11, states=["StAcquired"], since=IMMUTABLE_TIP_SINCE),
        MessageType("MsgDone", 7, states=["StIdle"]),
    ],
    since=2,
    version_bit=N2C_VERSION_BIT,
)
