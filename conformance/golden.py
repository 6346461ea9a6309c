"""Checking golden vectors: decode -> fields, encode -> identical bytes, and independent cross-checks.

Each check returns the list of problems it found (empty when the vector passes), so the same code drives
the test suite and the `vectors check` command. Where an independent oracle exists it is used: cbor2's
decoding of the same bytes for message structure, and block hashes, slots and tx ids recorded by the
vectors' sources for the Cardano payloads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import cbor2

from . import wire
from .vectors import Vector
from .wire import cardano, cbor
from .wire.common import Block, GenTx, GenTxId, Header
from .wire.mux import Demuxer, StreamReassembler

LONG_HEX = 1024
"""Hex strings longer than this are recorded in vectors by digest (`sha256:<hex>:<length>`)."""


def abbreviate(value: Any) -> Any:
    """The JSON form of fields with very long hex strings replaced by their digest."""
    if isinstance(value, str) and len(value) > LONG_HEX:
        return f"sha256:{hashlib.sha256(value.encode()).hexdigest()}:{len(value) // 2}"
    if isinstance(value, dict):
        return {k: abbreviate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [abbreviate(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# cbor2 as an independent oracle for structure.

_SEMANTIC_TAGS = [*range(0, 64), 100, 256, 258, 259, 260, 261, 1004, 55799]


def _opaque_tag(number: int) -> Callable[[Any], Any]:
    return lambda value, *_: cbor2.CBORTag(number, value)


def oracle_loads(data: bytes) -> Any:
    """cbor2's reading of the bytes, with every semantic tag left as a plain CBORTag."""
    return cbor2.loads(data, semantic_decoders={n: _opaque_tag(n) for n in _SEMANTIC_TAGS})


def plain(item: Any) -> Any:
    """Our decoded item in the form cbor2 gives (so the two decoders can be compared)."""
    if isinstance(item, cbor.Tag):
        return cbor2.CBORTag(item.number, plain(item.value))
    if isinstance(item, cbor.Map):
        return {_hashable(plain(k)): plain(v) for k, v in item.pairs}
    if isinstance(item, list):
        return [plain(v) for v in item]
    if isinstance(item, bool) or item is None:
        return item
    if isinstance(item, int):
        return int(item)
    if isinstance(item, bytes):
        return bytes(item)
    if isinstance(item, str):
        return str(item)
    if isinstance(item, float):
        return float(item)
    if item is cbor.UNDEFINED:
        return cbor2.undefined
    if isinstance(item, cbor.Simple):
        return cbor2.CBORSimpleValue(item.value)
    return item


def _hashable(value: Any) -> Any:
    """One normal form for both decoders' outputs (cbor2 freezes containers inside tags and keys)."""
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return cbor2.frozendict({_hashable(k): _hashable(v) for k, v in value.items()})
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, _hashable(value.value))
    return value


def _oracle_agrees(data: bytes, item: Any) -> list[str]:
    try:
        theirs = oracle_loads(data)
    except Exception as exc:  # noqa: BLE001 - cbor2 refusing is itself the finding
        return [f"cbor2 could not decode the bytes: {exc}"]
    if _hashable(theirs) != _hashable(plain(item)):
        return ["cbor2 decodes the bytes to a different structure than our decoder"]
    return []


# --------------------------------------------------------------------------------------------------
# Per-kind checks.


def check(vector: Vector) -> list[str]:
    """Every problem with one vector (an empty list means it passes)."""
    checker = {"message": check_message, "stream": check_stream, "sdu": check_sdu, "payload": check_payload}
    try:
        return checker[vector.kind](vector)
    except wire.DecodeError as exc:
        return [f"decode failed: {exc}"]


def check_message(vector: Vector) -> list[str]:
    if not vector.valid:
        try:
            message = wire.decode(vector.protocol, vector.data, vector.state)
        except wire.DecodeError:
            return []
        return [f"decoded as {message.name}, but the vector is invalid: {vector.extra.get('invalid_because')}"]
    problems = []
    message = wire.decode(vector.protocol, vector.data, vector.state)
    if message.name != vector.message:
        problems.append(f"decoded as {message.name}, vector says {vector.message}")
    shown = abbreviate(wire.codec(vector.protocol).to_json(message)["fields"])
    if vector.fields is not None and shown != vector.fields:
        problems.append(f"fields differ: decoded {shown!r}, vector has {vector.fields!r}")
    if wire.encode(message) != vector.data:
        problems.append("re-encoding does not give back the same bytes")
    declaration = wire.codec(vector.protocol).messages[message.name]
    problems += _oracle_agrees(vector.data, declaration.to_item(message.fields, "$"))
    return problems


def check_stream(vector: Vector) -> list[str]:
    problems = []
    chunks = list(StreamReassembler(vector.protocol).feed(vector.data))
    names = [wire.decode(vector.protocol, chunk).name for chunk in chunks]
    if names != vector.extra.get("messages"):
        problems.append(f"stream decodes to {names}, vector says {vector.extra.get('messages')}")
    rebuilt = b"".join(wire.encode(wire.decode(vector.protocol, chunk)) for chunk in chunks)
    if rebuilt != vector.data:
        problems.append("re-encoding the stream does not give back the same bytes")
    return problems


