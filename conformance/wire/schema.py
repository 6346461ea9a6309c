"""Typed CBOR constructs: the building blocks every message is declared with.

Each type is a construct `Construct` (so `T.parse(b)` / `T.build(v)` work and types compose with
construct's `"name" / T` naming) and, from the same declaration, knows how to

- check a decoded CBOR item and turn it into a field value (`from_item`), and back (`to_item`);
- generate valid values for property tests (`strategy`);
- convert a value to and from JSON for the command line (`to_json`, `from_json`);
- describe itself in one line for error messages and documentation (`describe`).

Decoding never needs a second description of a message's shape: the protocol modules only compose these.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import construct as c
from hypothesis import strategies as st

from . import cbor
from .cbor import EncodedBytes, EncodedList, Map, Tag, WideInt
from .errors import DecodeError, EncodeError, ShapeMismatch

JSON = Any


class RawCbor(bytes):
    """The exact bytes of one well-formed CBOR item kept opaque (queries, results, transactions)."""

    def __repr__(self) -> str:
        return f"RawCbor({bytes(self).hex()})"


class EncodedDict(dict):  # type: ignore[type-arg]
    """A dict decoded from an array (record) or map written in a non-shortest form, with what is needed to
    write it again: the head's width, the discriminator's width, or (for computed values) the item itself.

    The memory is kept in attributes, so it is lost by `{**d}` or `dict(d)`: a value rebuilt in code encodes
    canonically, and a declaration that rebuilds a decoded value carries it over with `remembering`.
    """

    width: int | None = None
    tag_width: int | None = None
    source_item: Any = None


MEMORY = ("width", "tag_width", "source_item")
"""The attributes in which a decoded container remembers how its head was written."""


def memory_of(value: Any) -> dict[str, Any]:
    """What `value` remembers of its encoding (empty for plain values)."""
    if not isinstance(value, EncodedDict):
        return {}
    return {key: getattr(value, key) for key in MEMORY if getattr(value, key) is not None}


def remembering(fields: dict[Any, Any], **memory: Any) -> dict[Any, Any]:
    """`fields` as an EncodedDict carrying `memory` and whatever `fields` itself remembers (a copy).

    Returns `fields` unchanged (a plain dict stays plain) when there is nothing to remember.
    """
    carried = memory_of(fields)
    for key, value in memory.items():
        if value is not None:
            carried[key] = value
    if not carried:
        return fields
    out = EncodedDict(fields)
    for key, value in carried.items():
        setattr(out, key, value)
    return out


class EncodedNothing(cbor.EncodedList):
    """`[]` for "no value" (origin, genesis) written with a wide count: it stands for None and compares
    equal to it (as a WideInt compares equal to its int), and remembers its head so it encodes back exactly.
    Code that asks `point is None` should ask `not point` (an empty list, like None, is false)."""

    def __eq__(self, other: object) -> bool:
        return other is None or (isinstance(other, list) and not other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EncodedNothing(width={self.width})"


def _kind(item: Any) -> str:
    if isinstance(item, bool) or item is None:
        return repr(item).lower()
    if isinstance(item, int):
        return "uint" if item >= 0 else "nint"
    if isinstance(item, bytes):
        return "bstr"
    if isinstance(item, str):
        return "tstr"
    if isinstance(item, list):
        return f"array({len(item)})"
    if isinstance(item, Map):
        return "map"
    if isinstance(item, Tag):
        return f"tag {item.number}"
    if isinstance(item, float):
        return "float"
    return type(item).__name__


class CborType(c.Construct):  # type: ignore[misc]
    """A CBOR-level type. Subclasses implement from_item/to_item/strategy/describe."""

    cddl: str = "any"

    def __init__(self) -> None:
        super().__init__()
        self.flagbuildnone = False

    # -- the value mapping ---------------------------------------------------------------------------
    def from_item(self, item: Any, path: str) -> Any:
        raise NotImplementedError

    def to_item(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def strategy(self) -> st.SearchStrategy[Any]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.cddl

    def to_json(self, value: Any) -> JSON:
        return value

    def from_json(self, data: JSON) -> Any:
        return data

    def mismatch(self, item: Any, path: str, expected: str | None = None) -> ShapeMismatch:
        return ShapeMismatch(f"{expected or self.describe()}, got {_kind(item)}", path=path or "$")

    # -- construct protocol: parse and build through the construct CBOR grammar -----------------------
    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        item = cbor.CborItem._parsereport(stream, context, path)
        return self.from_item(item, "$")

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        cbor.CborItem._build(self.to_item(obj, "$"), stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("CBOR items have no fixed size", path=path)


class Uint(CborType):
    """An unsigned integer of at most `bits` bits (word8/16/32/64 in the CDDL)."""

    def __init__(self, bits: int = 64, *, low: int = 0, high: int | None = None) -> None:
        super().__init__()
        self.bits = bits
        self.low = low
        self.high = (1 << bits) - 1 if high is None else high
        self.cddl = f"word{bits}" if low == 0 and high is None else f"{low}..{self.high}"

    def from_item(self, item: Any, path: str) -> Any:
        if isinstance(item, bool) or not isinstance(item, int) or not self.low <= item <= self.high:
            raise self.mismatch(item, path, f"{self.cddl} (uint {self.low}..{self.high})")
        return item

    def to_item(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EncodeError(f"{path}: {self.cddl} needs an int, got {type(value).__name__}")
        return value

    def strategy(self) -> st.SearchStrategy[Any]:
        plain = st.integers(self.low, self.high)
        wide = plain.flatmap(
            lambda n: st.sampled_from([w for w in (1, 2, 4, 8) if w >= cbor.shortest_width(n)]).map(
                lambda w: WideInt(n, w) if w != cbor.shortest_width(n) else n
            )
        )
        return st.one_of(plain, wide) if self.bits > 8 else plain


class Int(CborType):
    """A signed integer of at most 64 bits (CDDL `int` / `integer` as the node encodes it)."""

    cddl = "int"

    def from_item(self, item: Any, path: str) -> Any:
        if isinstance(item, bool) or not isinstance(item, int) or not -(2**64) <= item < 2**64:
            raise self.mismatch(item, path)
        return item

    def to_item(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EncodeError(f"{path}: int needed")
        return value

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.integers(-(2**63), 2**63 - 1)


class Bool(CborType):
    cddl = "bool"

    def from_item(self, item: Any, path: str) -> Any:
        if item is not True and item is not False:
            raise self.mismatch(item, path)
        return item

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise EncodeError(f"{path}: bool needed, got {type(value).__name__}")
        return value

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.booleans()


class Bytes(CborType):
    """A definite-length byte string (cborg's decodeBytes refuses chunked ones), optionally of fixed size."""

    def __init__(self, size: int | None = None, *, max_size: int = 64) -> None:
        super().__init__()
        self.size = size
        self.max_size = max_size
        self.cddl = "bstr" if size is None else f"bstr .size {size}"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, bytes) or getattr(item, "chunks", None) is not None:
            raise self.mismatch(item, path, f"definite-length {self.cddl}")
        if self.size is not None and len(item) != self.size:
            raise ShapeMismatch(f"{self.cddl}, got {len(item)} bytes", path=path)
        return item

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, bytes):
            raise EncodeError(f"{path}: bytes needed, got {type(value).__name__}")
        return value

    def strategy(self) -> st.SearchStrategy[Any]:
        if self.size is not None:
            return st.binary(min_size=self.size, max_size=self.size)
        return st.binary(max_size=self.max_size)

    def to_json(self, value: Any) -> JSON:
        return bytes(value).hex()

    def from_json(self, data: JSON) -> Any:
        return bytes.fromhex(data)


