"""A chain store for the reference peer: the blocks it serves and the lookups chain-sync and block-fetch need.

A chain is a list of blocks, each held as the content of its tag-24 wrapper, `[blockEraTag, block]`
(what MsgBlock and node-to-client MsgRollForward carry), with its N2N chain-sync header envelope, point,
block number and predecessor. Positions are indexes: 0 is the first block, -1 stands for the origin.

Two sources fill a store:
- real blocks (`ChainStore.from_blocks`, `load_chain` for `--chain PATH`): every link is checked, and a
  broken chain is refused with `BrokenChain` naming the first block that does not follow its predecessor;
- a synthetic Babbage/Conway chain (`ChainStore.synthetic`) of any length. Its blocks are not kept: the
  store keeps 48 bytes per block (slot, number, hash) and renders a block's bytes again when asked, so a
  100k-block chain costs a few megabytes. Its headers have the era's layout, the KES signature's 448
  bytes, and correct hashes, slots, numbers, links, body sizes and body hashes (body hash = blake2b-256
  of the concatenated blake2b-256 of each body part's CBOR, as the ledger computes it). A `ChainFault`
  makes one block wrong on purpose, for the fault zoo and for the hash checkers' own tests.

The Cardano facts (points, block infos, hashes) come from one import below, so a rename in the wire
layer is a one-line fix here.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from conformance.wire.cardano import (
    BYRON_K,
    BlockInfo,
    ChainPoint,
    blake2b_256,
    block_info,
    header_point,
    read_checked,
)
from conformance.wire.cbor import (
    EncodedBytes,
    Map,
    Tag,
    array_spans,
    decode_item,
    encode_item,
    spans_of,
    vouch,
)
from conformance.wire.errors import DecodeError

__all__ = [
    "BYRON_K",
    "ERA_INDEX",
    "BlockInfo",
    "BrokenChain",
    "ChainFault",
    "ChainStore",
    "ChainPoint",
    "as_point",
    "block_info",
    "blake2b_256",
    "header_info",
    "header_point",
    "load_chain",
    "point_fields",
    "split_transaction",
]

ERA_INDEX = {"byron": 0, "shelley": 1, "allegra": 2, "mary": 3, "alonzo": 4, "babbage": 5, "conway": 6}
"""Hard-fork combinator era index; a block's era tag is this + 1 from Shelley on (Byron: 0 EBB, 1 main)."""
_PROTOCOL_VERSION = {"babbage": (8, 0), "conway": (10, 0)}
_KES_SIGNATURE_SIZE = 448
"""Sum6KES signature: the size every real Shelley-to-Conway header in vectors/ledger.yaml carries."""
FAULTS = ("link", "hash", "body", "number", "slot")


class BrokenChain(ValueError):
    """Blocks that do not form a chain: the message names the first block that does not follow."""


@dataclass(frozen=True)
class ChainFault:
    """One wrong block in a synthetic chain, at index `at`.

    - link: its header's prev-hash is not its predecessor's hash;
    - hash: its bytes change after its hash was taken, so the chain's points name a hash that the served
      header does not have (its successor links to the announced hash);
    - body: its body does not match the body hash and size its header announces;
    - number: its block number skips one;
    - slot: its slot is its predecessor's (slots must grow).
    """

    kind: str
    at: int

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown chain fault {self.kind!r}; known: {', '.join(FAULTS)}")
        if self.at < 0:
            raise ValueError(f"a fault index is 0 or more, not {self.at}")


# -- points ------------------------------------------------------------------------------------------


def as_point(value: Any) -> ChainPoint | None:
    """A point given as the wire layer decodes it ({"slot", "hash"} or None) or as a `ChainPoint`."""
    if value is None or isinstance(value, ChainPoint):
        return value
    if isinstance(value, Mapping) and "slot" in value and "hash" in value:
        return ChainPoint(int(value["slot"]), bytes(value["hash"]))
    raise ValueError(f"{value!r} is not a point")


def point_fields(point: ChainPoint | None) -> dict[str, Any] | None:
    """The wire layer's form of a point: None for the origin, else {"slot", "hash"}."""
    return None if point is None else {"slot": point.slot, "hash": point.hash}


