"""CBOR items with their exact encoding remembered, split by job:

- head.py: the head of every item (major type, additional info, argument) and the one table of argument
  widths, read by everything below; the nesting bound.
- values.py: decoded values; where an item was encoded in a form other than the shortest one (a wide
  argument, an indefinite length, chunked strings, a wider float), the value is an instance of a subclass
  that remembers that form, so `encode(decode(b)) == b` for every well-formed `b`. Plain values (from
  scripts or strategies) encode in the shortest form.
- grammar.py: the reference grammar of RFC 8949 declared in construct (`Head`, `ItemGrammar`, `CborItem`),
  with `decode_item_reference`/`encode_item_reference`.
- decode.py, encode.py: the fast path (`decode_item`, `encode_item`). It is hand-written, not generated from
  the construct grammar: the two share only the width table of head.py. Differential tests pin them to the
  same values and the same bytes: generated items (tests/test_properties_cbor.py), every encoding form
  (tests/test_cbor.py) and every golden vector (tests/test_golden_vectors.py).
- scan.py: `scan_item` (where an item ends, without building values) and `check_well_formed`.
- canonical.py: the canonicality report (`canonicality`, `is_shortest`).
"""

from __future__ import annotations

from .canonical import NonCanonical, canonicality, is_shortest
from .decode import decode_item
from .encode import encode_head, encode_item
from .grammar import (
    CborDocument,
    CborItem,
    ClaimBeyondInput,
    ItemGrammar,
    decode_item_reference,
    encode_item_reference,
)
from .head import ARGUMENT_WIDTHS, INDEFINITE, INFO_OF_WIDTH, MAX_DEPTH, WIDTH_OF_INFO, Head, shortest_width
from .scan import (
    NOT_KEPT,
    OPAQUE_TAGS,
    Spans,
    array_spans,
    check_well_formed,
    scan_item,
    spans_of,
    value_of,
    vouch,
)
from .values import (
    BREAK,
    UNDEFINED,
    EncodedBytes,
    EncodedFloat,
    EncodedList,
    EncodedText,
    Map,
    Simple,
    Tag,
    WideInt,
)

__all__ = [
    "ARGUMENT_WIDTHS",
    "BREAK",
    "INDEFINITE",
    "INFO_OF_WIDTH",
    "MAX_DEPTH",
    "NOT_KEPT",
    "OPAQUE_TAGS",
    "UNDEFINED",
    "WIDTH_OF_INFO",
    "CborDocument",
    "CborItem",
    "ClaimBeyondInput",
    "EncodedBytes",
    "EncodedFloat",
    "EncodedList",
    "EncodedText",
    "Head",
    "ItemGrammar",
    "Map",
    "NonCanonical",
    "Simple",
    "Spans",
    "Tag",
    "WideInt",
    "array_spans",
    "canonicality",
    "check_well_formed",
    "decode_item",
    "decode_item_reference",
    "encode_head",
    "encode_item",
    "encode_item_reference",
    "is_shortest",
    "scan_item",
    "shortest_width",
    "spans_of",
    "value_of",
    "vouch",
]