class Text(CborType):
    cddl = "tstr"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, str):
            raise self.mismatch(item, path)
        return item

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise EncodeError(f"{path}: str needed")
        return value

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.text(max_size=40)


class Raw(CborType):
    """Any well-formed item, kept as its exact bytes (the network layer is polymorphic in it).

    With a `shape`, decoding also requires the item to have that shape (the Cardano instantiation is as
    strict as the node's codec) while the value stays the exact bytes; encoding still sends any bytes given,
    so a script can build an ill-shaped message on purpose.
    """

    def __init__(self, cddl: str = "any", *, shape: CborType | None = None) -> None:
        super().__init__()
        self.cddl = cddl
        self.shape = shape

    def from_item(self, item: Any, path: str) -> Any:
        if self.shape is not None:
            self.shape.from_item(item, path)
        return RawCbor(cbor.encode_item(item))

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, bytes):
            raise EncodeError(f"{path}: raw CBOR bytes needed")
        try:
            return cbor.decode_item(bytes(value))[0]
        except DecodeError as exc:
            raise EncodeError(f"{path}: not one well-formed CBOR item: {exc}") from None

    def strategy(self) -> st.SearchStrategy[Any]:
        if self.shape is not None:
            shape = self.shape
            return shape.strategy().map(lambda v: RawCbor(cbor.encode_item(shape.to_item(v, "$"))))
        return cbor_values().map(lambda v: RawCbor(cbor.encode_item(v)))

    def to_json(self, value: Any) -> JSON:
        return bytes(value).hex()

    def from_json(self, data: JSON) -> Any:
        return RawCbor(bytes.fromhex(data))