def check_sdu(vector: Vector) -> list[str]:
    problems = []
    demuxer = Demuxer()
    sdus = list(demuxer.feed(vector.data))
    expected = vector.extra.get("sdu") or {}
    complete = expected.get("bytes_present_after_header") == expected.get("payload_length")
    if complete:
        if len(sdus) != 1 or demuxer.pending:
            return [f"expected one whole SDU, got {len(sdus)} and {demuxer.pending} pending bytes"]
        sdu = sdus[0]
        seen = {"transmission_time": sdu.timestamp, "mode_bit": sdu.mode, "mini_protocol": sdu.protocol}
        for key, value in seen.items():
            if key in expected and expected[key] != value:
                problems.append(f"{key} is {value}, vector says {expected[key]}")
        if sdu.encode() != vector.data:
            problems.append("re-encoding the SDU does not give back the same bytes")
        payload = sdu.payload
    else:
        if sdus or demuxer.pending != len(vector.data):
            return ["a partial SDU must be held back whole until the rest arrives"]
        payload = vector.data[8:]
    reassembler = StreamReassembler()
    for chunk in reassembler.feed(payload):
        cbor.check_well_formed(chunk)
    if complete and reassembler.pending:
        problems.append(f"{reassembler.pending} payload bytes do not end a message")
    return problems


def check_payload(vector: Vector) -> list[str]:
    item, _ = cbor.decode_item(vector.data)
    problems = []
    if cbor.encode_item(item) != vector.data:
        problems.append("re-encoding does not give back the same bytes")
    problems += _oracle_agrees(vector.data, item)
    check_kind = _PAYLOAD_CHECKS.get(vector.payload or "")
    if check_kind is None:
        return problems + [f"no check for payload kind {vector.payload!r}"]
    return problems + check_kind(vector, item)


def _expect_point(vector: Vector, point: cardano.ChainPoint) -> list[str]:
    info = vector.extra.get("block_info") or {}
    problems = []
    if "block_hash" in info and point.hash.hex() != info["block_hash"]:
        problems.append(f"computed hash {point.hash.hex()}, source says {info['block_hash']}")
    slot = info.get("slot")
    if slot is None and "epoch" in info and "slot_in_epoch" in info:
        slot = info["epoch"] * 10 * cardano.BYRON_K + info["slot_in_epoch"]
    if slot is not None and point.slot != slot:
        problems.append(f"computed slot {point.slot}, source says {slot}")
    return problems


def _check_header(vector: Vector, item: Any) -> list[str]:
    header = Header.from_item(item, "$")
    cardano.header_point(header)
    return []


def _check_block(vector: Vector, item: Any) -> list[str]:
    content = Block.from_item(item, "$")
    return _expect_point(vector, cardano.block_point(bytes(content)))


def _check_block_content(vector: Vector, item: Any) -> list[str]:
    return _expect_point(vector, cardano.block_point(vector.data))


def _byron_variant(header: Any) -> int:
    return 1 if isinstance(header[3][0], list) else 0


def _is_byron(vector: Vector, header: Any) -> bool:
    return str(vector.extra.get("era", "")).startswith("Byron") or (isinstance(header, list) and len(header) == 5)


def _check_bare_block(vector: Vector, item: Any) -> list[str]:
    header = item[0]
    header_cbor = cbor.encode_item(header)
    if _is_byron(vector, header):
        point = cardano.byron_point(header_cbor, _byron_variant(header))
    else:
        point = cardano.shelley_point(header_cbor)
    return _expect_point(vector, point)


def _check_bare_header(vector: Vector, item: Any) -> list[str]:
    if _is_byron(vector, item):
        point = cardano.byron_point(vector.data, _byron_variant(item))
    else:
        point = cardano.shelley_point(vector.data)
    return _expect_point(vector, point)


def _check_tx(vector: Vector, item: Any) -> list[str]:
    tx_id = cardano.blake2b_256(cbor.encode_item(item[0])).hex()
    if vector.extra.get("tx_id") and tx_id != vector.extra["tx_id"]:
        return [f"computed tx id {tx_id}, source says {vector.extra['tx_id']}"]
    return []


def _check_era_wrapped(kind: Any) -> Callable[[Vector, Any], list[str]]:
    def check_wrapped(vector: Vector, item: Any) -> list[str]:
        kind.from_item(item, "$")
        return []

    return check_wrapped


def _check_opaque(vector: Vector, item: Any) -> list[str]:
    return []


_PAYLOAD_CHECKS: dict[str, Callable[[Vector, Any], list[str]]] = {
    "header": _check_header,
    "block": _check_block,
    "block-content": _check_block_content,
    "bare-block": _check_bare_block,
    "bare-header": _check_bare_header,
    "tx": _check_tx,
    "gentx": _check_era_wrapped(GenTx),
    "gentxid": _check_era_wrapped(GenTxId),
    "query": _check_opaque,
    "result": _check_opaque,
    "reject-reason": _check_opaque,
}
