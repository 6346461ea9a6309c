"""A reference behaviour with some of its messages changed on the way out (the fault zoo's rewrites).

`Tampered` wraps a behaviour and rewrites the `Send` actions it returns; everything else passes through.
A changed message is sent as bytes in `Message.raw`, so the connection sends exactly those bytes and our
own Session judges them (the fault's `disable` lets the broken rule through).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conformance import wire
from conformance.peer.agent import Action, After, Behaviour, BehaviourFactory, Negotiated, Send
from conformance.wire import Message, mutate
from conformance.wire.cbor import decode_item

from .model import Rewrite

DELAY_TOKEN = "fault-delay-"


def _value(current: Any, wanted: Any) -> Any:
    """`wanted`, or for {"add": n, "mod": m} the current integer plus n, modulo m (default 2**64)."""
    if isinstance(wanted, dict) and "add" in wanted and set(wanted) <= {"add", "mod"}:
        return (int(current) + int(wanted["add"])) % int(wanted.get("mod", 1 << 64))
    return wanted


def _set_path(fields: dict[str, Any], path: list[str], wanted: Any) -> None:
    """Set `a.b.c` in nested mappings, copying each level (the original message stays as it was)."""
    head, rest = path[0], path[1:]
    if not rest:
        fields[head] = _value(fields.get(head, 0), wanted)
        return
    inner = dict(fields.get(head) or {})
    _set_path(inner, rest, wanted)
    fields[head] = inner


def handshake_tamper(rewrites: Sequence[Rewrite]) -> Callable[[Message], Message]:
    """The rewrite of our handshake messages (field changes or a replacement; one message in, one out)."""
    counts: dict[str, int] = {}

    def tamper(message: Message) -> Message:
        counts[message.name] = counts.get(message.name, 0) + 1
        for rule in rewrites:
            if rule.protocol == message.protocol and rule.matches(
                message.protocol, "", message.name, counts[message.name]
            ):
                changed = rewritten(rule, message)
                return changed[0] if changed else message
        return message

    return tamper


def _definite(data: bytes) -> bytes:
    """The message with every indefinite-length list written with a definite head (same items)."""
    from conformance.wire.cbor import encode_item

    return bytes(encode_item(_strip_indefinite(decode_item(data)[0])))


def _strip_indefinite(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_strip_indefinite(v) for v in value]
    return value


def rewritten(rewrite: Rewrite, message: Message) -> list[Message]:
    """What is sent in place of `message` (empty: nothing)."""
    if rewrite.drop:
        return []
    if rewrite.replace is not None:
        name, fields = rewrite.replace
        message = Message(message.protocol, name, dict(fields))
    if rewrite.set:
        fields = dict(message.fields)
        for key, wanted in rewrite.set.items():
            _set_path(fields, key.split("."), wanted)
        message = Message(message.protocol, message.name, fields)
    if rewrite.raw is not None:
        return [Message(message.protocol, message.name, message.fields, rewrite.raw)] * (1 + rewrite.repeat)
    needs_bytes = (
        rewrite.append or rewrite.truncate is not None or rewrite.reencode or rewrite.set or rewrite.flip is not None
    )
    if needs_bytes:
        data = bytes(message.raw) if message.raw is not None and not rewrite.set else wire.encode(message)
        if rewrite.reencode == "definite-lists":
            data = _definite(data)
        if rewrite.flip is not None:
            data = mutate.flip(data, *rewrite.flip)
        if rewrite.truncate is not None:
            data = data[: rewrite.truncate]
        data += rewrite.append
        message = Message(message.protocol, message.name, message.fields, data)
    return [message] * (1 + rewrite.repeat)


class Tampered:
    """`inner` with `rewrites` applied to what it sends."""

    def __init__(self, inner: Behaviour, rewrites: Sequence[Rewrite], time_scale: float) -> None:
        self.inner = inner
        self.protocol = inner.protocol
        self.side = inner.side
        self._rewrites = tuple(rewrites)
        self._scale = time_scale
        self._counts: dict[str, int] = {}
        self._delayed: dict[str, list[Message]] = {}

    def __getattr__(self, name: str) -> Any:  # counters and summaries of the wrapped behaviour
        return getattr(self.inner, name)

    def start(self) -> Sequence[Action]:
        return self._tamper(self.inner.start())

    def on_message(self, message: Message) -> Sequence[Action]:
        return self._tamper(self.inner.on_message(message))

    def on_timer(self, token: str) -> Sequence[Action]:
        if token.startswith(DELAY_TOKEN):
            return [Send(m) for m in self._delayed.pop(token, [])]
        return self._tamper(self.inner.on_timer(token))

    def _tamper(self, actions: Sequence[Action]) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            if not isinstance(action, Send):
                out.append(action)
                continue
            name = action.message.name
            self._counts[name] = self._counts.get(name, 0) + 1
            rule = next(
                (r for r in self._rewrites if r.matches(self.protocol, self.side, name, self._counts[name])), None
            )
            if rule is None:
                out.append(action)
                continue
            messages = rewritten(rule, action.message)
            if rule.delay > 0:
                token = f"{DELAY_TOKEN}{len(self._delayed)}-{self._counts[name]}"
                self._delayed[token] = messages
                out.append(After(rule.delay * self._scale, token))
            else:
                out.extend(Send(m) for m in messages)
        return out


def tampered(factory: BehaviourFactory, rewrites: Sequence[Rewrite]) -> BehaviourFactory:
    def build(negotiated: Negotiated) -> Behaviour:
        return Tampered(factory(negotiated), rewrites, negotiated.time_scale)

    return build