class Embedded(CborType):
    """CBOR in CBOR: tag 24 on a definite byte string that holds exactly one well-formed item.

    The value is the embedded bytes, kept verbatim because they are hashed (headers, blocks, txs).
    """

    def __init__(self, what: str = "any", *, max_size: int = 200) -> None:
        super().__init__()
        self.what = what
        self.max_size = max_size
        self.cddl = f"#6.24(bytes .cbor {what})"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, Tag) or item.number != 24:
            raise self.mismatch(item, path)
        content = item.value
        if not isinstance(content, bytes) or getattr(content, "chunks", None) is not None:
            raise ShapeMismatch(f"a definite byte string inside tag 24, got {_kind(content)}", path=path)
        try:
            cbor.check_well_formed(content if type(content) is bytes else bytes(content))  # the very object
        except DecodeError as exc:
            raise ShapeMismatch(
                f"one well-formed CBOR item inside tag 24 ({exc.expected} at inner offset {exc.offset})",
                path=path + "#24",
            ) from None
        if item.width is not None:
            content = EncodedBytes(bytes(content), width=getattr(content, "width", None))
            content.tag_width = item.width  # type: ignore[attr-defined]
        return content

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, bytes):
            raise EncodeError(f"{path}: embedded CBOR bytes needed")
        return Tag(24, value, getattr(value, "tag_width", None))

    def strategy(self) -> st.SearchStrategy[Any]:
        return cbor_values().map(cbor.encode_item)

    def to_json(self, value: Any) -> JSON:
        return bytes(value).hex()

    def from_json(self, data: JSON) -> Any:
        return bytes.fromhex(data)


class Record(CborType):
    """A definite-length array of named fields, decoded to a dict: `Record("slot" / Uint(), ...)`.

    Trailing `OptionalTail` fields may be absent and decode to None.
    """

    def __init__(self, *fields: c.Renamed, cddl: str | None = None) -> None:
        super().__init__()
        self.fields: list[tuple[str, CborType]] = [(f.name, f.subcon) for f in fields]
        self.required = sum(1 for _, kind in self.fields if not isinstance(kind, OptionalTail))
        self._arities = range(self.required, len(self.fields) + 1)
        if any(isinstance(kind, OptionalTail) for _, kind in self.fields[: self.required]):
            raise ValueError("optional fields may only stand at the end of a record")
        self.cddl = cddl or "[" + ", ".join(f"{n}: {t.describe()}" for n, t in self.fields) + "]"

    @property
    def arities(self) -> range:
        return self._arities

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, list) or getattr(item, "indefinite", False):
            raise self.mismatch(item, path, f"definite array of {len(self.fields)}: {self.cddl}")
        if len(item) not in self.arities:
            expected = "/".join(str(n) for n in self.arities)
            raise ShapeMismatch(f"array of {expected} items, got {len(item)}", path=path or "$")
        present = zip(self.fields, item, strict=False)
        out = {name: kind.from_item(value, f"{path}.{name}") for (name, kind), value in present}
        for name, _ in self.fields[len(item) :]:
            out[name] = None
        width = getattr(item, "width", None)
        return out if width is None else remembering(out, width=width)

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise EncodeError(f"{path}: a dict of {[n for n, _ in self.fields]} needed")
        missing = [n for n, k in self.fields if n not in value and not isinstance(k, OptionalTail)]
        if missing:
            raise EncodeError(f"{path}: missing fields {missing}")
        present = [(n, k) for n, k in self.fields if not isinstance(k, OptionalTail) or value.get(n) is not None]
        items = [kind.to_item(value[name], f"{path}.{name}") for name, kind in present]
        width = getattr(value, "width", None)
        return EncodedList(items, width=width) if width is not None else items

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries({name: kind.strategy() for name, kind in self.fields})

    def to_json(self, value: Any) -> JSON:
        return {name: kind.to_json(value.get(name)) for name, kind in self.fields}

    def from_json(self, data: JSON) -> Any:
        return {name: kind.from_json(data.get(name)) for name, kind in self.fields}


