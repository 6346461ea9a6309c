"""Run behaviours against each other without sockets: every message through the wire layer and a Session.

A `WireLoop` links an initiator behaviour and a responder behaviour per mini-protocol. Each `Send` is
encoded with `wire.encode`, observed by that protocol's `Session` (both sides, the negotiated version,
violations recorded, on the loop's virtual clock) and decoded with `wire.decode` before the other side
gets it, in the order sent. Timers run on the virtual clock, so a growing tip or a poll costs no real
time. Used by the chain tests and benchmarks/bench_chain.py; the TCP connection does the same with I/O.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from conformance import wire
from conformance.protocol import FakeClock, Session

from .agent import Action, After, Behaviour, Finish, Send


@dataclass
class Link:
    """One mini-protocol instance: its two behaviours, its session and what crossed it."""

    initiator: Behaviour
    responder: Behaviour
    session: Session
    messages: int = 0
    sent_bytes: int = 0
    finished: set[str] = field(default_factory=set)
    queue: deque[tuple[str, bytes]] = field(default_factory=deque)

    @property
    def protocol(self) -> str:
        return self.session.name


class WireLoop:
    """A deterministic scheduler for behaviours linked in pairs (see the module docstring).

    `keep_history=False` empties each session's history as it goes, so memory stays flat on long runs;
    `validate=False` skips the sessions (benchmarks measure the behaviours and the wire layer alone).
    """

    def __init__(self, version: int | None = None, *, keep_history: bool = True, validate: bool = True) -> None:
        self.validate = validate
        self.version = version
        self.clock = FakeClock()
        self.links: list[Link] = []
        self.keep_history = keep_history
        self._timers: list[tuple[float, int, int, str, str]] = []
        self._sequence = 0
        self._started = False

    def link(self, initiator: Behaviour, responder: Behaviour) -> Link:
        if initiator.protocol != responder.protocol:
            raise ValueError(f"{initiator.protocol} initiator linked to a {responder.protocol} responder")
        session = Session(initiator.protocol, self.version, self.clock, on_violation="record")
        self.links.append(Link(initiator, responder, session))
        return self.links[-1]

    @property
    def violations(self) -> list[object]:
        return [v for link in self.links for v in link.session.violations]

    def run(self, max_steps: int = 10_000_000, until: float | None = None) -> None:
        """Start every behaviour, then deliver messages and fire timers until nothing is left, every
        behaviour finished, `until` (virtual seconds) passed, or `max_steps` deliveries were made (a
        fired timer counts as one). A later call carries on where the last one stopped."""
        if not self._started:
            self._started = True
            for number, link in enumerate(self.links):
                self._act(number, "initiator", link.initiator.start())
                self._act(number, "responder", link.responder.start())
        steps = 0
        while steps < max_steps:
            delivered = False
            for number, link in enumerate(self.links):
                if link.queue:
                    sender, data = link.queue.popleft()
                    receiver = "responder" if sender == "initiator" else "initiator"
                    behaviour = link.responder if receiver == "responder" else link.initiator
                    message = wire.decode(link.protocol, data, version=self.version)
                    self._act(number, receiver, behaviour.on_message(message))
                    delivered, steps = True, steps + 1
            if delivered:
                continue
            if not self._timers or all(len(link.finished) == 2 for link in self.links):
                return
            if until is not None and self._timers[0][0] > until:
                return
            due, _, number, side, token = heapq.heappop(self._timers)
            self.clock.advance(max(0.0, due - self.clock.now()))
            steps += 1
            link = self.links[number]
            if side in link.finished:
                continue
            behaviour = link.initiator if side == "initiator" else link.responder
            self._act(number, side, behaviour.on_timer(token))

    def act(self, link: Link, side: str, actions: Sequence[Action]) -> None:
        """Take actions a behaviour returned outside the loop (e.g. a server's `rollback`)."""
        self._act(self.links.index(link), side, actions)

    def _act(self, number: int, side: str, actions: Sequence[Action]) -> None:
        link = self.links[number]
        for action in actions:
            if isinstance(action, Send):
                data = wire.encode(action.message)
                if self.validate:
                    link.session.observe(side, data)
                if not self.keep_history:
                    link.session.history.clear()
                link.queue.append((side, data))
                link.messages += 1
                link.sent_bytes += len(data)
            elif isinstance(action, After):
                self._sequence += 1
                due = self.clock.now() + action.seconds
                heapq.heappush(self._timers, (due, self._sequence, number, side, action.token))
            elif isinstance(action, Finish):
                link.finished.add(side)
