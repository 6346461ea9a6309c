"""The wire layer: bytes <-> typed messages for every Ouroboros mini-protocol. Pure, no I/O, no state.

from conformance import wire
message = wire.decode("chain-sync", data, state="StIdle")
assert wire.encode(message) == data
"""

from __future__ import annotations

from typing import Any

from .block_fetch import BLOCK_FETCH
from .chain_sync import CHAIN_SYNC, LOCAL_CHAIN_SYNC
from .codec import Codec, MessageType
from .errors import (
    DecodeError,
    EncodeError,
    MalformedCbor,
    NotInVersion,
    ShapeMismatch,
    TrailingBytes,
    TruncatedInput,
    UnknownMessage,
)
from .handshake import HANDSHAKE, N2C_HANDSHAKE
from .keep_alive import KEEP_ALIVE
from .local_state_query import LOCAL_STATE_QUERY
from .local_tx_monitor import LOCAL_TX_MONITOR
from .local_tx_submission import LOCAL_TX_SUBMISSION
from .message import Message
from .peer_sharing import PEER_SHARING
from .tx_submission2 import TX_SUBMISSION2

CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        HANDSHAKE,
        CHAIN_SYNC,
        BLOCK_FETCH,
        TX_SUBMISSION2,
        KEEP_ALIVE,
        PEER_SHARING,
        N2C_HANDSHAKE,
        LOCAL_CHAIN_SYNC,
        LOCAL_TX_SUBMISSION,
        LOCAL_STATE_QUERY,
        LOCAL_TX_MONITOR,
    )
}
"""Every mini-protocol codec by its protocol name."""

PROTOCOLS = tuple(CODECS)


def codec(protocol: str) -> Codec:
    """The codec of a protocol by name; a typo is an error that lists the valid names."""
    try:
        return CODECS[protocol]
    except KeyError:
        raise KeyError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}") from None


def decode(
    protocol: str, data: bytes, state: str | None = None, version: int | None = None, *, item: Any = None
) -> Message:
    """Decode exactly one message of `protocol`; `state` (the sender's state) disambiguates shared tags.

    `version` is the negotiated version (node-to-client either as 16 or as its wire key 32784): with it the
    message must have a shape of that version (else NotInVersion or ShapeMismatch, naming the version);
    without it, a shape of any version is accepted. `item`: the CBOR item of `data`, if already parsed.
    """
    return codec(protocol).decode(data, state, version, item=item)


def encode(message: Message) -> bytes:
    """Encode a message; decoded messages give back their exact bytes, plain values the canonical form."""
    return codec(message.protocol).encode(message)


__all__ = [
    "CODECS",
    "PROTOCOLS",
    "Codec",
    "DecodeError",
    "EncodeError",
    "MalformedCbor",
    "Message",
    "MessageType",
    "NotInVersion",
    "ShapeMismatch",
    "TrailingBytes",
    "TruncatedInput",
    "UnknownMessage",
    "codec",
    "decode",
    "encode",
]
