"""Message declarations and the per-protocol codec that decodes bytes to `Message` and back.

Every Ouroboros message is a definite-length array `[tag, field...]`. A `MessageType` declares one message
once: its name, tag, named fields (typed CBOR constructs) and the states in which it may arrive (used only
to tell apart messages that share a tag, as LocalTxMonitor's MsgAcquire and MsgAwaitAcquire do).

What changes with the negotiated version is declared, never tested for in code: `since=`/`until=` on a
`MessageType` (MsgGetMeasures from node-to-client v20) or on a whole `Codec` (PeerSharing from
node-to-node v11), and `Gated` shapes inside fields (the v11-12 IPv6 peer address). Decoded without a
version, a message may have the shape of any version; with one, exactly the shapes of that version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import construct as c
from hypothesis import strategies as st

from . import cbor
from .cbor import WideInt
from .errors import DecodeError, EncodeError, NotInVersion, ShapeMismatch, UnknownMessage
from .message import Message
from .schema import VERSION, CborType, Const, EncodedDict, Record, VersionSpan, at_version, memory_of, remembering


class MessageType(CborType):
    """One message, declared once: `MessageType("MsgRollForward", 2, "header" / Header, "tip" / Tip)`.

    `since`/`until` (inclusive) are the first and last versions that have the message (None: no bound).
    """

    def __init__(
        self,
        name: str,
        tag: int,
        *fields: c.Renamed,
        states: Iterable[str] = (),
        since: int | None = None,
        until: int | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.tag = tag
        self.states = tuple(states)
        self.span = VersionSpan(since, until)
        self.record = Record("tag" / Const(tag), *fields)
        self.fields = self.record.fields[1:]
        self.cddl = "[" + ", ".join([str(tag), *(f"{n}: {t.describe()}" for n, t in self.fields)]) + "]"
        self.protocol = ""

    @property
    def format(self) -> c.Construct:
        """The message as a whole construct format: the declaration, then nothing (`Terminated`)."""
        return c.FocusedSeq("message", "message" / self, c.Terminated)

    @property
    def arities(self) -> range:
        """Array lengths this message may have (more than one only with trailing optional fields)."""
        return self.record.arities

    def from_item(self, item: Any, path: str) -> Any:
        fields = self.record.from_item(item, path)  # remembers a wide array head itself
        tag = fields.pop("tag")
        if isinstance(tag, WideInt):
            fields = remembering(fields, tag_width=tag.width)
        return fields

    def to_item(self, value: Any, path: str) -> Any:
        """The message's array; a decoded message's fields carry its head width and tag width with them."""
        if not isinstance(value, dict):
            raise EncodeError(f"{self.name}: fields must be a dict")
        if not isinstance(value, EncodedDict):  # built in code: canonical (the common case, kept cheap)
            return self.record.to_item({**value, "tag": self.tag}, path)
        tag = self.tag if value.tag_width is None else WideInt(self.tag, value.tag_width)
        return self.record.to_item(remembering({**value, "tag": tag}, **memory_of(value)), path)

    def strategy(self) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries({name: kind.strategy() for name, kind in self.fields})

    def messages(self, version: int | None = None) -> st.SearchStrategy[Message]:
        """Valid instances of this message (at the plain `version` number, or of any version)."""
        if not self.span.admits(version):
            return st.nothing()
        with at_version(version):
            fields = self.strategy()
        return fields.map(lambda value: Message(self.protocol, self.name, value))

    def to_json(self, value: Any) -> Any:
        return {name: kind.to_json(value[name]) for name, kind in self.fields}

    def from_json(self, data: Any) -> Any:
        unknown = set(data) - {name for name, _ in self.fields}
        if unknown:
            raise EncodeError(f"{self.name} has no fields {sorted(unknown)}")
        return {name: kind.from_json(data[name]) for name, kind in self.fields}


class Codec:
    """All messages of one mini-protocol, and the decoder that picks the right declaration for a tag.

    `since`/`until` are the versions in which the mini-protocol exists at all; `version_bit` is the bit the
    handshake sets on this family's version numbers (node-to-client: bit 15), cleared before comparing.
    """

    def __init__(
        self,
        name: str,
        number: int | None,
        messages: Iterable[MessageType],
        *,
        since: int | None = None,
        until: int | None = None,
        version_bit: int = 0,
    ) -> None:
        self.name = name
        self.number = number
        self.span = VersionSpan(since, until)
        self.version_bit = version_bit
        self.messages: dict[str, MessageType] = {}
        self.by_tag: dict[int, list[MessageType]] = {}
        for message in messages:
            if message.name in self.messages:
                raise ValueError(f"{name}: {message.name} declared twice")
            message.protocol = name
            self.messages[message.name] = message
            self.by_tag.setdefault(message.tag, []).append(message)

    def plain_version(self, version: int | None) -> int | None:
        """The version number to compare with `since`/`until`: 16 for node-to-client 16 or 32784."""
        return None if version is None else version & ~self.version_bit

    def decode(self, data: bytes, state: str | None = None, version: int | None = None, *, item: Any = None) -> Message:
        """Decode exactly one message; raise a DecodeError naming protocol, state, message and place.

        Without `version` the message may have the shape of any version; with the negotiated `version`
        (either numbering of node-to-client versions), exactly the shapes of that version. `item` is the
        CBOR item of `data` when the caller has it already (a reader that decoded the bytes to find where
        they end, a sender that encoded them): it is read instead of parsing `data` again.
        """
        try:
            if item is None:  # no message is the CBOR null, so None only ever means "not parsed"
                item, _ = cbor.decode_item(data)
            return self.decode_item(item, state, raw=bytes(data), version=version)
        except DecodeError as exc:
            raise exc.located(protocol=self.name, state=state) from None

    def decode_item(
        self, item: Any, state: str | None = None, raw: bytes | None = None, version: int | None = None
    ) -> Message:
        plain = self.plain_version(version)
        if plain is not None and not self.span.admits(plain):
            raise NotInVersion(
                f"a message of a mini-protocol that exists at v{plain}; {self.name} exists only at {self.span}",
                version=plain,
                span=self.span,
                path="$",
            )
        if plain == VERSION.get():  # the common case (no version, or a nested decode): no new scope
            return self._decode_item(item, state, raw, plain)
        token = VERSION.set(plain)  # at_version() without a generator's cost, as every message passes here
        try:
            return self._decode_item(item, state, raw, plain)
        finally:
            VERSION.reset(token)

    def _decode_item(self, item: Any, state: str | None, raw: bytes | None, version: int | None) -> Message:
        if not isinstance(item, list) or getattr(item, "indefinite", False) or not item:
            raise ShapeMismatch(f"a message: a non-empty definite array [tag, ...], got {_brief(item)}", path="$")
        tag = item[0]
        if isinstance(tag, bool) or not isinstance(tag, int) or tag < 0:
            raise ShapeMismatch("an unsigned message tag as the first element", path="$[0]")
        candidates = self.by_tag.get(tag, [])
        if not candidates:
            known = ", ".join(f"{t}={m[0].name}" for t, m in sorted(self.by_tag.items()))
            raise UnknownMessage(f"a known message tag ({known}), got {tag}", path="$[0]", offset=1)
        if state is not None:
            allowed = [m for m in candidates if not m.states or state in m.states]
            if not allowed:
                names = "/".join(m.name for m in candidates)
                raise UnknownMessage(
                    f"a message the sender may send in {state}; tag {tag} ({names}) is not one", path="$[0]"
                )
            candidates = allowed
        if version is not None:
            existing = [m for m in candidates if m.span.admits(version)]
            if not existing:
                first = candidates[0]
                raise NotInVersion(
                    f"a message that exists at v{version}; {first.name} exists only at {first.span}",
                    version=version,
                    span=first.span,
                    path="$[0]",
                    message=first.name,
                )
            candidates = existing
        last: DecodeError | None = None
        for message in candidates:
            if len(item) not in message.arities:
                lengths = "/".join(str(n) for n in message.arities)
                last = ShapeMismatch(
                    f"{message.name} as an array of {lengths}, got {len(item)} items",
                    path="$",
                    message=message.name,
                )
                continue
            try:
                fields = message.from_item(item, "$")
            except DecodeError as exc:
                last = exc.located(message=message.name)
                continue
            return Message(self.name, message.name, fields, raw)
        if last is None:  # pragma: no cover - candidates is never empty here
            raise UnknownMessage(f"a message with tag {tag}")
        raise last

    def encode(self, message: Message) -> bytes:
        return self.encode_with_item(message)[0]

    def encode_with_item(self, message: Message) -> tuple[bytes, Any]:
        """The bytes of `message` and the CBOR item they encode (which `decode_item` reads as `decode`
        reads the bytes: a sender that checks what it sends need not parse its own bytes back)."""
        declaration = self.messages.get(message.name)
        if declaration is None:
            raise EncodeError(f"{self.name} has no message {message.name}")
        item = declaration.to_item(message.fields, "$")
        return cbor.encode_item(item), item

    def to_json(self, message: Message) -> dict[str, Any]:
        declaration = self.messages[message.name]
        return {"protocol": self.name, "message": message.name, "fields": declaration.to_json(message.fields)}

    def from_json(self, data: dict[str, Any]) -> Message:
        name = data.get("message")
        if name not in self.messages:
            raise EncodeError(f"{self.name} has no message {name!r}")
        fields = self.messages[name].from_json(data.get("fields", {}))
        return Message(self.name, name, fields)

    def strategy(self, version: int | None = None) -> st.SearchStrategy[Message]:
        """Any valid message of this protocol (at the negotiated `version`, or of any version)."""
        plain = self.plain_version(version)
        if not self.span.admits(plain):
            return st.nothing()
        return st.one_of(*(m.messages(plain) for m in self.messages.values()))


def _brief(item: Any) -> str:
    from .schema import _kind

    return _kind(item)
