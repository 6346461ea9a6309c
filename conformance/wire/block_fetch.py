"""BlockFetch (N2N mini-protocol 3)."""

from __future__ import annotations

from .codec import Codec, MessageType
from .common import Block, Point

BLOCK_FETCH = Codec(
    "block-fetch",
    3,
    [
        MessageType("MsgRequestRange", 0, "from_point" / Point, "to_point" / Point, states=["BFIdle"]),
        MessageType("MsgClientDone", 1, states=["BFIdle"]),
        MessageType("MsgStartBatch", 2, states=["BFBusy"]),
        MessageType("MsgNoBlocks", 3, states=["BFBusy"]),
        MessageType("MsgBlock", 4, "block" / Block, states=["BFStreaming"]),
        MessageType("MsgBatchDone", 5, states=["BFStreaming"]),
    ],
)