class OptionalTail(CborType):
    """A trailing record field that may be absent (`[6] / [6, tx]`); absent decodes to None."""

    def __init__(self, inner: CborType) -> None:
        super().__init__()
        self.inner = inner
        self.cddl = f"? {inner.describe()}"

    def from_item(self, item: Any, path: str) -> Any:
        return self.inner.from_item(item, path)

    def to_item(self, value: Any, path: str) -> Any:
        return self.inner.to_item(value, path)

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.one_of(st.none(), self.inner.strategy())

    def to_json(self, value: Any) -> JSON:
        return None if value is None else self.inner.to_json(value)

    def from_json(self, data: JSON) -> Any:
        return None if data is None else self.inner.from_json(data)


class ListOf(CborType):
    """A homogeneous array. `form` is what the Haskell decoder accepts: definite, indefinite or either."""

    def __init__(
        self,
        element: CborType,
        *,
        form: str = "either",
        encode_form: str | None = None,
        min_len: int = 0,
        max_len: int = 8,
    ) -> None:
        super().__init__()
        if form not in ("definite", "indefinite", "either"):
            raise ValueError(form)
        self.element = element
        self.form = form
        self.encode_form = encode_form or ("definite" if form == "either" else form)
        self.min_len = min_len
        self.max_len = max_len
        self.cddl = f"[* {element.describe()}]" + ("" if form == "either" else f" ({form} length)")

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, list):
            raise self.mismatch(item, path)
        indefinite = getattr(item, "indefinite", False)
        if self.form == "definite" and indefinite:
            raise ShapeMismatch("a definite-length array, got an indefinite one", path=path or "$")
        if self.form == "indefinite" and not indefinite:
            raise ShapeMismatch("an indefinite-length array, got a definite one", path=path or "$")
        if len(item) < self.min_len:
            raise ShapeMismatch(f"at least {self.min_len} elements, got {len(item)}", path=path or "$")
        values = [self.element.from_item(v, f"{path}[{i}]") for i, v in enumerate(item)]
        return EncodedList(values, indefinite=indefinite, width=getattr(item, "width", None))

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise EncodeError(f"{path}: list needed")
        items = [self.element.to_item(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, EncodedList):
            return EncodedList(items, indefinite=value.indefinite, width=value.width)
        return EncodedList(items, indefinite=self._indefinite_for(items))

    def _indefinite_for(self, items: list[Any]) -> bool:
        if self.encode_form == "nonempty-indefinite":
            return bool(items)
        return self.encode_form == "indefinite"

    def strategy(self) -> st.SearchStrategy[Any]:
        forms = {"definite": [False], "indefinite": [True], "either": [False, True]}[self.form]
        return st.tuples(
            st.lists(self.element.strategy(), min_size=self.min_len, max_size=self.max_len),
            st.sampled_from(forms),
        ).map(lambda pair: EncodedList(pair[0], indefinite=pair[1]))

    def to_json(self, value: Any) -> JSON:
        return [self.element.to_json(v) for v in value]

    def from_json(self, data: JSON) -> Any:
        return [self.element.from_json(v) for v in data]


class MapOf(CborType):
    """A definite-length map with hashable keys, decoded to a dict in wire order."""

    def __init__(self, key: CborType, value: CborType, *, max_len: int = 4) -> None:
        super().__init__()
        self.key = key
        self.value = value
        self.max_len = max_len
        self.cddl = f"{{* {key.describe()} => {value.describe()}}}"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, Map) or item.indefinite:
            raise self.mismatch(item, path, f"definite-length map {self.cddl}")
        out: dict[Any, Any] = {}
        for i, (k, v) in enumerate(item.pairs):
            key = self.key.from_item(k, f"{path}.key[{i}]")
            if key in out:
                raise ShapeMismatch(f"distinct map keys, got {key!r} twice", path=path)
            out[key] = self.value.from_item(v, f"{path}[{key!r}]")
        return out if item.width is None else remembering(out, width=item.width)

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise EncodeError(f"{path}: dict needed")
        pairs = [(self.key.to_item(k, path), self.value.to_item(v, f"{path}[{k!r}]")) for k, v in value.items()]
        return Map(pairs, width=getattr(value, "width", None))

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.dictionaries(self.key.strategy(), self.value.strategy(), max_size=self.max_len)

    def to_json(self, value: Any) -> JSON:
        return {str(k): self.value.to_json(v) for k, v in value.items()}

    def from_json(self, data: JSON) -> Any:
        return {self.key.from_json(k): self.value.from_json(v) for k, v in data.items()}


