"""A sans-I/O loop that runs two behaviours against each other on real bytes, under a Session's eye.

Every Send is encoded with `wire.encode`, observed as bytes by a `Session` of the protocol (recording, at
the negotiated version, on a fake clock), decoded with `wire.decode` in the sender's state, and handed to
the other side. Timers are kept until a test fires them; nothing sleeps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from conformance import wire
from conformance.peer.agent import Action, After, Finish, Send
from conformance.protocol import FakeClock, Session
from conformance.wire.message import Message

SIDES = ("initiator", "responder")
MAX_MESSAGES = 10_000


class Loop:
    def __init__(self, protocol: str, initiator: Any, responder: Any, version: int, **rules: Any) -> None:
        self.protocol = protocol
        self.version = version
        self.sides = {"initiator": initiator, "responder": responder}
        self.session = Session(protocol, version, FakeClock(), on_violation="record", **rules)
        self.queue: deque[tuple[str, Message]] = deque()
        self.timers: dict[str, list[After]] = {side: [] for side in SIDES}
        self.finished: dict[str, str | None] = {side: None for side in SIDES}
        self.trace: list[tuple[str, Message]] = []
        self.sent_bytes = 0

    def start(self) -> Loop:
        for side in SIDES:
            self.take(side, self.sides[side].start())
        self.pump()
        return self

    def take(self, side: str, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                assert action.message.protocol == self.protocol
                self.queue.append((side, action.message))
            elif isinstance(action, After):
                assert action.seconds > 0
                self.timers[side].append(action)
            elif isinstance(action, Finish):
                self.finished[side] = action.reason
            else:
                raise AssertionError(f"not an action: {action!r}")

    def act(self, side: str, actions: Sequence[Action]) -> Loop:
        """Take actions a test obtained from a side (e.g. `offer`, `stop`) and deliver what follows."""
        self.take(side, actions)
        return self.pump()

    def fire(self, side: str) -> Loop:
        """Fire the oldest timer a side asked for."""
        timer = self.timers[side].pop(0)
        return self.act(side, self.sides[side].on_timer(timer.token))

    def pump(self, limit: int = MAX_MESSAGES) -> Loop:
        """Deliver queued messages (and what they cause) until none is left, or `limit` of them."""
        count = 0
        while self.queue and count < limit:
            count += 1
            assert count < MAX_MESSAGES, "the behaviours do not stop talking"
            sender, message = self.queue.popleft()
            data = wire.encode(message)
            self.sent_bytes += len(data)
            state = self.session.state
            self.session.observe(sender, data)
            decoded = wire.decode(self.protocol, data, state=state, version=self.version)
            self.trace.append((sender, decoded))
            receiver = SIDES[1 - SIDES.index(sender)]
            if self.finished[receiver] is None:
                self.take(receiver, self.sides[receiver].on_message(decoded))
        return self

    @property
    def names(self) -> list[str]:
        return [message.name for _, message in self.trace]

    @property
    def requirements(self) -> list[str]:
        return [violation.requirement for violation in self.session.violations]

    def assert_clean(self) -> None:
        assert self.session.violations == [], self.session.violations
        assert self.session.warnings == [], self.session.warnings


def feed(behaviour: Any, messages: Sequence[Message], timers: Sequence[str] = ()) -> list[Action]:
    """Hand a behaviour every message (whatever its state) and fire timers: only actions may come back,
    and every message it sends must encode."""
    out: list[Action] = list(behaviour.start())
    for message in messages:
        out += behaviour.on_message(message)
    for token in timers:
        out += behaviour.on_timer(token)
    for action in out:
        assert isinstance(action, (Send, After, Finish)), action
        if isinstance(action, Send):
            assert action.message.protocol == behaviour.protocol
            wire.encode(action.message)
    return out
