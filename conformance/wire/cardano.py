"""Cardano specifics the network layer needs: the point (slot, hash) of a header or block of any era.

A header's hash is blake2b-256 of its exact bytes; Byron hashes `[0|1, header]` (EBB 0, main 1), which
for the bytes we hold means the prefix 0x82 0x00 or 0x82 0x01. A Byron slot is `epoch * 10k + slot in
epoch` (an EBB takes the first slot of its epoch); `k` is 2160 on mainnet, preprod and preview.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from .cbor import NOT_KEPT, OPAQUE_TAGS, check_well_formed, decode_item, encode_item, scan_item, value_of
from .cbor.decode import read_argument
from .errors import ShapeMismatch

BYRON_K = 2160


@dataclass(frozen=True)
class ChainPoint:
    """A point computed from Cardano bytes (slot, header hash); `common.Point` is how a point is encoded."""

    slot: int
    hash: bytes

    def as_fields(self) -> dict[str, Any]:
        return {"slot": self.slot, "hash": self.hash}


def blake2b_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def byron_point(header_cbor: bytes, variant: int, k: int = BYRON_K) -> ChainPoint:
    """Point of a Byron header given as its exact bytes; `variant` 0 = EBB, 1 = main block."""
    header, _ = decode_item(header_cbor)
    try:
        consensus = header[3]
        if variant == 0:
            slot = int(consensus[0]) * 10 * k
        else:
            epoch, slot_in_epoch = consensus[0]
            slot = int(epoch) * 10 * k + int(slot_in_epoch)
    except (IndexError, TypeError, ValueError):
        raise ShapeMismatch("a Byron header [magic, prev, proof, consensus, extra]", path="$[3]") from None
    return ChainPoint(slot, blake2b_256(bytes((0x82, variant)) + header_cbor))


def shelley_point(header_cbor: bytes, header: Any = NOT_KEPT) -> ChainPoint:
    """Point of a Shelley-family header `[header_body, kes_signature]`; the slot is header_body[1].
    `header` is the header already decoded, when the caller has it."""
    if header is NOT_KEPT:
        header = value_of(header_cbor)  # what its tag-24 check decoded, when that was the last check
    if header is NOT_KEPT:
        header, _ = decode_item(header_cbor)
    try:
        slot = int(header[0][1])
    except (IndexError, TypeError, ValueError):
        raise ShapeMismatch("a header [header_body [block_no, slot, ...], signature]", path="$[0][1]") from None
    return ChainPoint(slot, blake2b_256(header_cbor))


def header_point(header: dict[str, Any], k: int = BYRON_K) -> ChainPoint:
    """Point of an N2N chain-sync header as decoded by the wire layer ({"era", "cbor", ...})."""
    if header["era"] == 0:
        return byron_point(bytes(header["cbor"]), header["byron_variant"], k)
    return shelley_point(bytes(header["cbor"]))


@dataclass(frozen=True)
class BlockInfo:
    """Where a block sits on its chain: its point, number and predecessor (None after genesis)."""

    slot: int
    hash: bytes
    block_no: int
    prev_hash: bytes | None


def block_info(block_content: bytes, k: int = BYRON_K, *, checked: bool = False) -> BlockInfo:
    """Point, number and predecessor of a block given as the content of its tag-24 wrapper.

    The whole block must be well-formed CBOR (checked at C speed, unless `checked` says the caller has the
    block from a decoded message, whose tag 24 was checked already); only its header is decoded, from the
    header's exact bytes, since the rules ask this of every block on both sides of a connection.
    """
    if not checked:
        check_well_formed(block_content)
    found = _era_and_header(block_content)
    if found is None:  # an indefinite-length wrapper: the general path
        return _block_info_decoded(block_content, k)
    era_tag, header_cbor = found
    return _info_of_header(era_tag, read_checked(header_cbor), header_cbor, k)


def read_checked(item_cbor: bytes) -> Any:
    """The value of an item known to be well-formed, for reading a few of its fields (headers): what its
    own tag-24 check decoded when that was the last check, else cbor2's C decoder (tags opaque), 5x faster
    than ours; our decoder when cbor2 refuses content it would interpret."""
    value = value_of(item_cbor)
    if value is not NOT_KEPT:
        return value
    try:
        return cbor2.loads(item_cbor, semantic_decoders=OPAQUE_TAGS)
    except Exception:  # noqa: BLE001 - whatever cbor2 refuses, our decoder reads (or says why not)
        return decode_item(item_cbor)[0]


def _era_and_header(data: bytes) -> tuple[int, bytes] | None:
    """(blockEraTag, the header's exact bytes) of `[blockEraTag, [header, ...]]` with definite-length
    arrays, read from the heads alone; None when either array is indefinite."""

    def head(pos: int, major: int, what: str) -> tuple[int | None, int]:
        initial = data[pos] if pos < len(data) else None
        if initial is None or initial >> 5 != major:
            raise ShapeMismatch(what, path="$" if pos == 0 else "$[1]")
        if initial & 0x1F == 31:
            return None, pos + 1
        value, _, following = read_argument(data, pos, initial & 0x1F)
        return value, following

    count, pos = head(0, 4, "[blockEraTag, block]")
    if count is None:
        return None
    if count != 2:
        raise ShapeMismatch("[blockEraTag, block]", path="$")
    era_tag, pos = head(pos, 0, "[blockEraTag, block]")
    items, pos = head(pos, 4, "a block whose header has its era's layout")
    if items is None:
        return None
    if era_tag is None or items < 1:
        raise ShapeMismatch("a block whose header has its era's layout", path="$[1][0]")
    return era_tag, data[pos : scan_item(data, pos)]


def _block_info_decoded(block_content: bytes, k: int) -> BlockInfo:
    wrapped, _ = decode_item(block_content)
    if not isinstance(wrapped, list) or len(wrapped) != 2 or not isinstance(wrapped[0], int):
        raise ShapeMismatch("[blockEraTag, block]", path="$")
    era_tag, block = wrapped
    if not isinstance(block, list) or not block:
        raise ShapeMismatch("a block whose header has its era's layout", path="$[1][0]")
    return _info_of_header(era_tag, block[0], encode_item(block[0]), k)


def _info_of_header(era_tag: int, header: Any, header_cbor: bytes, k: int) -> BlockInfo:
    try:
        if era_tag in (0, 1):
            point = byron_point(header_cbor, era_tag, k)
            difficulty = header[3][1] if era_tag == 0 else header[3][2]
            return BlockInfo(point.slot, point.hash, int(difficulty[0]), _hash_or_none(header[1]))
        point = shelley_point(header_cbor, header)
        body = header[0]
        return BlockInfo(point.slot, point.hash, int(body[0]), _hash_or_none(body[2]))
    except (IndexError, TypeError, ValueError, KeyError):
        raise ShapeMismatch("a block whose header has its era's layout", path="$[1][0]") from None


def _hash_or_none(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, bytes) else None


def block_point(block_content: bytes, k: int = BYRON_K) -> ChainPoint:
    """Point of a block given as the content of its tag-24 wrapper: `[blockEraTag, block]`."""
    info = block_info(block_content, k)
    return ChainPoint(info.slot, info.hash)


def gentx_id(gentx: bytes) -> dict[str, Any]:
    """The GenTxId `{"era", "id"}` of a GenTx: blake2b-256 of the tx body's exact bytes (Byron: of the
    `Tx` of a plain transaction `[tx, witnesses]`; other Byron payloads have ids of other kinds)."""
    from .common import GenTx

    item, _ = decode_item(gentx)
    wrapped = GenTx.from_item(item, "$")
    return {"era": wrapped["era"], "id": gentx_digest(wrapped)}


def gentx_digest(wrapped: Mapping[str, Any]) -> bytes:
    """The id hash of a GenTx as `GenTx` decodes it: of the tx body's exact bytes, or of a plain Byron
    transaction's `Tx`. ShapeMismatch (a DecodeError) when the transaction inside has no such part."""
    if wrapped["era"] == 0:
        inner = wrapped["tx"]
        if not isinstance(inner, Mapping) or inner.get("byron_kind") != 0:
            raise ShapeMismatch("a plain Byron transaction (kind 0)", path="$[1]")
        byron, _ = decode_item(bytes(inner["payload"]))
        if not isinstance(byron, list) or len(byron) != 2:
            raise ShapeMismatch("a Byron transaction [tx, witnesses]", path="$[1]")
        return blake2b_256(encode_item(byron[0]))
    transaction, _ = decode_item(bytes(wrapped["tx"]))
    if not isinstance(transaction, list) or not transaction:
        raise ShapeMismatch("a transaction [body, witnesses, ...] inside the tag-24 wrapper", path="$[1]")
    return blake2b_256(encode_item(transaction[0]))