# -- reading headers ---------------------------------------------------------------------------------


def header_info(header: Mapping[str, Any], k: int = BYRON_K) -> BlockInfo:
    """ChainPoint, number and predecessor of an N2N chain-sync header as the wire layer decodes it.

    Raises the wire DecodeError family when the header's bytes do not have their era's layout.
    """
    from conformance.wire.errors import ShapeMismatch

    cbor = bytes(header["cbor"])
    if header["era"] != 0:
        try:
            fields = _shelley_header_fields(cbor)
        except Exception:  # noqa: BLE001 - judged by the exact path below
            fields = None
        if fields is not None:
            return BlockInfo(fields[1], blake2b_256(cbor), fields[0], fields[2])
    item, _ = decode_item(cbor)
    try:
        if header["era"] == 0:
            point = header_point(dict(header), k)
            consensus = item[3]
            difficulty = consensus[1] if header["byron_variant"] == 0 else consensus[2]
            return BlockInfo(point.slot, point.hash, int(difficulty[0]), _hash_or_none(item[1]))
        body = item[0]
        return BlockInfo(int(body[1]), blake2b_256(cbor), int(body[0]), _hash_or_none(body[2]))
    except (IndexError, TypeError, ValueError, KeyError):
        raise ShapeMismatch("a header with its era's layout", path="$") from None


def _hash_or_none(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, bytes) else None


def body_hash(parts: Sequence[bytes]) -> bytes:
    """The ledger's block body hash: blake2b-256 over the concatenated blake2b-256 of each part's CBOR."""
    return blake2b_256(b"".join(blake2b_256(part) for part in parts))


def block_body_problem(block_content: bytes) -> str | None:
    """Why a Shelley-or-later block's body does not match its header (size, hash), or None.

    Byron blocks are not checked (None). Raises the wire DecodeError family on undecodable bytes.
    """
    item, _ = decode_item(block_content)
    if not isinstance(item, list) or len(item) != 2 or item[0] in (0, 1):
        return None
    block = item[1]
    try:
        header_body = block[0][0]
        parts = [encode_item(part) for part in block[1:]]
        at = 6 if len(header_body) == 10 else 7  # Babbage+: 10 fields; Shelley to Alonzo: 15
        size, digest = int(header_body[at]), bytes(header_body[at + 1])
    except (IndexError, TypeError, ValueError):
        return "the block has no header body with a body size and hash"
    actual = sum(len(part) for part in parts)
    if actual != size:
        return f"the body is {actual} bytes; the header says {size}"
    if body_hash(parts) != digest:
        return f"the body hashes to {body_hash(parts).hex()[:16]}…; the header says {digest.hex()[:16]}…"
    return None


# -- fast reading of Shelley-or-later blocks and headers ----------------------------------------------
# The wire layer has already checked the bytes; here only offsets and a few header fields are needed, which
# that check usually kept (`spans_of`), else `array_spans` finds again without building values. Anything
# not read as expected falls back to the exact, slower path above.


def _shelley_header_fields(header: bytes) -> tuple[int, int, bytes | None, int, bytes] | None:
    """(block number, slot, prev hash, body size, body hash) of a Shelley-or-later header, or None."""
    item = read_checked(header)  # often decoded already by the tag-24 check of the message that carried it
    body = item[0] if isinstance(item, list) and len(item) == 2 and isinstance(item[0], list) else None
    if body is None or len(body) not in (10, 15):
        return None
    at = 6 if len(body) == 10 else 7
    prev = body[2]
    number, slot, size, digest = body[0], body[1], body[at], body[at + 1]
    if not (isinstance(number, int) and isinstance(slot, int) and isinstance(size, int)):
        return None
    if not isinstance(digest, bytes) or not (prev is None or isinstance(prev, bytes)):
        return None
    return number, slot, prev, size, digest


