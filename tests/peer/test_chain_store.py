"""The chain store: synthetic headers checked by the wire layer's own hash code, the ledger's body hash
checked against real blocks, real chains refused when broken, the --chain file formats, lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer.chain import (
    BrokenChain,
    ChainFault,
    ChainStore,
    block_body_problem,
    header_info,
    load_chain,
    read_block,
)
from conformance.vectors import load_vectors
from conformance.wire import cardano, cbor
from conformance.wire.common import GenTx, Header

VECTORS = load_vectors()
REAL_BLOCKS = {v.id: v for v in VECTORS if v.protocol == "ledger" and v.payload == "block-content"}
CONWAY_TXS = [
    v.data for v in VECTORS if v.id in ("tx-pallas-conway1-tx", "tx-pallas-conway3-tx", "tx-pallas-conway4-tx")
]


def test_synthetic_headers_hash_and_link_as_the_wire_layer_computes() -> None:
    chain = ChainStore.synthetic(300)
    previous = None
    for index in range(len(chain)):
        block = chain.block(index)
        info = cardano.block_info(block)
        header = chain.header(index)
        assert Header.from_item(
            cbor.decode_item(cbor.encode_item([header["era"], cbor.Tag(24, header["cbor"])]))[0], "$"
        )
        assert cardano.header_point(header) == chain.point(index) == cardano.ChainPoint(info.slot, info.hash)
        assert info.block_no == chain.block_no(index) == index
        assert info.prev_hash == (previous.hash if previous is not None else None)
        assert header_info(header) == info
        assert block_body_problem(block) is None
        previous = chain.point(index)
    assert chain.tip() == {"point": {"slot": 299, "hash": chain.point(299).hash}, "block_no": 299}


def test_synthetic_header_has_the_babbage_conway_layout() -> None:
    header, _ = cbor.decode_item(ChainStore.synthetic(2, era="babbage").header(1)["cbor"])
    body, signature = header
    assert len(body) == 10 and len(signature) == 448
    assert [len(body[i]) for i in (3, 4, 7)] == [32, 32, 32]
    assert len(body[5]) == 2 and len(body[5][1]) == 80
    assert [len(body[8][0]), len(body[8][3])] == [32, 64]
    assert list(body[9]) == [8, 0]


@pytest.mark.parametrize("vector", [v for v in REAL_BLOCKS.values() if v.data[1] > 1], ids=lambda v: v.id)
def test_the_body_hash_formula_agrees_with_real_blocks(vector) -> None:  # type: ignore[no-untyped-def]
    assert block_body_problem(vector.data) is None


def test_an_empty_synthetic_body_hashes_as_a_real_empty_conway_block() -> None:
    real, _ = cbor.decode_item(REAL_BLOCKS["blk-amaru-preprod-conway"].data)
    synthetic, _ = cbor.decode_item(ChainStore.synthetic(1).block(0))
    assert real[1][0][0][6:8] == synthetic[1][0][0][6:8]  # size 4 and the hash of [] [] {} []


def test_a_changed_body_is_seen() -> None:
    block = ChainStore.synthetic(3, fault=ChainFault("body", 1)).block(1)
    assert "the header says" in (block_body_problem(block) or "")


def test_a_real_block_is_a_chain_and_a_synthetic_chain_can_follow_it() -> None:
    real = REAL_BLOCKS["blk-pallas-conway1-block"].data
    chain = ChainStore.from_blocks([real])
    chain.extend(3)
    assert chain.block(0) == real
    info = cardano.block_info(real)
    assert cardano.block_info(chain.block(1)).prev_hash == info.hash
    assert chain.block_no(3) == info.block_no + 3
    assert cardano.header_point(chain.header(0)) == chain.point(0)
    ChainStore.from_blocks(chain.block(i) for i in range(4))  # the links hold


def test_unrelated_real_blocks_are_refused() -> None:
    blocks = [REAL_BLOCKS["blk-pallas-conway1-block"].data, REAL_BLOCKS["blk-yaci-conway"].data]
    with pytest.raises(BrokenChain, match="block 1 .* links to"):
        ChainStore.from_blocks(blocks)


def test_a_real_byron_block_gives_a_byron_header_envelope() -> None:
    vector = REAL_BLOCKS["blk-pallas-byron1-block"]
    header = ChainStore.from_blocks([vector.data]).header(0)
    assert header["era"] == 0 and header["byron_variant"] == 1
    assert cardano.header_point(header).hash.hex() == vector.extra["block_info"]["block_hash"]


@pytest.mark.parametrize("form", ["hex", "hex-tag24", "cbor-sequence"])
def test_chain_files_load(tmp_path: Path, form: str) -> None:
    chain = ChainStore.synthetic(5)
    blocks = [chain.block(i) for i in range(5)]
    path = tmp_path / "chain"
    if form == "cbor-sequence":
        path.write_bytes(b"".join(blocks))
    else:
        wrap = (lambda b: cbor.encode_item(cbor.Tag(24, b))) if form == "hex-tag24" else (lambda b: b)
        path.write_text("# a chain\n\n" + "\n".join(wrap(b).hex() for b in blocks) + "\n")
    loaded = load_chain(path)
    assert [loaded.point(i) for i in range(5)] == [chain.point(i) for i in range(5)]


def test_a_broken_chain_file_is_refused_with_where(tmp_path: Path) -> None:
    chain = ChainStore.synthetic(4)
    path = tmp_path / "chain.hex"
    path.write_text("\n".join(chain.block(i).hex() for i in (0, 1, 3)))
    with pytest.raises(BrokenChain, match="block 2"):
        load_chain(path)
    path.write_text("# a comment\n8x\n")
    with pytest.raises(BrokenChain, match="chain.hex:2"):
        load_chain(path)
    path.write_bytes(b"\x82\x07")
    with pytest.raises(BrokenChain, match="not a CBOR block"):
        load_chain(path)


def test_lookups() -> None:
    chain = ChainStore.synthetic(10)
    stranger = cardano.ChainPoint(4, b"\x00" * 32)
    assert chain.find_intersection([stranger, chain.point(7), chain.point(2)]) == 7
    assert chain.find_intersection([stranger]) is None
    assert chain.find_intersection([stranger, None]) == -1
    assert chain.successor(chain.point(3)) == 4 and chain.successor(chain.point(9)) is None
    assert chain.successor(None) == 0
    assert chain.range(chain.point(2), chain.point(5)) == range(2, 6)
    assert chain.range(chain.point(5), chain.point(2)) is None
    assert chain.range(stranger, chain.point(2)) is None
    assert list(chain.blocks(chain.point(1), chain.point(2)) or []) == [chain.block(1), chain.block(2)]


def test_rollback_then_extend_makes_a_fork() -> None:
    chain = ChainStore.synthetic(10)
    old = chain.point(8)
    chain.rollback(5)
    assert len(chain) == 6 and chain.forks == [5]
    chain.extend(4)
    assert chain.point(8) != old and chain.index_of(old) is None
    assert cardano.block_info(chain.block(6)).prev_hash == chain.point(5).hash
    ChainStore.from_blocks(chain.block(i) for i in range(len(chain)))
    with pytest.raises(IndexError):
        chain.rollback(20)


def test_transactions_of_synthetic_blocks_keep_their_ids() -> None:
    chain = ChainStore.synthetic(12, transactions=CONWAY_TXS, tx_every=4)
    gentxs = list(chain.transactions())
    expected = [cardano.blake2b_256(cbor.encode_item(cbor.decode_item(tx)[0][0])) for tx in CONWAY_TXS]
    assert [cardano.gentx_id(g) for g in gentxs] == [{"era": 6, "id": digest} for digest in expected]
    assert all(block_body_problem(chain.block(i)) is None for i in range(12))


def test_transactions_of_real_blocks() -> None:
    vector = REAL_BLOCKS["blk-pallas-conway1-block"]
    block, _ = cbor.decode_item(vector.data)
    gentxs = list(ChainStore.from_blocks([vector.data]).transactions())
    assert len(gentxs) == len(block[1][1]) > 0
    for gentx, body in zip(gentxs, block[1][1], strict=True):
        assert GenTx.from_item(cbor.decode_item(gentx)[0], "$")["era"] == 6
        assert cardano.gentx_id(gentx)["id"] == cardano.blake2b_256(cbor.encode_item(body))


def test_a_long_synthetic_chain_is_cheap() -> None:
    chain = ChainStore.synthetic(20_000)
    assert chain.index_of(chain.point(12_345)) == 12_345
    assert cardano.block_info(chain.block(19_999)).block_no == 19_999


def test_unknown_fault_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown chain fault"):
        ChainFault("typo", 1)


@pytest.mark.parametrize("vector", list(REAL_BLOCKS.values()), ids=lambda v: v.id)
def test_the_fast_block_reader_agrees_with_the_exact_one(vector) -> None:  # type: ignore[no-untyped-def]
    assert read_block(vector.data) == (cardano.block_info(vector.data), block_body_problem(vector.data))


@pytest.mark.parametrize("kind", ["body", "link", "hash"])
def test_the_fast_readers_agree_on_faulty_blocks(kind: str) -> None:
    chain = ChainStore.synthetic(4, fault=ChainFault(kind, 2))
    for index in range(4):
        block = chain.block(index)
        assert read_block(block) == (cardano.block_info(block), block_body_problem(block))
        header = chain.header(index)
        assert header_info(header).hash == cardano.header_point(header).hash


def test_several_transactions_per_block() -> None:
    chain = ChainStore.synthetic(3, transactions=CONWAY_TXS, per_block=2)
    assert len(list(chain.transactions())) == 3
    assert block_body_problem(chain.block(1)) is None and read_block(chain.block(2))[1] is None
    assert len(cbor.decode_item(chain.block(1))[0][1][1]) == 2


@pytest.mark.parametrize("fault", [None, "body"])
def test_filled_blocks_have_their_size_and_a_body_their_header_commits_to(fault: str | None) -> None:
    """`block_size` fills blocks with copies of real transactions; the exact reader (the ledger's body-hash
    formula) agrees with the fast one, with and without the offsets the tag-24 check leaves behind."""
    faulty = ChainFault(fault, 2) if fault else None
    chain = ChainStore.synthetic(4, block_size=65_536, filler=CONWAY_TXS, fault=faulty)
    for index in range(4):
        block = chain.block(index)
        assert len(block) > 65_536 or (fault, index) == ("body", 2)  # that fault swaps the body for a short one
        exact = (cardano.block_info(block), block_body_problem(block))
        assert (exact[1] is None) == (fault is None or index != 2), exact
        received = bytes(bytearray(block))  # as a client has it: another object than the store's
        assert read_block(received) == exact  # no offsets known for it yet
        cbor.check_well_formed(received)  # what the tag-24 check of a MsgBlock does
        assert cbor.spans_of(received) is not None
        assert read_block(received) == exact  # the offsets of the check


def test_filled_blocks_need_filler() -> None:
    with pytest.raises(ValueError, match="filler"):
        ChainStore.synthetic(2, block_size=1000)
    assert list(ChainStore.synthetic(3, block_size=2000, filler=CONWAY_TXS).transactions()) == []


def test_every_block_the_store_renders_is_well_formed_by_the_independent_scanner() -> None:
    """The store vouches for its blocks (cbor.vouch), so here they are scanned as copies, by our own scanner."""
    chains = [
        ChainStore.synthetic(5),
        ChainStore.synthetic(5, block_size=20_000, filler=CONWAY_TXS),
        ChainStore.synthetic(5, transactions=CONWAY_TXS, per_block=2),
        *(ChainStore.synthetic(5, fault=ChainFault(kind, 2)) for kind in ("body", "link", "hash")),
        ChainStore.from_blocks([REAL_BLOCKS["blk-pallas-conway1-block"].data]),
    ]
    for chain in chains:
        for index in range(len(chain)):
            block = bytes(bytearray(chain.block(index)))
            assert cbor.scan_item(block) == len(block)
