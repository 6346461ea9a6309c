"""Reading block points and transaction ids, which the block-fetch and tx-submission rules use."""

from __future__ import annotations

import cbor2
import pytest

from conformance.protocol import cardano_facts

from .moves import CHAIN, TXS, make_block


def test_block_points_follow_the_chain() -> None:
    points = [cardano_facts.block_info(block) for _, block in CHAIN]
    assert all(p is not None for p in points)
    for (expected, _), found in zip(CHAIN, points, strict=True):
        assert found is not None and (found.slot, found.hash) == (expected["slot"], expected["hash"])
    for before, after in zip(points, points[1:], strict=False):
        assert after is not None and before is not None and after.prev_hash == before.hash


@pytest.mark.parametrize(
    "data", [b"", b"\x00", b"\x82\x00\x80", cbor2.dumps([1, [[1]]]), "text", make_block(1, 1, None)[:10]]
)
def test_unreadable_blocks_give_no_point(data: object) -> None:
    assert cardano_facts.block_info(data) is None


def test_a_tx_id_is_the_hash_of_its_body() -> None:
    for txid, tx, size in TXS[:5]:
        assert cardano_facts.tx_id(tx) == cardano_facts.txid_key(txid)
        assert cardano_facts.tx_size(tx) == size
    assert cardano_facts.tx_id(b"\x00") is None and cardano_facts.txid_key(b"\xff") is None


def test_byron_blocks_have_points_too() -> None:
    """A real preprod Byron main block: its point matches the hash its source recorded."""
    from conformance.vectors import load_vectors

    vector = next(v for v in load_vectors() if v.id == "blk-harmonic-preprod-byron-main")
    point = cardano_facts.block_info(vector.data)
    assert point is not None and point.hash.hex() == vector.extra["block_info"]["block_hash"]
