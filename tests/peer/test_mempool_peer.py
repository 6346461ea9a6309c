"""The peer's mempool: GenTx keyed by GenTxId, arrival order, capacity, snapshots, golden sources."""

from __future__ import annotations

import pytest

from conformance.peer.mempool import Mempool, RejectReason, golden_transactions, identify, txid_key, wrap_gentx
from conformance.vectors import load_vectors
from conformance.wire.cbor import decode_item, encode_item

VECTORS = {v.id: v for v in load_vectors()}
GOLDEN = golden_transactions()
ERAS = ("shelley", "allegra", "mary", "alonzo", "babbage", "conway")


@pytest.mark.parametrize("era", ERAS)
def test_ids_are_the_golden_gentxids(era: str) -> None:
    gentx = VECTORS[f"tx2-consensus-gentx-{era}"].data
    assert identify(gentx).txid == VECTORS[f"tx2-consensus-gentxid-{era}"].data


@pytest.mark.parametrize("vector", [v for v in VECTORS.values() if v.payload == "tx"], ids=lambda v: v.id)
def test_ids_of_ledger_transactions_are_their_known_ids(vector: object) -> None:
    era = {"Byron": 0, "Shelley": 1, "Allegra": 2, "Mary": 3, "Alonzo": 4, "Babbage": 5, "Conway": 6}
    found = identify(wrap_gentx(era[vector.extra["era"]], vector.data))  # type: ignore[attr-defined]
    assert found.key[1].hex() == vector.extra["tx_id"]  # type: ignore[attr-defined]


def test_golden_transactions_are_distinct_and_all_admitted() -> None:
    assert len(GOLDEN) == len(set(GOLDEN)) >= 20
    pool = Mempool(GOLDEN)
    assert len(pool) == len(GOLDEN)
    assert [t.tx for t in pool] == GOLDEN
    assert [t.ticket for t in pool] == sorted(t.ticket for t in pool)
    assert pool.size == sum(t.size for t in pool)


def test_refusals_name_their_reason() -> None:
    pool = Mempool(capacity=identify(GOLDEN[1]).size + 5)
    assert pool.add(GOLDEN[1]).accepted
    assert pool.add(GOLDEN[1]).reason is RejectReason.DUPLICATE
    assert pool.add(GOLDEN[0]).reason is RejectReason.OVER_CAPACITY
    assert pool.add(b"\x82\x01").reason is RejectReason.MALFORMED
    assert pool.add(encode_item([6, b"not a tag"])).reason is RejectReason.MALFORMED
    assert pool.add(encode_item([6, decode_item(bytes.fromhex("d81843010203"))[0]])).reason is RejectReason.MALFORMED
    byron_certificate = encode_item([0, [1, [1, 2]]])
    assert pool.add(byron_certificate).reason is RejectReason.UNSUPPORTED
    assert len(pool) == 1 and pool.version == 1


def test_ids_are_found_whatever_their_encoding() -> None:
    pool = Mempool(GOLDEN[:3])
    entry = list(pool)[1]
    era, digest = txid_key(entry.txid)
    wide = bytes([0x82, 0x18, era, 0x58, 0x20]) + digest  # the era as a one-byte argument
    assert pool.get(wide) == entry and wide in pool
    assert pool.get(b"\xff") is None and b"junk" not in pool


def test_after_and_remove_keep_arrival_order() -> None:
    pool = Mempool(GOLDEN[:6])
    tickets = [t.ticket for t in pool]
    assert [t.ticket for t in pool.after(tickets[1], 2)] == tickets[2:4]
    assert pool.remove(list(pool)[2].txid) and not pool.remove(list(pool)[0].txid[:-1] + b"\x00")
    assert [t.ticket for t in pool.after(tickets[1])] == tickets[3:]
    pool.add(GOLDEN[2])
    assert pool.after(tickets[-1])[0].tx == GOLDEN[2]
    for entry in list(pool):
        pool.remove(entry.txid)
    assert len(pool) == 0 and pool.size == 0 and pool.after(0) == []


def test_snapshots_are_frozen_and_compare_as_the_node_does() -> None:
    pool = Mempool(GOLDEN[:3], slot=7)
    first = pool.snapshot()
    pool.add(GOLDEN[3])
    assert first.count == 3 and pool.snapshot().count == 4
    assert not first.same_as(pool.snapshot())
    assert first.has(list(pool)[0].txid) and not first.has(list(pool)[3].txid) and not first.has(b"")
    again = pool.snapshot()
    assert again.same_as(pool.snapshot())
    pool.advance(8)
    assert not again.same_as(pool.snapshot()) and pool.snapshot().slot == 8


def test_any_iterable_of_gentx_is_a_source() -> None:
    def blocks() -> object:
        yield from GOLDEN[5:8]

    pool = Mempool(blocks())  # type: ignore[arg-type]
    assert [t.tx for t in pool] == GOLDEN[5:8]
    assert [a.accepted for a in pool.extend(iter(GOLDEN[6:10]))] == [False, False, True, True]
