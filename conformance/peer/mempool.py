"""A bounded mempool of Cardano transactions (GenTx bytes), as the tx behaviours of the peer share it.

Transactions are kept in arrival order, each with a ticket number that only grows (as the node's
`TicketNo`), so a tx-submission2 outbound side can announce "everything after the last ticket I sent".
Keys are GenTxIds: `(era, blake2b-256 of the tx body)` for Shelley and later; a Byron plain transaction
(`[0, [0, [tx, witnesses]]]`) is keyed by the hash of its `tx`, which is its real id. The other Byron
kinds (delegation certificates, update proposals, votes) are refused as unsupported: their ids are not
computed here. The size of a transaction is its serialised size as the protocol rules measure it: the
tag-24 content of a Shelley-or-later GenTx, the payload of a Byron one.

`snapshot()` freezes the contents at a slot for local-tx-monitor (MsgAcquire); `version` counts changes,
so a behaviour waiting for a change (a held blocking MsgRequestTxIds, MsgAwaitAcquire) can poll for it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .txwire import ERAS, DecodeError, GenTx, Tag, decode_item, encode_item, gentx_digest

DEFAULT_CAPACITY = 2 * 90_112
"""Bytes: the node's default mempool capacity is twice the maximum block body size (mainnet 90,112)."""

TxKey = tuple[int, bytes]
"""(era index, 32-byte id): how a transaction is found, whatever the encoding of its GenTxId."""


class RejectReason(StrEnum):
    """Why `Mempool.add` refused a transaction."""

    DUPLICATE = "duplicate"
    MALFORMED = "malformed"
    OVER_CAPACITY = "over-capacity"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class MempoolTx:
    """One transaction in the mempool: its ticket, GenTxId and GenTx bytes, era and size in bytes."""

    ticket: int
    txid: bytes
    tx: bytes
    era: int
    size: int

    @property
    def key(self) -> TxKey:
        return (self.era, txid_hash(self.txid))


@dataclass(frozen=True)
class Admission:
    """The answer of `Mempool.add`: the GenTxId (when it could be computed) and the reason of a refusal."""

    txid: bytes | None
    reason: RejectReason | None = None
    era: int | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


class MalformedTx(ValueError):
    """A GenTx whose id cannot be computed; `reason` says whether it is malformed or unsupported."""

    def __init__(self, reason: RejectReason, detail: str, era: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.era = era


@dataclass(frozen=True)
class Identified:
    """What the mempool needs to know of a GenTx: its id bytes, key, era and size."""

    txid: bytes
    key: TxKey
    era: int
    size: int


def identify(gentx: bytes) -> Identified:
    """The GenTxId, era and size of a GenTx, or `MalformedTx`."""
    try:
        item, _ = decode_item(bytes(gentx))
        wrapped = GenTx.from_item(item, "$")
    except (DecodeError, TypeError, ValueError) as error:
        raise MalformedTx(RejectReason.MALFORMED, f"not a GenTx: {error}") from None
    era = int(wrapped["era"])
    inner = wrapped["tx"]
    if era == 0 and (not isinstance(inner, dict) or inner.get("byron_kind") != 0):
        raise MalformedTx(RejectReason.UNSUPPORTED, "only plain Byron transactions (kind 0) are kept", 0)
    try:
        digest = gentx_digest(wrapped)
    except DecodeError as error:
        raise MalformedTx(RejectReason.MALFORMED, f"no transaction id: {error}", era) from None
    if era == 0:
        return Identified(encode_item([0, [0, digest]]), (0, digest), 0, len(inner["payload"]))
    return Identified(encode_item([era, digest]), (era, digest), era, len(inner))


def txid_hash(txid: bytes) -> bytes:
    """The 32-byte hash inside GenTxId bytes (`[era, id]`, Byron `[0, [kind, id]]`)."""
    return txid_key(txid)[1]


def txid_key(txid: bytes) -> TxKey:
    """(era, hash) of GenTxId bytes in any encoding; ValueError when they are not a GenTxId."""
    try:
        item, _ = decode_item(bytes(txid))
    except DecodeError as error:
        raise ValueError(f"not a GenTxId: {error}") from None
    if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int):
        era, ident = int(item[0]), item[1]
        if era == 0 and isinstance(ident, list) and len(ident) == 2:
            ident = ident[1]
        if isinstance(ident, bytes) and len(ident) == 32:
            return era, bytes(ident)
    raise ValueError("not a GenTxId [era, id]")


def wrap_gentx(era: int, transaction: bytes) -> bytes:
    """A bare transaction of `era` (an HFC index) as the GenTx the messages carry."""
    if era == 0:
        item, _ = decode_item(transaction)
        return encode_item([0, [0, item]])
    return encode_item([era, Tag(24, bytes(transaction))])


@dataclass(frozen=True)
class MempoolSnapshot:
    """The mempool frozen at one moment, as local-tx-monitor acquires it."""

    slot: int
    capacity: int
    txs: tuple[MempoolTx, ...]
    _keys: frozenset[TxKey] = field(default=frozenset(), repr=False)

    @property
    def size(self) -> int:
        return sum(tx.size for tx in self.txs)

    @property
    def count(self) -> int:
        return len(self.txs)

    def has(self, txid: bytes) -> bool:
        try:
            return txid_key(txid) in self._keys
        except ValueError:
            return False

    def same_as(self, other: MempoolSnapshot) -> bool:
        """The node's `isSameSnapshot`: the same tickets at the same slot."""
        return self.slot == other.slot and [t.ticket for t in self.txs] == [t.ticket for t in other.txs]