class Choice(CborType):
    """Alternatives tried in order; the first whose shape matches wins (CDDL's `/`)."""

    def __init__(self, *alternatives: CborType, cddl: str | None = None) -> None:
        super().__init__()
        self.alternatives = alternatives
        self.cddl = cddl or " / ".join(a.describe() for a in alternatives)

    def from_item(self, item: Any, path: str) -> Any:
        for alternative in self.alternatives:
            try:
                return alternative.from_item(item, path)
            except ShapeMismatch as error:
                if getattr(error, "committed", False):
                    raise  # the item chose this alternative (its discriminator matched): report why it failed
                continue
        raise self.mismatch(item, path)

    def to_item(self, value: Any, path: str) -> Any:
        for alternative in self.alternatives:
            if alternative.accepts(value):
                return alternative.to_item(value, path)
        raise EncodeError(f"{path}: {value!r} fits none of {self.cddl}")

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.one_of(*(a.strategy() for a in self.alternatives))

    def to_json(self, value: Any) -> JSON:
        for alternative in self.alternatives:
            if alternative.accepts(value):
                return alternative.to_json(value)
        raise EncodeError(f"{value!r} fits none of {self.cddl}")

    def from_json(self, data: JSON) -> Any:
        for alternative in self.alternatives:
            try:
                value = alternative.from_json(data)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            if alternative.accepts(value):
                return value
        raise EncodeError(f"{data!r} fits none of {self.cddl}")


def _accepts(self: CborType, value: Any) -> bool:
    """Whether `value` is a value of this type (used by Choice to pick the alternative to encode)."""
    try:
        self.to_item(value, "$")
    except (EncodeError, KeyError, TypeError, ValueError):
        return False
    return True


CborType.accepts = _accepts  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# Shapes that exist only in some versions of a protocol.

VERSION: ContextVar[int | None] = ContextVar("negotiated_version", default=None)
"""The version being decoded at; set through `at_version` (or by `Codec.decode_item` directly)."""


@contextmanager
def at_version(version: int | None) -> Iterator[None]:
    """Decode, and build strategies, as at the negotiated `version` (plain number); None: any version.

    The version is a dynamic scope rather than an argument of every `from_item`, because only a few
    declarations (`Gated` ones) look at it; `Codec.decode` and `Codec.strategy` set it.
    """
    token = VERSION.set(version)
    try:
        yield
    finally:
        VERSION.reset(token)


def current_version() -> int | None:
    """The version being decoded at (None: any supported version)."""
    return VERSION.get()


@dataclass(frozen=True)
class VersionSpan:
    """The versions in which something exists: `since` and `until` inclusive, None for no bound."""

    since: int | None = None
    until: int | None = None

    def admits(self, version: int | None) -> bool:
        if version is None:
            return True
        return (self.since is None or version >= self.since) and (self.until is None or version <= self.until)

    def __str__(self) -> str:
        if self.since is not None and self.until is not None:
            return f"v{self.since}..v{self.until}"
        if self.since is not None:
            return f"v{self.since} and later"
        if self.until is not None:
            return f"v{self.until} and earlier"
        return "every version"


