"""The Cardano instantiation is as strict as the node's HardFork codec: transactions and tx ids.

A tx is `[eraIndex, #6.24(bytes .cbor tx)]` (Byron `[0, [kind 0..3, payload]]`) and a tx id
`[eraIndex, bstr .size 32]` (Byron `[0, [kind 0..3, hash]]`), eraIndex 0..7 (`decodeNS` refuses any other),
the same in node-to-node TxSubmission2 and node-to-client LocalTxSubmission / LocalTxMonitor. The exact bytes
are kept. Every case goes through bytes: the consensus golden GenTx / GenTxId payloads, or bytes built from
them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from conformance import wire
from conformance.vectors import Vector, load_vectors
from conformance.wire.schema import RawCbor

VECTORS = load_vectors()
GENTX = [v for v in VECTORS if v.kind == "payload" and v.payload == "gentx"]
GENTXID = [v for v in VECTORS if v.kind == "payload" and v.payload == "gentxid"]

CONWAY_TX = bytes.fromhex("8206d8184e84a300d901028001800200a0f5f6")
CONWAY_ID = bytes.fromhex("820658203da9a3b38dce0e87ca4a88f3328caac7a970cf9ac40424cde2b675768d11f11b")
TX_INNER = CONWAY_TX[2:]  # d8184e...: the tag-24 item on its own
ID_INNER = CONWAY_ID[2:]  # 5820...: the 32-byte id on its own


def in_tx_messages(tx: bytes) -> list[tuple[str, bytes, str]]:
    """(protocol, message bytes, state) of every message that carries one transaction."""
    return [
        ("tx-submission2", b"\x82\x03\x9f" + tx + b"\xff", "StTxs"),
        ("local-tx-submission", b"\x82\x00" + tx, "StIdle"),
        ("local-tx-monitor", b"\x82\x06" + tx, "StBusyNextTx"),
    ]


def in_txid_messages(txid: bytes) -> list[tuple[str, bytes, str]]:
    """(protocol, message bytes, state) of every message that carries one tx id."""
    return [
        ("tx-submission2", b"\x82\x01\x9f\x82" + txid + b"\x18\x64\xff", "StTxIdsBlocking"),
        ("tx-submission2", b"\x82\x02\x9f" + txid + b"\xff", "StIdle"),
        ("local-tx-monitor", b"\x82\x07" + txid, "StAcquired"),
    ]


def refused(protocol: str, data: bytes, state: str) -> wire.DecodeError:
    with pytest.raises(wire.DecodeError) as caught:
        wire.decode(protocol, data, state)
    return caught.value


def test_the_issue_bytes_are_refused() -> None:
    """MsgSubmitTx with a bare byte string: the node's GenTx decoder needs [era, ...]."""
    error = refused("local-tx-submission", bytes.fromhex("820042aabb"), "StIdle")
    assert isinstance(error, wire.ShapeMismatch)
    assert (error.message, error.path) == ("MsgSubmitTx", "$.tx")


@pytest.mark.parametrize("golden", GENTX, ids=lambda v: v.id)
def test_every_golden_gentx_is_a_transaction_in_every_message_that_carries_one(golden: Vector) -> None:
    for protocol, data, state in in_tx_messages(golden.data):
        message = wire.decode(protocol, data, state)
        assert wire.encode(message) == data
        carried = message.fields["txs"][0] if "txs" in message.fields else message.fields["tx"]
        assert isinstance(carried, RawCbor) and bytes(carried) == golden.data


@pytest.mark.parametrize("golden", GENTXID, ids=lambda v: v.id)
def test_every_golden_gentxid_is_a_tx_id_in_every_message_that_carries_one(golden: Vector) -> None:
    for protocol, data, state in in_txid_messages(golden.data):
        message = wire.decode(protocol, data, state)
        assert wire.encode(message) == data


