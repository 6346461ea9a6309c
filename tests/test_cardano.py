"""Cardano wrappers: GenTx/GenTxId and points, cross-checked between independent Haskell golden files."""

from __future__ import annotations

import pytest

from conformance.vectors import load_vectors
from conformance.wire import cardano, cbor
from conformance.wire.common import GenTxId, Header
from conformance.wire.errors import ShapeMismatch

VECTORS = {v.id: v for v in load_vectors()}
LATER_ERAS = ["shelley", "allegra", "mary", "alonzo", "babbage", "conway"]


@pytest.mark.parametrize("era", LATER_ERAS)
def test_gentx_id_matches_the_golden_gentxid_of_the_same_era(era: str) -> None:
    """Two separate consensus golden files (GenTx_<era>, GenTxId_<era>) agree through our hash."""
    computed = cardano.gentx_id(VECTORS[f"tx2-consensus-gentx-{era}"].data)
    golden_id, _ = cbor.decode_item(VECTORS[f"tx2-consensus-gentxid-{era}"].data)
    assert computed == GenTxId.from_item(golden_id, "$")


def test_byron_gentxid_has_the_inner_kind() -> None:
    item, _ = cbor.decode_item(VECTORS["tx2-consensus-gentxid-byron"].data)
    value = GenTxId.from_item(item, "$")
    assert value["era"] == 0 and value["id"]["byron_kind"] == 0 and len(value["id"]["hash"]) == 32


def test_gentxid_with_a_short_hash_is_refused() -> None:
    with pytest.raises(ShapeMismatch):
        GenTxId.from_item([6, b"\x00" * 31], "$")


def test_header_point_for_every_era_envelope() -> None:
    """Byron EBB/main take the 82 00 / 82 01 prefix; later eras hash the header bytes."""
    for name in ("byron_ebb", "byron_regular", "shelley", "conway"):
        item, _ = cbor.decode_item(VECTORS[f"cs-consensus-header-{name}"].data)
        header = Header.from_item(item, "$")
        point = cardano.header_point(header)
        prefix = {"byron_ebb": b"\x82\x00", "byron_regular": b"\x82\x01"}.get(name, b"")
        assert point.hash == cardano.blake2b_256(prefix + bytes(header["cbor"]))


def test_real_shelley_rollforward_header_point_matches_the_recorded_block_hash() -> None:
    from conformance import wire

    message = wire.decode("chain-sync", VECTORS["cs-gouroboros-rollforward-ntn-shelley"].data)
    point = cardano.header_point(message.fields["header"])
    block = VECTORS["blk-gouroboros-legacytestnet-shelley"]
    assert point.hash.hex() == block.extra["block_info"]["block_hash"]
    assert point.slot == block.extra["block_info"]["slot"]
