"""Cardano wrappers: GenTx/GenTxId and points, cross-checked between independent Haskell golden files."""

from __future__ import annotations

import cbor2
import pytest

from conformance import wire
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


ERA_INDEX = {"Byron": 0, "Shelley": 1, "Allegra": 2, "Mary": 3, "Alonzo": 4, "Babbage": 5, "Conway": 6}
REAL_HEADERS = [
    v for v in VECTORS.values() if v.payload == "bare-header" and v.extra.get("block_info", {}).get("block_hash")
]


def _era_envelope(vector) -> bytes:  # type: ignore[no-untyped-def]
    """The N2N chain-sync header envelope around a real header's untouched bytes (the hash is the source's)."""
    era = str(vector.extra["era"])
    if era.startswith("Byron"):
        variant = 0 if "EBB" in era else 1
        return cbor2.dumps([0, [[variant, len(vector.data)], cbor2.CBORTag(24, vector.data)]])
    return cbor2.dumps([ERA_INDEX[era.split()[0]], cbor2.CBORTag(24, vector.data)])


def test_there_are_real_headers_of_every_era_with_recorded_hashes() -> None:
    eras = {str(v.extra["era"]).split()[0] for v in REAL_HEADERS}
    assert eras == set(ERA_INDEX), eras
    assert any("EBB" in str(v.extra["era"]) for v in REAL_HEADERS)


@pytest.mark.parametrize("vector", REAL_HEADERS, ids=lambda v: v.id)
def test_header_point_matches_the_hash_recorded_by_the_source(vector) -> None:  # type: ignore[no-untyped-def]
    """Real headers of every era (Byron EBB and main included) in their chain-sync envelope: the point we
    compute is the block hash the source recorded (an explorer, a node), not our own formula run twice."""
    item, _ = cbor.decode_item(_era_envelope(vector))
    point = cardano.header_point(Header.from_item(item, "$"))
    assert point.hash.hex() == vector.extra["block_info"]["block_hash"]
    slot = vector.extra["block_info"].get("slot")
    if slot is not None:
        assert point.slot == slot


def test_a_header_with_one_byte_changed_no_longer_matches() -> None:
    """The oracle can fail: one flipped bit in a Shelley header's KES signature changes the point's hash."""
    vector = next(v for v in REAL_HEADERS if v.extra["era"] == "Shelley")
    data = bytearray(vector.data)
    data[-1] ^= 1
    item, _ = cbor.decode_item(cbor2.dumps([ERA_INDEX["Shelley"], cbor2.CBORTag(24, bytes(data))]))
    assert cardano.header_point(Header.from_item(item, "$")).hash.hex() != vector.extra["block_info"]["block_hash"]


def test_real_shelley_rollforward_header_point_matches_the_recorded_block_hash() -> None:
    message = wire.decode("chain-sync", VECTORS["cs-gouroboros-rollforward-ntn-shelley"].data)
    point = cardano.header_point(message.fields["header"])
    block = VECTORS["blk-gouroboros-legacytestnet-shelley"]
    assert point.hash.hex() == block.extra["block_info"]["block_hash"]
    assert point.slot == block.extra["block_info"]["slot"]


BLOCK_CONTENTS = [v for v in VECTORS.values() if v.payload == "block-content"]


@pytest.mark.parametrize("vector", BLOCK_CONTENTS, ids=lambda v: v.id)
def test_block_info_from_the_header_alone_equals_decoding_the_whole_block(vector) -> None:  # type: ignore[no-untyped-def]
    """The fast path reads the header's exact bytes from the heads; the general path decodes everything."""
    assert cardano.block_info(vector.data) == cardano._block_info_decoded(vector.data, cardano.BYRON_K)


def test_an_indefinite_wrapper_takes_the_general_path_with_the_same_answer() -> None:
    vector = next(v for v in BLOCK_CONTENTS if v.extra.get("era") == "Conway")
    assert vector.data[0] == 0x82  # [blockEraTag, block]
    indefinite = b"\x9f" + vector.data[1:] + b"\xff"
    assert cardano.block_info(indefinite) == cardano.block_info(vector.data)


@pytest.mark.parametrize(
    "hex_input",
    ["a0", "8100", "820080", "8200a0", "83000000", "82f6820000"],
    ids=["map", "one-item", "empty-block", "map-block", "three-items", "null-era"],
)
def test_a_block_of_the_wrong_shape_is_a_shape_mismatch(hex_input: str) -> None:
    with pytest.raises(ShapeMismatch):
        cardano.block_info(bytes.fromhex(hex_input))


def test_a_block_with_bytes_after_it_is_refused() -> None:
    vector = BLOCK_CONTENTS[0]
    with pytest.raises(wire.TrailingBytes):
        cardano.block_info(vector.data + b"\x00")