def read_block(block_content: bytes, k: int = BYRON_K) -> tuple[BlockInfo, str | None]:
    """ChainPoint, number and predecessor of a block, and why its body does not match its header (or None):
    `block_info` and `block_body_problem` in one fast pass. Raises the wire DecodeError family."""
    try:
        tag = block_content[1]
        if block_content[0] == 0x82 and 2 <= tag <= 23:  # [blockEraTag (one byte), block]
            known = spans_of(block_content)  # its tag 24 was just checked: the offsets are known
            if known is not None and 1 in known.inner:
                parts = list(known.inner[1])
            else:
                parts = array_spans(block_content, 2, enclosing=1)
            header = block_content[parts[0][0] : parts[0][1]]
            fields = _shelley_header_fields(header)
            if fields is not None:
                number, slot, prev, size, digest = fields
                info = BlockInfo(slot, blake2b_256(header), number, prev)
                bodies = [block_content[a:b] for a, b in parts[1:]]
                actual = sum(len(part) for part in bodies)
                if actual != size:
                    return info, f"the body is {actual} bytes; the header says {size}"
                if body_hash(bodies) != digest:
                    return (
                        info,
                        f"the body hashes to {body_hash(bodies).hex()[:16]}…; the header says {digest.hex()[:16]}…",
                    )
                return info, None
    except Exception:  # noqa: BLE001, S110 - anything unexpected is judged by the exact path below
        pass
    return block_info(block_content, k), block_body_problem(block_content)


def split_transaction(tx: bytes) -> tuple[bytes, bytes, bytes | None, bool]:
    """A Shelley-or-later transaction `[body, witnesses, (valid,) aux|null]` as the CBOR of the parts a
    block keeps apart: (body, witness set, auxiliary data or None, valid)."""
    item, _ = decode_item(tx)
    if not isinstance(item, list) or len(item) not in (3, 4):
        raise ValueError("a transaction is [body, witnesses, (is_valid,) auxiliary data]")
    valid = bool(item[2]) if len(item) == 4 else True
    aux = item[-1]
    return encode_item(item[0]), encode_item(item[1]), None if aux is None else encode_item(aux), valid


# -- CBOR heads, for rendering synthetic blocks fast -------------------------------------------------


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes((major << 5 | n,))
    if n < 0x100:
        return bytes((major << 5 | 24, n))
    if n < 0x10000:
        return bytes((major << 5 | 25,)) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes((major << 5 | 26,)) + n.to_bytes(4, "big")
    return bytes((major << 5 | 27,)) + n.to_bytes(8, "big")


def _uint(n: int) -> bytes:
    return _head(0, n)


def _bstr(data: bytes) -> bytes:
    return _head(2, len(data)) + data


@dataclass(frozen=True)
class _Body:
    """The four body parts of a Babbage/Conway block, as CBOR."""

    parts: tuple[bytes, bytes, bytes, bytes]
    transactions: tuple[bytes, ...] = ()

    @cached_property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    @cached_property
    def digest(self) -> bytes:
        """Hashed once per body: every header that commits to it (a filler body: every block) needs it."""
        return body_hash(self.parts)


_EMPTY_BODY = _Body((b"\x80", b"\x80", b"\xa0", b"\x80"))


def _body_of(transactions: Sequence[bytes]) -> _Body:
    """Tx bodies, witness sets, auxiliary data by index, invalid tx indexes."""
    bodies, witnesses, aux, invalid = [], [], [], []
    for index, tx in enumerate(transactions):
        body, witness, auxiliary, valid = split_transaction(tx)
        bodies.append(body)
        witnesses.append(witness)
        if auxiliary is not None:
            aux.append(_uint(index) + auxiliary)
        if not valid:
            invalid.append(_uint(index))
    parts = (
        _head(4, len(bodies)) + b"".join(bodies),
        _head(4, len(witnesses)) + b"".join(witnesses),
        _head(5, len(aux)) + b"".join(aux),
        _head(4, len(invalid)) + b"".join(invalid),
    )
    return _Body(parts, tuple(transactions))


def _filled_body(filler: Sequence[bytes], size: int) -> _Body:
    """A body of copies of the `filler` transactions, in turn, holding at least `size` bytes of them."""
    chosen: list[bytes] = []
    total = 0
    while total < size:
        transaction = filler[len(chosen) % len(filler)]
        chosen.append(transaction)
        total += len(transaction)
    return _body_of(chosen)


