"""Every golden vector: decode -> fields, encode -> identical bytes, cross-checked by independent oracles."""

from __future__ import annotations

from collections import Counter

import pytest

from conformance import golden, wire
from conformance.vectors import Vector, load_vectors

VECTORS = load_vectors()


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_vector(vector: Vector) -> None:
    assert golden.check(vector) == []


def test_every_message_of_every_protocol_has_a_vector() -> None:
    covered = {(v.protocol, v.message) for v in VECTORS if v.kind == "message" and v.valid}
    missing = [
        (name, message)
        for name, codec in wire.CODECS.items()
        for message in codec.messages
        if (name, message) not in covered
    ]
    assert missing == []


def test_every_external_vector_is_imported() -> None:
    """All 231 vectors of the external collection (vectors/external/SOURCES.md) are present, with their provenance."""
    external = [v for v in VECTORS if v.source == "external"]
    assert len(external) == 231
    assert all(v.provenance.get("repo") and v.provenance.get("external_file") for v in external)


def test_vector_kinds_are_known() -> None:
    assert set(Counter(v.kind for v in VECTORS)) <= {"message", "stream", "sdu", "payload"}


def test_a_wrong_field_value_in_a_vector_is_caught() -> None:
    """The golden check can fail: a vector whose recorded fields disagree with its bytes is reported."""
    vector = next(v for v in VECTORS if v.id == "ka-gouroboros-msgkeepalive")
    tampered = Vector(**{**vector.__dict__, "fields": {"cookie": vector.fields["cookie"] + 1}})
    assert any("fields differ" in problem for problem in golden.check(tampered))


def test_a_wrong_block_hash_is_caught() -> None:
    vector = next(v for v in VECTORS if v.extra.get("block_info", {}).get("block_hash"))
    info = {**vector.extra["block_info"], "block_hash": "00" * 32}
    tampered = Vector(**{**vector.__dict__, "extra": {**vector.extra, "block_info": info}})
    assert any("computed hash" in problem for problem in golden.check(tampered))


SMALL_MESSAGES = [v for v in VECTORS if v.kind == "message" and v.valid and len(v.data) <= 4096]


@pytest.mark.parametrize("vector", SMALL_MESSAGES, ids=[v.id for v in SMALL_MESSAGES])
def test_construct_reference_path_agrees_with_the_fast_path(vector: Vector) -> None:
    """The declaration parsed and built through construct's own machinery gives the same fields and bytes."""
    message = wire.decode(vector.protocol, vector.data, vector.state)
    declaration = wire.codec(vector.protocol).messages[message.name]
    assert declaration.format.parse(vector.data) == message.fields
    assert declaration.format.build(message.fields) == vector.data


def test_construct_reference_path_refuses_trailing_bytes() -> None:
    declaration = wire.codec("keep-alive").messages["MsgDone"]
    with pytest.raises(Exception, match="expected end of stream"):
        declaration.format.parse(bytes.fromhex("810200"))


def test_known_invalid_external_vectors_are_refused_with_a_reason() -> None:
    invalid = [v for v in VECTORS if not v.valid]
    assert {v.id for v in invalid} >= {"hs-gouroboros-msgrefuse-820283010163666f"}
    for vector in invalid:
        assert vector.extra.get("invalid_because")
        with pytest.raises(wire.DecodeError):
            wire.decode(vector.protocol, vector.data, vector.state)