class Gated(CborType):
    """A shape that exists only in some versions, e.g. a Choice branch: `Gated(OldIPv6, until=12)`.

    Decoded at a version outside its span, an item of this shape is refused with an error that names the
    version (and commits the enclosing Choice to that error); without a version it is accepted. Encoding
    does not look at the version: the value says which shape it is.
    """

    def __init__(self, inner: CborType, *, since: int | None = None, until: int | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.span = VersionSpan(since, until)
        self.cddl = inner.describe()

    def from_item(self, item: Any, path: str) -> Any:
        value = self.inner.from_item(item, path)
        version = VERSION.get()
        if not self.span.admits(version):
            expected = f"a shape that exists at v{version}; {self.cddl} exists only at {self.span}"
            error = ShapeMismatch(expected, path=path)
            error.committed = True  # type: ignore[attr-defined]
            raise error
        return value

    def to_item(self, value: Any, path: str) -> Any:
        return self.inner.to_item(value, path)

    def strategy(self) -> st.SearchStrategy[Any]:
        return self.inner.strategy() if self.span.admits(VERSION.get()) else st.nothing()

    def to_json(self, value: Any) -> JSON:
        return self.inner.to_json(value)

    def from_json(self, data: JSON) -> Any:
        return self.inner.from_json(data)


class Nothing(CborType):
    """An empty definite array standing for "no value" (origin point, genesis): decodes to None."""

    cddl = "[]"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, list) or item or getattr(item, "indefinite", False):
            raise self.mismatch(item, path)
        width = getattr(item, "width", None)
        return None if width is None else EncodedNothing(width=width)

    def to_item(self, value: Any, path: str) -> Any:
        if isinstance(value, EncodedNothing):
            return value
        if value is not None:
            raise EncodeError(f"{path}: None expected for []")
        return []

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.one_of(st.none(), st.sampled_from([1, 2, 4, 8]).map(lambda w: EncodedNothing(width=w)))

    def to_json(self, value: Any) -> JSON:
        return None

    def from_json(self, data: JSON) -> Any:
        return None