class _Synthetic:
    """Renders the header and block of a synthetic Babbage/Conway block from its slot, number and
    predecessor; the keys and proofs are constant bytes derived from `seed` (nobody verifies them)."""

    def __init__(self, era: str, seed: bytes) -> None:
        if era not in _PROTOCOL_VERSION:
            raise ValueError(f"synthetic chains are babbage or conway, not {era!r}")
        self.era = era
        self.era_index = ERA_INDEX[era]

        def material(label: bytes, size: int) -> bytes:
            return hashlib.blake2b(seed + label, digest_size=64).digest()[:size].ljust(size, b"\x00")

        issuer, vrf_key = material(b"issuer", 32), material(b"vrf", 32)
        vrf_result = b"\x82" + _bstr(material(b"out", 64)) + _bstr(material(b"proof1", 40) + material(b"proof2", 40))
        hot_key, sigma = material(b"kes", 32), material(b"sigma1", 32) + material(b"sigma2", 32)
        major, minor = _PROTOCOL_VERSION[era]
        self._keys = _bstr(issuer) + _bstr(vrf_key) + vrf_result
        self._tail = (
            b"\x84" + _bstr(hot_key) + _uint(0) + _uint(0) + _bstr(sigma) + b"\x82" + _uint(major) + _uint(minor)
        )
        signature = b"".join(material(bytes((i,)), 64) for i in range(7))
        self._signature = _bstr(signature[:_KES_SIGNATURE_SIZE])

    def header(self, block_no: int, slot: int, prev: bytes | None, body: _Body) -> bytes:
        previous = b"\xf6" if prev is None else _bstr(prev)
        header_body = (
            b"\x8a"
            + _uint(block_no)
            + _uint(slot)
            + previous
            + self._keys
            + _uint(body.size)
            + _bstr(body.digest)
            + self._tail
        )
        return b"\x82" + header_body + self._signature

    def block(self, header: bytes, body: _Body) -> bytes:
        """The block content `[blockEraTag, [header, bodies, witnesses, aux, invalid]]`."""
        return b"\x82" + _uint(self.era_index + 1) + b"\x85" + header + b"".join(body.parts)


def _tamper(header: bytes) -> bytes:
    """The same header with its last signature byte changed: same layout, another hash."""
    return header[:-1] + bytes((header[-1] ^ 0xFF,))


# -- the store ---------------------------------------------------------------------------------------


