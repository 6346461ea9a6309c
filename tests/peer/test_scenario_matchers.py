"""Field matchers, variables and named mutations, on the wire layer's real JSON form and bytes."""

from __future__ import annotations

import pytest

from conformance import wire
from conformance.peer.scenario import StepError
from conformance.peer.scenario.matchers import MISSING, AnyOf, Equals, Present, Range, Regex, resolve
from conformance.peer.scenario.mutations import Mutation, cut
from conformance.peer.scenario.variables import references, substitute
from conformance.wire import mutate as byte_mutators

ROLL_BACKWARD = wire.codec("chain-sync").from_json(
    {
        "message": "MsgRollBackward",
        "fields": {"point": {"slot": 7, "hash": "ab" * 32}, "tip": {"point": None, "block_no": 3}},
    }
)


def fields_of(message: wire.Message) -> dict:
    """The JSON form of the message as decoded from its own bytes (what the runner matches)."""
    decoded = wire.decode(message.protocol, wire.encode(message))
    return wire.codec(message.protocol).to_json(decoded)["fields"]


def test_paths_reach_into_decoded_fields() -> None:
    fields = fields_of(ROLL_BACKWARD)
    assert resolve(fields, "point.slot") == 7
    assert resolve(fields, "tip.point") is None
    assert resolve(fields, "tip.nothing") is MISSING
    assert resolve({"points": [None, {"slot": 1}]}, "points.1.slot") == 1
    assert resolve({"points": [None]}, "points.5") is MISSING


def test_equality_is_exact_about_types_and_relaxed_about_hex_case() -> None:
    fields = fields_of(ROLL_BACKWARD)
    assert Equals("AB" * 32).mismatch(resolve(fields, "point.hash"), {}) is None
    assert Equals(7).mismatch(resolve(fields, "point.slot"), {}) is None
    assert Equals(True).mismatch(1, {}) is not None  # YAML true is not the number 1
    assert Equals({"point": None, "block_no": 3}).mismatch(resolve(fields, "tip"), {}) is None
    assert Equals("${s}").mismatch(7, {"s": 7}) is None
    assert Equals(8).mismatch(MISSING, {}) == "missing, expected 8"


def test_regex_range_any_of_present() -> None:
    hash_hex = resolve(fields_of(ROLL_BACKWARD), "point.hash")
    assert Regex("^abab").mismatch(hash_hex, {}) is None
    assert Regex("^ff").mismatch(hash_hex, {}) is not None
    assert Regex("^ab").mismatch(7, {}) is not None  # only text matches a regex
    assert Range(1, None).mismatch(7, {}) is None
    assert Range(None, 6).mismatch(7, {}) == "7 is outside [None, 6]"
    assert Range(0, 10).mismatch(True, {}) is not None
    assert AnyOf((Equals(1), Range(5, 9))).mismatch(7, {}) is None
    assert AnyOf((Equals(1), Equals(2))).mismatch(7, {}).startswith("none of the options")
    assert Present(True).mismatch(None, {}) is None  # a field that is null is present
    assert Present(True).mismatch(MISSING, {}) is not None
    assert Present(False).mismatch(MISSING, {}) is None


def test_variables_substitute_by_value_or_inside_text() -> None:
    assert substitute({"cookie": "${c}", "note": "n=${c}"}, {"c": 5}) == {"cookie": 5, "note": "n=5"}
    assert list(references({"a": ["${x}", "${y}z"]})) == ["x", "y"]
    with pytest.raises(StepError, match=r"\$\{nope\} is not set"):
        substitute("${nope}", {})


KEEP_ALIVE = wire.encode(wire.Message("keep-alive", "MsgKeepAlive", {"cookie": 4242}))


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (Mutation("truncate", {"length": -1}, 1), byte_mutators.truncate(KEEP_ALIVE, len(KEEP_ALIVE) - 1)),
        (Mutation("flip", {"at": 0}, 1), byte_mutators.flip(KEEP_ALIVE, 0, 0xFF)),
        (Mutation("insert", {"at": 1, "byte": 0x1C}, 1), byte_mutators.insert(KEEP_ALIVE, 1, 0x1C)),
        (
            Mutation("duplicate", {"start": 0, "end": 2, "at": -1}, 1),
            byte_mutators.duplicate(KEEP_ALIVE, 0, 2, len(KEEP_ALIVE) - 1),
        ),
        (Mutation("pad", {"count": 2}, 1), KEEP_ALIVE + b"\x00\x00"),
    ],
    ids=lambda value: value.name if isinstance(value, Mutation) else "",
)
def test_named_mutations_are_the_wire_layers_byte_mutators(mutation: Mutation, expected: bytes) -> None:
    damaged = mutation.apply(KEEP_ALIVE)
    assert damaged == expected and damaged != KEEP_ALIVE
    with pytest.raises(wire.DecodeError):
        wire.decode("keep-alive", damaged, state="StClient")


def test_an_offset_outside_the_message_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="outside a message of 5 bytes"):
        Mutation("flip", {"at": 5}, 1).apply(KEEP_ALIVE)


def test_resplit_cuts_in_the_given_sizes_with_the_last_repeating() -> None:
    assert cut(b"abcdefg", [1, 2]) == [b"a", b"bc", b"de", b"fg"]
    assert b"".join(cut(KEEP_ALIVE, [1])) == KEEP_ALIVE
