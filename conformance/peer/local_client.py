"""A minimal client for the node-to-client request/response protocols, for tests and simple scenarios.

It sends its scripted requests one at a time, each once the server has answered the one before
(MsgRelease is never answered), keeps every answer in `replies`, and ends with MsgDone. A script must
follow the protocol itself (for example, no MsgQuery after a MsgFailure): the client does not judge.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from .agent import Action, Finish, Negotiated, Send
from .txwire import Message

UNANSWERED = frozenset({"MsgRelease"})
"""Requests the server does not answer (local-state-query and local-tx-monitor)."""


class ScriptedClient:
    """The initiator of one node-to-client protocol, playing a fixed list of requests."""

    side = "initiator"

    def __init__(
        self,
        protocol: str,
        requests: Iterable[Message],
        negotiated: Negotiated | None = None,
        *,
        done: bool = True,
    ) -> None:
        self.protocol = protocol
        self.negotiated = negotiated
        self.pending: deque[Message] = deque(requests)
        self.done = done
        self.replies: list[Message] = []
        self.finished = False

    def start(self) -> Sequence[Action]:
        return self._next()

    def on_message(self, message: Message) -> Sequence[Action]:
        self.replies.append(message)
        return self._next()

    def on_timer(self, token: str) -> Sequence[Action]:
        return []

    def more(self, requests: Iterable[Message]) -> Sequence[Action]:
        """Queue further requests; sends the first at once when the client was waiting for work."""
        idle = not self.pending and not self.finished
        self.pending.extend(requests)
        return self._next() if idle else []

    def _next(self) -> list[Action]:
        actions: list[Action] = []
        while self.pending:
            request = self.pending.popleft()
            actions.append(Send(request))
            if request.name not in UNANSWERED:
                return actions
        if self.done and not self.finished:
            self.finished = True
            actions += [Send(Message(self.protocol, "MsgDone", {})), Finish("done")]
        return actions