class ChainStore:
    """An ordered chain of blocks with its points, numbers and tip, and the lookups the servers need.

    Several behaviours (one per connection) may share one store; `rollback` and `extend` change it for
    all of them, and `forks` lets each one see whether the chain it is reading was rolled back.
    """

    def __init__(
        self,
        *,
        era: str = "conway",
        seed: bytes = b"ouroboros-conformance",
        slot_gap: int = 1,
        fault: ChainFault | None = None,
        k: int = BYRON_K,
    ) -> None:
        if slot_gap < 1:
            raise ValueError(f"slot_gap must be 1 or more, not {slot_gap}")
        self.k = k
        self.slot_gap = slot_gap
        self.fault = fault
        self._synthetic = _Synthetic(era, seed)
        self._slots = array("Q")
        self._numbers = array("Q")
        self._hashes = bytearray()
        self._stored: dict[int, bytes] = {}
        """Real blocks by index; an index missing here is a synthetic block, rendered when asked."""
        self._bodies: dict[int, _Body] = {}
        """The bodies of synthetic blocks that carry transactions."""
        self._filler = _EMPTY_BODY
        """The body of every other synthetic block (empty unless `synthetic(block_size=...)`)."""
        self._first_prev: bytes | None = None
        self._next_slot = 0
        self.forks: list[int] = []
        """Every rollback so far, as the index rolled back to (-1: the origin), oldest first."""

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def synthetic(
        cls,
        length: int,
        *,
        era: str = "conway",
        seed: bytes = b"ouroboros-conformance",
        slot_gap: int = 1,
        fault: ChainFault | None = None,
        transactions: Sequence[bytes] = (),
        tx_every: int = 1,
        per_block: int = 1,
        block_size: int = 0,
        filler: Sequence[bytes] = (),
    ) -> ChainStore:
        """A synthetic chain of `length` blocks from genesis (block 0 at slot 0, no predecessor).

        `transactions` (Shelley-or-later transactions of the era, e.g. golden tx vectors) are put
        `per_block` at a time into every `tx_every`-th block from block 1, in order, each once. The other
        blocks are empty, or with `block_size` carry copies of the `filler` transactions, in turn, until
        their body holds at least `block_size` bytes of transactions: block-fetch then moves blocks of a
        real size (mainnet blocks run to about 90 KB). The copies repeat, so `transactions()` leaves them out.
        """
        store = cls(era=era, seed=seed, slot_gap=slot_gap, fault=fault)
        if tx_every < 1 or per_block < 1:
            raise ValueError(f"tx_every and per_block are 1 or more, not {tx_every} and {per_block}")
        if block_size > 0:
            if not filler:
                raise ValueError("block_size needs filler transactions")
            store._filler = _filled_body(filler, block_size)
        for n in range(0, len(transactions), per_block):
            store._bodies[1 + (n // per_block) * tx_every] = _body_of(transactions[n : n + per_block])
        store.extend(length)
        return store

    @classmethod
    def from_blocks(cls, blocks: Iterable[bytes], **options: Any) -> ChainStore:
        """A chain of real blocks (block contents `[blockEraTag, block]`), every link checked."""
        store = cls(**options)
        for block in blocks:
            store.append(block)
        return store

    def append(self, block: bytes) -> None:
        """Add a real block at the tip; `BrokenChain` when it does not follow the tip (hash, number, slot)."""
        index = len(self)
        try:
            info = block_info(block, self.k)
        except DecodeError as error:
            raise BrokenChain(
                f"block {index} is not a [blockEraTag, block] the chain store can read: {error}"
            ) from None
        if index > 0:
            tip = self.point(index - 1)
            number = self.block_no(index - 1)
            ebb = bytes(block[:2]) == b"\x82\x00"
            if info.prev_hash != tip.hash:
                raise BrokenChain(
                    f"block {index} (slot {info.slot}) links to {_hex(info.prev_hash)}, "
                    f"not to block {index - 1}'s hash {_hex(tip.hash)}"
                )
            if info.block_no != number + (0 if ebb else 1):
                raise BrokenChain(f"block {index} has number {info.block_no} after block number {number}")
            if info.slot < tip.slot or (info.slot == tip.slot and not ebb):
                raise BrokenChain(f"block {index} has slot {info.slot}, not after slot {tip.slot}")
        else:
            self._first_prev = info.prev_hash
        self._stored[index] = bytes(block)
        self._push(info.slot, info.block_no, info.hash)

    def extend(self, count: int = 1) -> None:
        """Add `count` synthetic blocks at the tip (also after real blocks: they link to the real tip)."""
        for _ in range(count):
            index = len(self)
            if index == 0:
                slot, number, prev = self._next_slot, 0, self._first_prev
            else:
                slot = max(self.point(index - 1).slot + self.slot_gap, self._next_slot)
                number, prev = self.block_no(index - 1) + 1, self.point(index - 1).hash
            fault = self.fault.kind if self.fault is not None and self.fault.at == index else None
            if fault == "number":
                number += 1
            if fault == "slot" and index > 0:
                slot = self.point(index - 1).slot
            header = self._render_header(index, slot, number, prev)
            self._push(slot, number, blake2b_256(header))

    def _push(self, slot: int, number: int, digest: bytes) -> None:
        self._slots.append(slot)
        self._numbers.append(number)
        self._hashes += digest
        self._next_slot = max(self._next_slot, slot + 1)

    def _render_header(self, index: int, slot: int, number: int, prev: bytes | None) -> bytes:
        """The header bytes the hash is taken of (before a "hash" fault tampers with them)."""
        if self.fault is not None and self.fault.at == index and self.fault.kind == "link":
            prev = blake2b_256(b"not the predecessor" + (prev or b""))
        return self._synthetic.header(number, slot, prev, self._bodies.get(index, self._filler))

    def rollback(self, to: int) -> None:
        """Drop every block after index `to` (-1: back to the origin). Later blocks get later slots,
        so a chain extended after a rollback is a different fork."""
        if not -1 <= to < len(self):
            raise IndexError(f"cannot roll back to index {to} of a chain of {len(self)} blocks")
        keep = to + 1
        del self._slots[keep:]
        del self._numbers[keep:]
        del self._hashes[keep * 32 :]
        for index in [i for i in self._stored if i >= keep]:
            del self._stored[index]
        self.forks.append(to)

    # -- reading -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slots)

    def point(self, index: int) -> ChainPoint:
        return ChainPoint(self._slots[index], bytes(self._hashes[index * 32 : index * 32 + 32]))

    def block_no(self, index: int) -> int:
        return self._numbers[index]

    def point_or_origin(self, index: int) -> ChainPoint | None:
        return None if index < 0 else self.point(index)

    def tip(self) -> dict[str, Any]:
        """The tip as chain-sync messages carry it; an empty chain's tip is the origin, block 0."""
        if not self._slots:
            return {"point": None, "block_no": 0}
        return {"point": point_fields(self.point(len(self) - 1)), "block_no": self._numbers[-1]}

    def block(self, index: int) -> bytes:
        """The block content `[blockEraTag, block]` at `index`."""
        stored = self._stored.get(index)
        if stored is not None:
            return vouch(stored)  # checked when it was added
        header, body = self._synthetic_parts(index)
        if self.fault is not None and self.fault.at == index and self.fault.kind == "body":
            body = _Body(((b"\x81" + _uint(index)),) + body.parts[1:])  # type: ignore[arg-type]
        return vouch(self._synthetic.block(header, body))  # well-formed parts in well-formed heads

    def header(self, index: int) -> dict[str, Any]:
        """The N2N chain-sync header at `index`, as the wire layer takes it ({"era", "cbor", ...})."""
        stored = self._stored.get(index)
        if stored is None:
            return {"era": self._synthetic.era_index, "cbor": self._synthetic_parts(index)[0]}
        item, _ = decode_item(stored)
        tag, block = item
        header = encode_item(block[0])
        if tag in (0, 1):
            return {"era": 0, "byron_variant": tag, "size_hint": len(stored), "cbor": header}
        return {"era": tag - 1, "cbor": header}

    def era_index(self, index: int) -> int:
        """The hard-fork era index of the block at `index` (Byron 0 .. Conway 6), as headers carry it."""
        if index not in self._stored:
            return self._synthetic.era_index
        return int(self.header(index)["era"])

    def _synthetic_parts(self, index: int) -> tuple[bytes, _Body]:
        prev = self._first_prev if index == 0 else bytes(self._hashes[index * 32 - 32 : index * 32])
        header = self._render_header(index, self._slots[index], self._numbers[index], prev)
        if self.fault is not None and self.fault.at == index and self.fault.kind == "hash":
            header = _tamper(header)
        return header, self._bodies.get(index, self._filler)

    def index_of(self, point: Any) -> int | None:
        """The index of a point on the chain (-1 for the origin), or None when it is not on the chain."""
        found = as_point(point)
        if found is None:
            return -1
        index = bisect_left(self._slots, found.slot)
        while index < len(self) and self._slots[index] == found.slot:  # a Byron EBB shares its slot
            if self._hashes[index * 32 : index * 32 + 32] == found.hash:
                return index
            index += 1
        return None

    def find_intersection(self, points: Iterable[Any]) -> int | None:
        """The index of the first of `points` that is on the chain (-1: the origin), or None."""
        for point in points:
            index = self.index_of(point)
            if index is not None:
                return index
        return None

    def successor(self, point: Any) -> int | None:
        """The index of the block after `point`, or None when there is none or the point is not on the chain."""
        index = self.index_of(point)
        if index is None or index + 1 >= len(self):
            return None
        return index + 1

    def range(self, lower: Any, upper: Any) -> range | None:
        """The indexes of the blocks from `lower` to `upper` inclusive, or None unless both are on the
        chain in that order (as block-fetch asks: MsgNoBlocks otherwise)."""
        if lower is None or upper is None:
            return None
        low, high = self.index_of(lower), self.index_of(upper)
        if low is None or high is None or low > high:
            return None
        return range(low, high + 1)

    def blocks(self, lower: Any, upper: Any) -> Iterator[bytes] | None:
        """The blocks of `range(lower, upper)`, rendered one at a time; None when it is not on the chain."""
        indexes = self.range(lower, upper)
        return None if indexes is None else (self.block(i) for i in indexes)

    def transactions(self) -> Iterator[bytes]:
        """The GenTx `[eraIndex, #6.24(tx)]` of every Shelley-or-later transaction in the stored blocks,
        in chain order, each as the exact bytes of its parts (so its tx id is the block's)."""
        for index in range(len(self)):
            if index in self._stored:
                yield from _transactions_of(self._stored[index])
            elif index in self._bodies:
                era = self._synthetic.era_index
                for tx in self._bodies[index].transactions:
                    yield encode_item([era, Tag(24, EncodedBytes(tx))])


def _transactions_of(block_content: bytes) -> Iterator[bytes]:
    item, _ = decode_item(block_content)
    tag, block = item
    if tag in (0, 1) or not isinstance(block, list) or len(block) < 4:
        return
    era = tag - 1
    bodies, witnesses, aux = block[1], block[2], block[3]
    invalid = {int(i) for i in block[4]} if len(block) > 4 else set()
    aux_by_index = {int(key): value for key, value in _map_items(aux)}
    for index, (body, witness) in enumerate(zip(bodies, witnesses, strict=False)):
        auxiliary = aux_by_index.get(index)
        parts = [encode_item(body), encode_item(witness)]
        if len(block) > 4:
            parts.append(b"\xf4" if index in invalid else b"\xf5")
        parts.append(b"\xf6" if auxiliary is None else encode_item(auxiliary))
        tx = _head(4, len(parts)) + b"".join(parts)
        yield encode_item([era, Tag(24, EncodedBytes(tx))])


def _map_items(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, Map):
        return list(value.pairs)
    return list(value.items()) if isinstance(value, dict) else []


def _hex(digest: bytes | None) -> str:
    return "nothing (genesis)" if digest is None else digest.hex()[:16] + "…"


# -- --chain PATH ------------------------------------------------------------------------------------


def load_chain(path: str | Path, **options: Any) -> ChainStore:
    """Read a chain file for `--chain PATH`; `BrokenChain` when its blocks do not link.

    Two formats, told apart by their first byte:
    - text: one block per line, in hex; blank lines and lines starting with `#` are ignored;
    - binary: a CBOR sequence (RFC 8742) of blocks, back to back.
    Each block is its block content `[blockEraTag, block]`, or that content wrapped in tag 24 (as
    MsgBlock carries it). Blocks are in chain order, oldest first.
    """
    data = Path(path).read_bytes()
    return ChainStore.from_blocks(_chain_blocks(data, str(path)), **options)


def _chain_blocks(data: bytes, name: str) -> Iterator[bytes]:
    if data[:1] in b"0123456789abcdefABCDEF#\r\n\t ":
        for number, line in enumerate(data.decode("ascii", errors="replace").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                block = _unwrap(bytes.fromhex(line))
            except (ValueError, DecodeError):
                raise BrokenChain(f"{name}:{number}: not a block in hex") from None
            yield block
        return
    position = 0
    while position < len(data):
        try:
            _, end = decode_item(data, position, allow_trailing=True)
        except DecodeError as error:
            raise BrokenChain(f"{name}: byte {position}: not a CBOR block: {error}") from None
        yield _unwrap(data[position:end])
        position = end


def _unwrap(block: bytes) -> bytes:
    """A block content, given bare or in its tag-24 wrapper."""
    if block[:2] == b"\xd8\x18":
        item, _ = decode_item(block)
        if isinstance(item, Tag) and isinstance(item.value, bytes):
            return bytes(item.value)
    return block
