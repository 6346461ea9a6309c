"""Types shared by several mini-protocols: points, tips, era-wrapped headers and blocks, tx ids."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .schema import Bytes, Choice, Const, Embedded, Mapped, Nothing, Raw, Record, Uint

SlotNo = Uint(64)
BlockNo = Uint(64)
HeaderHash = Bytes(max_size=32)
"""Polymorphic in the network layer; 32 bytes (blake2b-256) for Cardano."""

Point = Choice(Record("slot" / SlotNo, "hash" / HeaderHash), Nothing(), cddl="point")
"""`[]` for the origin (decoded to None) or `[slotNo, headerHash]` (decoded to {"slot", "hash"})."""

Tip = Record("point" / Point, "block_no" / BlockNo, cddl="tip")

ERAS = ("byron", "shelley", "allegra", "mary", "alonzo", "babbage", "conway", "dijkstra")
"""Hard-fork combinator era indexes, as used in headers, GenTx, GenTxId and queries."""

_ByronHeader = Record(
    "era" / Const(0),
    "payload"
    / Record(
        "hint" / Record("byron_variant" / Uint(8, high=1), "size_hint" / Uint(32)),
        "cbor" / Embedded("byron.header"),
    ),
)
_LaterHeader = Record("era" / Uint(8, low=1, high=len(ERAS) - 1), "cbor" / Embedded("era.header"))


def _flatten_byron(d: dict[str, Any]) -> dict[str, Any]:
    hint = d["payload"]["hint"]
    return {
        "era": d["era"],
        "byron_variant": hint["byron_variant"],
        "size_hint": hint["size_hint"],
        "cbor": d["payload"]["cbor"],
    }


def _nest_byron(v: dict[str, Any]) -> dict[str, Any]:
    if v.get("era") != 0:
        raise ValueError("not a Byron header")
    hint = {"byron_variant": v["byron_variant"], "size_hint": v["size_hint"]}
    return {"era": 0, "payload": {"hint": hint, "cbor": v["cbor"]}}


def _header_to_json(v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "cbor": bytes(v["cbor"]).hex()}


def _header_from_json(d: dict[str, Any]) -> dict[str, Any]:
    return {**d, "cbor": bytes.fromhex(d["cbor"])}


def _later_only(v: dict[str, Any]) -> dict[str, Any]:
    if v.get("era") == 0 or "byron_variant" in v:
        raise ValueError("a Byron header")
    return v


Header = Choice(
    Mapped(_LaterHeader, dict, _later_only, to_json=_header_to_json, from_json=_header_from_json),
    Mapped(_ByronHeader, _flatten_byron, _nest_byron, to_json=_header_to_json, from_json=_header_from_json),
    cddl="[0, [[0/1, word32], #6.24(bytes)]] / [era, #6.24(bytes)]",
)
"""An N2N chain-sync header: `[eraIndex, #6.24(header)]`;
for Byron `[0, [[variant, sizeHint], #6.24(header)]]`."""

Block = Embedded("cardanoBlock")
"""`#6.24(bytes .cbor [blockEraTag, block])`: the era tag sits inside the wrapper (EBB 0, main 1, ...)."""

_LaterEra = Uint(8, low=1, high=len(ERAS) - 1)

GenTxId = Choice(
    Record("era" / Const(0), "id" / Record("byron_kind" / Uint(8, high=3), "hash" / Bytes(32))),
    Record("era" / _LaterEra, "id" / Bytes(32)),
    cddl="[0, [0/1/2/3, bstr .size 32]] / [era, bstr .size 32]",
)
"""The Cardano view of a tx id: `[eraIndex, blake2b-256 of the tx body]`; Byron adds an inner kind."""

GenTx = Choice(
    Record("era" / Const(0), "tx" / Record("byron_kind" / Uint(8, high=3), "payload" / Raw("byron.tx"))),
    Record("era" / _LaterEra, "tx" / Embedded("era.transaction")),
    cddl="[0, [0/1/2/3, any]] / [era, #6.24(bytes .cbor transaction)]",
)
"""The Cardano view of a transaction: `[eraIndex, #6.24(tx)]`; Byron `[0, [kind, payload]]`."""

TxId = Raw("txId", shape=GenTxId)
"""A tx id as the messages carry it: must be a GenTxId (as the node's HardFork codec requires), kept as its
exact bytes. Node-to-node and node-to-client use the same form (`encodeNS` of the era's own encoder)."""

Tx = Raw("tx", shape=GenTx)
"""A transaction as the messages carry it: must be a GenTx, kept as its exact bytes (they are hashed)."""


def header_strategy() -> st.SearchStrategy[Any]:
    return Header.strategy()
