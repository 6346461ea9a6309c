"""LocalStateQuery (N2C mini-protocol 7). Queries and results are era/HFC specific: kept as raw CBOR."""

from __future__ import annotations

from .codec import Codec, MessageType
from .common import Point
from .schema import Raw, Uint

LOCAL_STATE_QUERY = Codec(
    "local-state-query",
    7,
    [
        MessageType("MsgAcquire", 0, "point" / Point, states=["StIdle"]),
        MessageType("MsgAcquireVolatileTip", 8, states=["StIdle"]),
        MessageType("MsgAcquireImmutableTip", 10, states=["StIdle"]),
        MessageType("MsgAcquired", 1, states=["StAcquiring"]),
        MessageType("MsgFailure", 2, "failure" / Uint(8, high=1), states=["StAcquiring"]),
        MessageType("MsgQuery", 3, "query" / Raw("query"), states=["StAcquired"]),
        MessageType("MsgResult", 4, "result" / Raw("result"), states=["StQuerying"]),
        MessageType("MsgRelease", 5, states=["StAcquired"]),
        MessageType("MsgReAcquire", 6, "point" / Point, states=["StAcquired"]),
        MessageType("MsgReAcquireVolatileTip", 9, states=["StAcquired"]),
        MessageType("MsgReAcquireImmutableTip", 11, states=["StAcquired"]),
        MessageType("MsgDone", 7, states=["StIdle"]),
    ],
)
