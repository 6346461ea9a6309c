"""KeepAlive (N2N mini-protocol 8).

The codec declared here is the one of node-to-node v7 and later (`codecKeepAlive_v2`): v3-v6 sent the
same messages without the enclosing array, so at those versions these bytes are not KeepAlive messages.
"""

from __future__ import annotations

from .codec import Codec, MessageType
from .schema import Uint

KEEP_ALIVE = Codec(
    "keep-alive",
    8,
    [
        MessageType("MsgKeepAlive", 0, "cookie" / Uint(16), states=["StClient"]),
        MessageType("MsgKeepAliveResponse", 1, "cookie" / Uint(16), states=["StServer"]),
        MessageType("MsgDone", 2, states=["StClient"]),
    ],
    since=7,
)
