"""Message declarations and the per-protocol codec that decodes bytes to `Message` and back.

Every Ouroboros message is a definite-length array `[tag, field...]`. A `MessageType` declares one message
once: its name, tag, named fields (typed CBOR constructs) and the states in which it may arrive (used only
to tell apart messages that share a tag, as LocalTxMonitor's MsgAcquire and MsgAwaitAcquire do).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import construct as c
from hypothesis import strategies as st

from . import cbor
from .cbor import WideInt
from .errors import DecodeError, EncodeError, ShapeMismatch, UnknownMessage
from .message import Message
from .schema import CborType, Const, EncodedDict, Record, memory_of, remembering


class MessageType(CborType):
    """One message, declared once: `MessageType("MsgRollForward", 2, "header" / Header, "tip" / Tip)`."""

    def __init__(self, name: str, tag: int, *fields: c.Renamed, states: Iterable[str] = ()) -> None:
        super().__init__()
        self.name = name
        self.tag = tag
        self.states = tuple(states)
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

    def messages(self) -> st.SearchStrategy[Message]:
        """Valid instances of this message."""
        return self.strategy().map(lambda fields: Message(self.protocol, self.name, fields))

    def to_json(self, value: Any) -> Any:
        return {name: kind.to_json(value[name]) for name, kind in self.fields}

    def from_json(self, data: Any) -> Any:
        unknown = set(data) - {name for name, _ in self.fields}
        if unknown:
            raise EncodeError(f"{self.name} has no fields {sorted(unknown)}")
        return {name: kind.from_json(data[name]) for name, kind in self.fields}


class Codec:
    """All messages of one mini-protocol, and the decoder that picks the right declaration for a tag."""

    def __init__(self, name: str, number: int | None, messages: Iterable[MessageType]) -> None:
        self.name = name
        self.number = number
        self.messages: dict[str, MessageType] = {}
        self.by_tag: dict[int, list[MessageType]] = {}
        for message in messages:
            if message.name in self.messages:
                raise ValueError(f"{name}: {message.name} declared twice")
            message.protocol = name
            self.messages[message.name] = message
            self.by_tag.setdefault(message.tag, []).append(message)

    def decode(self, data: bytes, state: str | None = None) -> Message:
        """Decode exactly one message; raise a DecodeError naming protocol, state, message and place."""
        try:
            item, _ = cbor.decode_item(data)
            return self.decode_item(item, state, raw=bytes(data))
        except DecodeError as exc:
            raise exc.located(protocol=self.name, state=state) from None

    def decode_item(self, item: Any, state: str | None = None, raw: bytes | None = None) -> Message:
        if not isinstance(item, list) or getattr(item, "indefinite", False) or not item:
            raise ShapeMismatch(
                f"a message: a non-empty definite array [tag, ...], got {_brief(item)}", path="$"
            )
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
        declaration = self.messages.get(message.name)
        if declaration is None:
            raise EncodeError(f"{self.name} has no message {message.name}")
        return cbor.encode_item(declaration.to_item(message.fields, "$"))

    def to_json(self, message: Message) -> dict[str, Any]:
        declaration = self.messages[message.name]
        return {"protocol": self.name, "message": message.name, "fields": declaration.to_json(message.fields)}

    def from_json(self, data: dict[str, Any]) -> Message:
        name = data.get("message")
        if name not in self.messages:
            raise EncodeError(f"{self.name} has no message {name!r}")
        fields = self.messages[name].from_json(data.get("fields", {}))
        return Message(self.name, name, fields)

    def strategy(self) -> st.SearchStrategy[Message]:
        """Any valid message of this protocol."""
        return st.one_of(*(m.messages() for m in self.messages.values()))


def _brief(item: Any) -> str:
    from .schema import _kind

    return _kind(item)
