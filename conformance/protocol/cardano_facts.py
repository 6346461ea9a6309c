"""Cardano facts the protocol rules read from bytes (a block's point and number, a tx id and size), leniently.

The Cardano facts themselves (points of every era, Byron included, and tx ids) live in
`conformance.wire.cardano`; here they are read without raising, because a rule that cannot read a block
or a transaction is simply not applied (the codec rules report undecodable bytes).
"""

from __future__ import annotations

from typing import Any

from conformance.wire import cardano, cbor
from conformance.wire.common import GenTx, GenTxId
from conformance.wire.errors import DecodeError

BlockInfo = cardano.BlockInfo


_last_block: tuple[Any, BlockInfo | None] = (None, None)  # (bytes object, its BlockInfo), replaced whole


def block_info(block: Any) -> BlockInfo | None:
    """Point, number and predecessor of a block given as `[blockTag, block]` bytes, or None.

    A rule's check and its commit ask for the same block in turn: the answer for the last bytes object
    (immutable, compared by identity) is kept, so each block is read once."""
    if not isinstance(block, (bytes, bytearray)):
        return None
    global _last_block
    last = _last_block  # one read: the pair is replaced whole, so another thread never tears it
    if isinstance(block, bytes) and block is last[0]:
        return last[1]
    try:
        info = cardano.block_info(bytes(block), checked=True)  # the rules see blocks of decoded messages
    except DecodeError:
        info = None
    if isinstance(block, bytes):
        _last_block = (block, info)
    return info


def tx_id(tx: Any) -> tuple[int, bytes] | None:
    """(era index, blake2b-256 of the body) of a GenTx `[eraIndex, tx]` (Byron: a plain transaction), or None."""
    if not isinstance(tx, (bytes, bytearray)):
        return None
    try:
        found = cardano.gentx_id(bytes(tx))
    except DecodeError:
        return None
    return found["era"], found["id"]


def tx_size(tx: Any) -> int | None:
    """The serialised size of a transaction (its tag-24 content; a plain Byron one's payload), or None."""
    try:
        item, _ = cbor.decode_item(bytes(tx))
        wrapped = GenTx.from_item(item, "$")
    except (DecodeError, TypeError):
        return None
    inner = wrapped["tx"]
    if wrapped["era"] == 0:
        return len(inner["payload"]) if isinstance(inner, dict) and inner.get("byron_kind") == 0 else None
    return len(inner)


def txid_key(txid: Any) -> tuple[int, bytes] | None:
    """(era index, hash) of a tx id given as `[eraIndex, hash]` bytes (Byron: the inner hash), or None."""
    try:
        item, _ = cbor.decode_item(bytes(txid))
        value = GenTxId.from_item(item, "$")
    except (DecodeError, TypeError):
        return None
    digest = value["id"]["hash"] if value["era"] == 0 else value["id"]
    return value["era"], bytes(digest)