class Mapped(CborType):
    """A type whose value is computed from another's (e.g. a peer address word to an IP string).

    The computed value must be a dict: a decoded one written in a non-shortest form keeps its source item
    (an EncodedDict), which is how it encodes back exactly (tests/test_head_rewrites.py checks this for
    every declaration)."""

    def __init__(
        self,
        inner: CborType,
        decode: Callable[[Any], Any],
        encode: Callable[[Any], Any],
        *,
        strategy: st.SearchStrategy[Any] | None = None,
        to_json: Callable[[Any], JSON] | None = None,
        from_json: Callable[[JSON], Any] | None = None,
        cddl: str | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self._decode_value = decode
        self._encode_value = encode
        self._strategy = strategy if strategy is not None else inner.strategy().map(decode)
        self._to_json = to_json or (lambda v: v)
        self._from_json = from_json or (lambda d: d)
        self.cddl = cddl or inner.describe()

    def _written_as(self, source: Any, value: Any, path: str) -> bool:
        """Whether `value` is still what `source` decodes to here (then `source` says how to write it)."""
        try:
            return bool(self._decode_value(self.inner.from_item(source, path)) == value)
        except DecodeError:
            return False

    def to_json(self, value: Any) -> JSON:
        return self._to_json(value)

    def from_json(self, data: JSON) -> Any:
        return self._from_json(data)

    def from_item(self, item: Any, path: str) -> Any:
        value = self._decode_value(self.inner.from_item(item, path))
        if isinstance(value, dict) and not cbor.is_shortest(item):
            return remembering(value, source_item=item)  # the computed value cannot say how it was written
        return value

    def to_item(self, value: Any, path: str) -> Any:
        source = getattr(value, "source_item", None)
        if source is not None and self._written_as(source, value, path):
            return source
        try:
            inner = self._encode_value(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EncodeError(f"{path}: {exc}") from None
        return self.inner.to_item(inner, path)

    def strategy(self) -> st.SearchStrategy[Any]:
        return self._strategy


class Const(CborType):
    """A fixed unsigned integer (a message tag or a union discriminator)."""

    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value
        self.cddl = str(value)

    def from_item(self, item: Any, path: str) -> Any:
        if isinstance(item, bool) or item != self.value:
            raise self.mismatch(item, path)
        return item

    def to_item(self, value: Any, path: str) -> Any:
        if value != self.value:
            raise EncodeError(f"{path}: {self.value} expected")
        return value

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.just(self.value)


class Tagged(CborType):
    """A union member that is an array starting with a fixed discriminator: `[0, word32, port]`.

    Decodes to a dict with `kind` set to the alternative's name, so the value says which one it was.
    With `by_length`, the array length too selects the alternative (two forms share the discriminator, as
    the IPv6 peer address of node-to-node v11-12 and v13 on do); otherwise a matching discriminator
    commits the union to this alternative, so its error says what is wrong inside.
    """

    def __init__(self, kind: str, discriminator: int, *fields: c.Renamed, by_length: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.record = Record("tag" / Const(discriminator), *fields)
        self.discriminator = discriminator
        self.by_length = by_length
        self.cddl = "[" + ", ".join([str(discriminator), *(t.describe() for _, t in self.record.fields[1:])]) + "]"

    def from_item(self, item: Any, path: str) -> Any:
        if not isinstance(item, list) or not item or item[0] != self.discriminator:
            raise self.mismatch(item, path)
        if self.by_length and len(item) not in self.record.arities:
            raise self.mismatch(item, path)  # another alternative has this discriminator at another length
        try:
            fields = self.record.from_item(item, path)
        except ShapeMismatch as error:
            error.committed = True  # type: ignore[attr-defined]
            raise
        fields.pop("tag")
        value = {"kind": self.kind, **fields}
        if isinstance(item[0], WideInt) or getattr(fields, "width", None) is not None:
            tag_width = item[0].width if isinstance(item[0], WideInt) else None
            return remembering(value, width=getattr(fields, "width", None), tag_width=tag_width)
        return value

    def to_item(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict) or value.get("kind") != self.kind:
            raise EncodeError(f"{path}: kind {self.kind!r} expected")
        tag = self.discriminator
        tag_width = getattr(value, "tag_width", None)
        fields = remembering({**value, "tag": WideInt(tag, tag_width) if tag_width else tag}, **memory_of(value))
        return self.record.to_item(fields, path)

    def strategy(self) -> st.SearchStrategy[Any]:
        return self.record.strategy().map(lambda d: {"kind": self.kind, **{k: v for k, v in d.items() if k != "tag"}})

    def to_json(self, value: Any) -> JSON:
        body = self.record.to_json({**value, "tag": self.discriminator})
        body.pop("tag")
        return {"kind": self.kind, **body}

    def from_json(self, data: JSON) -> Any:
        if data.get("kind") != self.kind:
            raise ValueError("other kind")
        body = self.record.from_json({**data, "tag": self.discriminator})
        body.pop("tag")
        return {"kind": self.kind, **body}


# --------------------------------------------------------------------------------------------------
# Strategies for arbitrary CBOR (Raw fields and fuzzing).


def cbor_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Arbitrary CBOR values, including non-shortest and indefinite forms."""
    leaves = st.one_of(
        st.integers(-(2**64), 2**64 - 1),
        st.integers(0, 2**32).map(lambda n: WideInt(n, 8)),
        st.binary(max_size=40),
        st.text(max_size=20),
        st.lists(st.binary(max_size=8), max_size=3).map(lambda ch: EncodedBytes(b"".join(ch), chunks=ch)),
        st.sampled_from([True, False, None, cbor.UNDEFINED]),
        st.floats(allow_nan=False).map(lambda f: cbor.EncodedFloat(f, 8)),
    )

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(lambda xs: EncodedList(xs, indefinite=True)),
            st.lists(st.tuples(children, children), max_size=3).map(lambda ps: Map(ps)),
            st.lists(st.tuples(children, children), max_size=3).map(lambda ps: Map(ps, indefinite=True)),
            st.tuples(st.integers(0, 2**16), children).filter(lambda t: t[0] != 24).map(lambda t: Tag(t[0], t[1])),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


# --------------------------------------------------------------------------------------------------
# Small shared pieces.


def ipv4_from_word(word: int) -> str:
    """The node writes the 4 network-order octets read as a little-endian word (Haskell's HostAddress)."""
    return str(ipaddress.IPv4Address(struct.pack("<I", word)))


def ipv4_to_word(address: str) -> int:
    return int(struct.unpack("<I", ipaddress.IPv4Address(address).packed)[0])


def ipv6_from_words(words: Sequence[int]) -> str:
    return str(ipaddress.IPv6Address(b"".join(struct.pack(">I", w) for w in words)))


def ipv6_to_words(address: str) -> list[int]:
    packed = ipaddress.IPv6Address(address).packed
    return [int(struct.unpack(">I", packed[i : i + 4])[0]) for i in range(0, 16, 4)]
