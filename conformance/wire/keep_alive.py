"""KeepAlive (N2N mini-protocol 8)."""

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
)
