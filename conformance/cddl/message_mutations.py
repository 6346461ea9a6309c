"""Deterministic mutations of golden messages: invalid-looking variants of one message `[tag, field...]`."""

from __future__ import annotations

from .. import wire
from ..wire import cbor


def _elements(data: bytes) -> list[bytes]:
    """The exact bytes of each element of the top-level array `data` (definite or indefinite)."""
    initial = data[0]
    if initial >> 5 != 4:
        raise ValueError("not an array")
    info = initial & 0x1F
    out = []
    if info == 31:
        pos = 1
        while data[pos] != 0xFF:
            end = cbor.scan_item(data, pos)
            out.append(data[pos:end])
            pos = end
        return out
    width = cbor.WIDTH_OF_INFO.get(info, 0)
    count = info if info < 24 else int.from_bytes(data[1 : 1 + width], "big")
    pos = 1 + width
    for _ in range(count):
        end = cbor.scan_item(data, pos)
        out.append(data[pos:end])
        pos = end
    return out


def _array(elements: list[bytes]) -> bytes:
    return cbor.encode_head(4, len(elements)) + b"".join(elements)


def _other_major(element: bytes) -> bytes:
    """A value of another CBOR major type: -1 for an unsigned integer, 0 for anything else."""
    return b"\x20" if element[0] >> 5 == 0 else b"\x00"


MUTATIONS = (
    "tag-unknown",
    "tag-next",
    "drop-last",
    "add-element",
    "retype-N",
    "truncate",
    "trailing-byte",
    "indefinite-envelope",
)
"""The mutation kinds; `retype-N` stands for one mutation per field N >= 1."""


def mutations(protocol: str, data: bytes) -> list[tuple[str, bytes]]:
    """Deterministic invalid-looking variants of one message `[tag, field...]`, each with its name.

    tag-unknown: a tag the protocol does not define; tag-next: the next defined tag, fields kept;
    drop-last / add-element: one element fewer / one more (uint 0); retype-N: field N replaced by a value of
    another major type; truncate: last byte cut; trailing-byte: a 0x00 after the message;
    indefinite-envelope: the same elements in an indefinite-length array (the node needs definite).
    """
    elements = _elements(data)
    tags = sorted(wire.CODECS[protocol].by_tag)
    tag = cbor.decode_item(elements[0])[0]
    following = [t for t in tags if t > tag]
    next_tag = following[0] if following else tags[0]
    out = [
        ("tag-unknown", _array([cbor.encode_item(tags[-1] + 1), *elements[1:]])),
        ("tag-next", _array([cbor.encode_item(next_tag), *elements[1:]])),
        ("drop-last", _array(elements[:-1])),
        ("add-element", _array([*elements, b"\x00"])),
    ]
    for i in range(1, len(elements)):
        out.append((f"retype-{i}", _array([*elements[:i], _other_major(elements[i]), *elements[i + 1 :]])))
    out += [
        ("truncate", data[:-1]),
        ("trailing-byte", data + b"\x00"),
        ("indefinite-envelope", b"\x9f" + b"".join(elements) + b"\xff"),
    ]
    return out