class Mempool:
    """Transactions in arrival order, bounded by `capacity` bytes; see the module docstring."""

    def __init__(self, txs: Iterable[bytes] = (), *, capacity: int = DEFAULT_CAPACITY, slot: int = 0) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must not be negative, not {capacity}")
        self.capacity = capacity
        self.slot = slot
        """The slot of the block being built, which MsgAcquired reports (the chain's owner advances it)."""
        self.version = 0
        self._next_ticket = 1
        self._tickets: list[int] = []
        self._by_ticket: dict[int, MempoolTx] = {}
        self._by_key: dict[TxKey, int] = {}
        self._size = 0
        self.extend(txs)

    # -- contents ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_ticket)

    def __iter__(self) -> Iterator[MempoolTx]:
        return iter(list(self._by_ticket.values()))

    def __contains__(self, txid: object) -> bool:
        return isinstance(txid, bytes) and self.get(txid) is not None

    @property
    def size(self) -> int:
        """Bytes of all transactions held."""
        return self._size

    def get(self, txid: bytes) -> MempoolTx | None:
        """The transaction with this GenTxId (any encoding of it), or None."""
        try:
            ticket = self._by_key.get(txid_key(txid))
        except ValueError:
            return None
        return None if ticket is None else self._by_ticket.get(ticket)

    def holds(self, key: TxKey) -> bool:
        """Whether a transaction with this (era, hash) is held."""
        return key in self._by_key

    def after(self, ticket: int, limit: int | None = None) -> list[MempoolTx]:
        """Transactions that arrived after `ticket` (0: all), oldest first, at most `limit` of them."""
        out: list[MempoolTx] = []
        start = bisect.bisect_right(self._tickets, ticket)
        for number in self._tickets[start:]:
            if limit is not None and len(out) >= limit:
                break
            entry = self._by_ticket.get(number)
            if entry is not None:
                out.append(entry)
        return out

    def snapshot(self) -> MempoolSnapshot:
        txs = tuple(self._by_ticket.values())
        return MempoolSnapshot(self.slot, self.capacity, txs, frozenset(tx.key for tx in txs))

    # -- changes ----------------------------------------------------------------------------------

    def add(self, gentx: bytes, identified: Identified | None = None) -> Admission:
        """Add a GenTx at the end; refused when malformed, unsupported, already held, or over capacity.

        `identified` is `identify(gentx)` when the caller has computed it already (it is not checked)."""
        try:
            found = identified if identified is not None else identify(gentx)
        except MalformedTx as refused:
            return Admission(None, refused.reason, refused.era)
        if found.key in self._by_key:
            return Admission(found.txid, RejectReason.DUPLICATE, found.era)
        if self._size + found.size > self.capacity:
            return Admission(found.txid, RejectReason.OVER_CAPACITY, found.era)
        entry = MempoolTx(self._next_ticket, found.txid, bytes(gentx), found.era, found.size)
        self._next_ticket += 1
        self._tickets.append(entry.ticket)
        self._by_ticket[entry.ticket] = entry
        self._by_key[found.key] = entry.ticket
        self._size += entry.size
        self.version += 1
        return Admission(found.txid, None, found.era)

    def extend(self, txs: Iterable[bytes]) -> list[Admission]:
        """Add every GenTx of `txs` (e.g. `ChainStore.transactions()`), in order; the answers, in order."""
        return [self.add(tx) for tx in txs]

    def remove(self, txid: bytes) -> bool:
        """Remove the transaction with this GenTxId; False when it was not held."""
        try:
            key = txid_key(txid)
        except ValueError:
            return False
        ticket = self._by_key.pop(key, None)
        if ticket is None:
            return False
        entry = self._by_ticket.pop(ticket)
        self._size -= entry.size
        self.version += 1
        if len(self._tickets) > 2 * len(self._by_ticket) + 16:
            self._tickets = [t for t in self._tickets if t in self._by_ticket]
        return True

    def advance(self, slot: int) -> None:
        """Move the slot of the block being built (a new snapshot differs from the old one)."""
        if slot != self.slot:
            self.slot = slot
            self.version += 1


def golden_transactions() -> list[bytes]:
    """Every distinct golden transaction as GenTx bytes: the GenTx vectors of tx-submission2 and
    local-tx-submission, and the bare ledger transactions wrapped for their era (Byron included)."""
    from conformance.vectors import load_vectors

    out: list[bytes] = []
    seen: set[bytes] = set()
    for vector in load_vectors():
        if not vector.valid or vector.kind != "payload":
            continue
        if vector.payload == "gentx":
            gentx = vector.data
        elif vector.payload == "tx" and vector.extra.get("era") in _ERA_NAMES:
            gentx = wrap_gentx(_ERA_NAMES[vector.extra["era"]], vector.data)
        else:
            continue
        if gentx not in seen:
            seen.add(gentx)
            out.append(gentx)
    return out


SHELLEY_ONWARDS = ("Shelley", "Allegra", "Mary", "Alonzo", "Babbage", "Conway")


def golden_ledger_transactions(eras: Sequence[str] = SHELLEY_ONWARDS) -> list[bytes]:
    """The golden ledger transactions of `eras` as bare CBOR, the form a block body holds (the filler
    of `ChainStore.synthetic(block_size=...)`)."""
    from conformance.vectors import load_vectors

    return [
        vector.data
        for vector in load_vectors()
        if vector.valid and vector.kind == "payload" and vector.payload == "tx" and vector.extra.get("era") in eras
    ]


_ERA_NAMES = {name.capitalize(): index for index, name in enumerate(ERAS)}
