"""ChainSync (N2N mini-protocol 2: headers; N2C 5: whole blocks)."""

from __future__ import annotations

import construct as c

from .codec import Codec, MessageType
from .common import Block, Header, Point, Tip
from .handshake import N2C_VERSION_BIT
from .schema import CborType, ListOf

CAN_AWAIT, MUST_REPLY = "StCanAwait", "StMustReply"


def _messages(payload_name: str, payload: CborType) -> list[MessageType]:
    return [
        MessageType("MsgRequestNext", 0, states=["StIdle"]),
        MessageType("MsgAwaitReply", 1, states=[CAN_AWAIT]),
        MessageType(
            "MsgRollForward",
            2,
            c.Renamed(payload, newname=payload_name),
            "tip" / Tip,
            states=[CAN_AWAIT, MUST_REPLY],
        ),
        MessageType("MsgRollBackward", 3, "point" / Point, "tip" / Tip, states=[CAN_AWAIT, MUST_REPLY]),
        MessageType(
            "MsgFindIntersect",
            4,
            "points" / ListOf(Point, form="either", encode_form="nonempty-indefinite"),
            states=["StIdle"],
        ),
        MessageType("MsgIntersectFound", 5, "point" / Point, "tip" / Tip, states=["StIntersect"]),
        MessageType("MsgIntersectNotFound", 6, "tip" / Tip, states=["StIntersect"]),
        MessageType("MsgDone", 7, states=["StIdle"]),
    ]


CHAIN_SYNC = Codec("chain-sync", 2, _messages("header", Header))
LOCAL_CHAIN_SYNC = Codec("local-chain-sync", 5, _messages("block", Block), version_bit=N2C_VERSION_BIT)
