"""The wire-layer helpers the transaction and node-to-client behaviours use, imported from one place.

The wire and protocol layers are being reorganised (issue 6 item 6): when a helper moves, only this file
changes. Nothing here decides anything; it only names what the behaviours need.
"""

from __future__ import annotations

from conformance.protocol.tx_submission2 import MAX_TX_SIZE_DISCREPANCY, MAX_UNACKED
from conformance.wire import decode, encode
from conformance.wire.cardano import ChainPoint, blake2b_256, gentx_digest, gentx_id
from conformance.wire.cbor import Tag, decode_item, encode_item
from conformance.wire.common import ERAS, GenTx
from conformance.wire.errors import DecodeError
from conformance.wire.handshake import N2C_VERSION_BIT
from conformance.wire.local_state_query import IMMUTABLE_TIP_SINCE
from conformance.wire.local_tx_monitor import MEASURES_SINCE
from conformance.wire.message import Message


def plain_version(version: int | None) -> int | None:
    """A node-to-client version number without the handshake's bit 15 (32784 -> 16)."""
    return None if version is None else version & ~N2C_VERSION_BIT


__all__ = [
    "ERAS",
    "IMMUTABLE_TIP_SINCE",
    "MAX_TX_SIZE_DISCREPANCY",
    "MAX_UNACKED",
    "MEASURES_SINCE",
    "N2C_VERSION_BIT",
    "DecodeError",
    "GenTx",
    "Message",
    "ChainPoint",
    "Tag",
    "blake2b_256",
    "gentx_digest",
    "decode",
    "decode_item",
    "encode",
    "encode_item",
    "gentx_id",
    "plain_version",
]