@pytest.mark.parametrize(
    ("case", "tx"),
    [
        ("bare bytes", bytes.fromhex("42aabb")),
        ("era 8 (no such era)", b"\x82\x08" + TX_INNER),
        ("era 255", b"\x82\x18\xff" + TX_INNER),
        ("negative era", b"\x82\x20" + TX_INNER),
        ("no tag 24", b"\x82\x06" + bytes.fromhex("4e84a300d901028001800200a0f5f6")),
        ("tag 24 on three items", bytes.fromhex("8201d81843010203")),
        ("tag 24 on bytes that are not CBOR", bytes.fromhex("8205d81844deadbeef")),
        ("tag 24 on a chunked byte string", bytes.fromhex("8206d8185f4101ff")),
        ("a tx id where a tx belongs", CONWAY_ID),
        ("Byron with a Shelley body", b"\x82\x00" + TX_INNER),
        ("Byron kind 4", bytes.fromhex("82008204a0")),
        ("three items", b"\x83\x06" + TX_INNER + b"\x00"),
        ("indefinite wrapper", b"\x9f\x06" + TX_INNER + b"\xff"),
    ],
)
def test_a_malformed_transaction_is_refused_everywhere(case: str, tx: bytes) -> None:
    for protocol, data, state in in_tx_messages(tx):
        error = refused(protocol, data, state)
        assert isinstance(error, wire.ShapeMismatch), (case, protocol, error)
        assert error.path.startswith(("$.tx", "$.txs")), (case, protocol, error.path)


@pytest.mark.parametrize(
    ("case", "txid"),
    [
        ("bare bytes", bytes.fromhex("44deadbeef")),
        ("era 8", b"\x82\x08" + ID_INNER),
        ("31-byte id", b"\x82\x06\x58\x1f" + bytes(31)),
        ("33-byte id", b"\x82\x06\x58\x21" + bytes(33)),
        ("chunked id", b"\x82\x06\x5f\x58\x20" + bytes(32) + b"\xff"),
        ("a tx where a tx id belongs", CONWAY_TX),
        ("Byron without its kind", b"\x82\x00" + ID_INNER),
        ("Byron kind 4", b"\x82\x00\x82\x04" + ID_INNER),
    ],
)
def test_a_malformed_tx_id_is_refused_everywhere(case: str, txid: bytes) -> None:
    for protocol, data, state in in_txid_messages(txid):
        error = refused(protocol, data, state)
        assert isinstance(error, wire.ShapeMismatch), (case, protocol, error)


@pytest.mark.parametrize("era", range(1, 8))
def test_every_shelley_based_era_index_is_accepted(era: int) -> None:
    for protocol, data, state in in_tx_messages(bytes([0x82, era]) + TX_INNER):
        assert wire.encode(wire.decode(protocol, data, state)) == data
    for protocol, data, state in in_txid_messages(bytes([0x82, era]) + ID_INNER):
        assert wire.encode(wire.decode(protocol, data, state)) == data


@pytest.mark.parametrize(
    "tx",
    [
        b"\x82\x18\x06" + TX_INNER,  # the era index written in two bytes, as cborg's decodeWord8 accepts
        b"\x98\x02\x06" + TX_INNER,  # the array head written in two bytes
        b"\x82\x06\xd8\x18\x58\x0e" + TX_INNER[3:],  # the byte string length written in two bytes
    ],
)
def test_non_shortest_forms_the_node_accepts_come_back_byte_for_byte(tx: bytes) -> None:
    for protocol, data, state in in_tx_messages(tx):
        message = wire.decode(protocol, data, state)
        assert wire.encode(message) == data


def test_scripts_may_still_send_an_ill_shaped_transaction_on_purpose() -> None:
    """Encoding is not validation: building the refused bytes is a feature (negative scenarios)."""
    message = wire.Message("local-tx-submission", "MsgSubmitTx", {"tx": RawCbor(bytes.fromhex("42aabb"))})
    data = wire.encode(message)
    assert data == bytes.fromhex("820042aabb")
    refused("local-tx-submission", data, "StIdle")


@pytest.mark.parametrize("protocol", ["tx-submission2", "local-tx-submission", "local-tx-monitor"])
def test_generated_messages_carry_well_shaped_transactions(protocol: str) -> None:
    """The strategies derive from the GenTx / GenTxId shapes, so what they generate decodes again."""

    @settings(max_examples=50, deadline=None)
    @given(message=wire.codec(protocol).strategy())
    def round_trip(message: wire.Message) -> None:
        data = wire.encode(message)
        assert wire.encode(wire.decode(protocol, data)) == data

    round_trip()
