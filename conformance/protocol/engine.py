"""One generic, sans-I/O engine that follows any mini-protocol table between two sides.

A `Session` sees every message of one mini-protocol instance, from the initiator and from the
responder, in the order they were sent, and answers with the new state or a `Violation` naming the
requirement broken. It never does I/O and never sleeps: time comes from a `Clock`.

Pipelining: the pipelining side may send further requests while the peer still owes replies. Such a
message is checked against the table as if sent from the pipelining's return state, queued, and taken
in protocol order once the replies before it have arrived (that is when the receiving node checks it,
so the rules beyond the table see it then).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import catalogue
from .clock import Clock, MonotonicClock
from .registry import TABLES
from .rules import Move, Rules
from .table import NOBODY, SIDES, ProtocolTable
from .violations import (
    AgencyViolation,
    ByteLimitExceeded,
    DecodeViolation,
    PipeliningDepthExceeded,
    PipeliningViolation,
    TimeLimitExceeded,
    UnexpectedMessage,
    Violation,
)

Decoder = Callable[..., Any]


@dataclass(frozen=True)
class Observed:
    """One accepted message, as the transcript records it."""

    time: float
    sender: str
    message: Any
    pipelined: bool


def _wire_decode(protocol: str, data: bytes, state: str | None = None) -> Any:
    from conformance import wire  # the wire layer is imported only when bytes must be decoded

    return wire.decode(protocol, data, state=state)


class Session:
    """Follows one mini-protocol between an initiator and a responder.

    `version` is the negotiated version number (N2C numbers may carry bit 15). `time_scale` multiplies
    every time limit, so integration tests of time limits stay fast. With `strict`, SHOULD and
    informational rules raise like MUST rules; otherwise their violations are kept in `warnings`.
    Further keyword options go to the protocol's rule checker (e.g. handshake `responder_versions`).
    """

    def __init__(
        self,
        name: str,
        version: int | None = None,
        clock: Clock | None = None,
        *,
        time_scale: float = 1.0,
        strict: bool = False,
        decoder: Decoder | None = None,
        **options: Any,
    ) -> None:
        table = TABLES.get(name)
        if table is None:
            raise ValueError(f"unknown mini-protocol {name!r}; known: {', '.join(TABLES)}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale}")
        self.name = name
        self.table: ProtocolTable = table
        self.version = version
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.time_scale = time_scale
        self.strict = strict
        self._decode = decoder if decoder is not None else _wire_decode
        self.rules: Rules = (table.rules or Rules)(version=version, **options)
        self._state = table.initial
        self._entered = self.clock.now()
        self._pending: deque[Move] = deque()
        self.warnings: list[Violation] = []
        self.history: list[Observed] = []

    # -- where the session stands -------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The protocol state, as the side receiving the requests sees it (replies taken in order)."""
        return self._state

    @property
    def agency(self) -> str:
        """ "initiator", "responder" or "nobody": who is to send the next (non-pipelined) message."""
        return self.table.state(self._state).agency

    @property
    def done(self) -> bool:
        return self.agency == NOBODY

    @property
    def pending(self) -> tuple[Any, ...]:
        """Pipelined messages sent but not yet reached in protocol order."""
        return tuple(move.message for move in self._pending)

    @property
    def in_flight(self) -> int:
        """Requests of the pipelining side whose replies have not all arrived."""
        pipelining = self.table.pipelining
        if pipelining is None:
            return 0
        return len(self._pending) + (1 if self._state in pipelining.busy_states else 0)

    @property
    def deadline(self) -> float | None:
        """When the side with agency must have sent its next message, on the session's clock."""
        limit = self.table.state(self._state).time_limit.scaled(self.time_scale)
        return None if limit is None else self._entered + limit

    def allowed(self, sender: str) -> tuple[str, ...]:
        """The messages `sender` may send now, pipelined ones included (rules beyond the table aside)."""
        pipelining = self.table.pipelining
        if self.agency == sender:
            return tuple(move.message for move in self.table.transitions_from(self._state))
        if pipelining is not None and self._pipelining(sender):
            return tuple(m for m in self.table.messages if m in pipelining.messages)
        return ()

    # -- observing messages -------------------------------------------------------------------------

    def observe(self, sender: str, message: Any) -> str:
        """Take one message from `sender`; return the new state's name or raise a `Violation`.

        `message` is a decoded message or its bytes. Bytes are checked against the state's byte limit
        before they are decoded, so an oversized message is reported as such.
        """
        if sender not in SIDES:
            raise ValueError(f"sender must be 'initiator' or 'responder', not {sender!r}")
        now = self.clock.now()
        data: bytes | None = None
        if isinstance(message, (bytes, bytearray, memoryview)):
            data = bytes(message)
            size: int | None = len(data)
        else:
            if getattr(message, "protocol", self.name) != self.name:
                raise ValueError(f"a {message.protocol} message given to a {self.name} session")
            raw = getattr(message, "raw", None)
            size = None if raw is None else len(raw)
        pipelined = self._check_speaker(sender, None if data is not None else message)
        state = self.table.pipelining.return_state if pipelined and self.table.pipelining else self._state
        if not pipelined:
            self._check_time(sender, now, message if data is None else None)
        self._check_bytes(state, sender, size, message if data is None else None)
        if data is not None:
            message = self._decode_in(state, sender, data)
        move = self._move(state, sender, message, size, pipelined)
        if pipelined:
            self._emit(self.rules.check_sent(move))
            self._check_depth(move)
            self._pending.append(move)
        else:
            self._apply(move, now)
        self.history.append(Observed(now, sender, message, pipelined))
        self._drain(now)
        return self._state

    def check_time(self) -> None:
        """Raise `TimeLimitExceeded` if the side with agency is past its deadline (the I/O layer's timer)."""
        deadline = self.deadline
        now = self.clock.now()
        if deadline is not None and now > deadline and self.agency != NOBODY:
            self._check_time(self.agency, now, None)

    # -- the checks, in the order a receiving node makes them ---------------------------------------

    def _pipelining(self, sender: str) -> bool:
        pipelining = self.table.pipelining
        return pipelining is not None and sender == pipelining.side and self._state in pipelining.busy_states

    def _where(self, state: str, sender: str, message: Any) -> dict[str, Any]:
        return {
            "protocol": self.name,
            "state": state,
            "sender": sender,
            "message": message,
            "agency": self.table.state(state).agency,
        }

    def _check_speaker(self, sender: str, message: Any) -> bool:
        """Whether `sender` may speak now at all; True when its message is a pipelined one."""
        if self.agency == sender:
            return False
        if self._pipelining(sender):
            return True
        name = getattr(message, "name", None)
        requirement = self.table.illegal.get((self._state, name)) if name else None
        requirement = requirement or self.table.requirement("AGENCY")
        detail = (
            f"the protocol has terminated ({self._state}); nobody may send"
            if self.done
            else f"{sender} sent {name or 'a message'} while {self.agency} has agency in {self._state}"
        )
        raise AgencyViolation(requirement, detail, **self._where(self._state, sender, message))

    def _check_time(self, sender: str, now: float, message: Any) -> None:
        limit = self.table.state(self._state).time_limit.scaled(self.time_scale)
        elapsed = now - self._entered
        if limit is not None and elapsed > limit:
            raise TimeLimitExceeded(
                self.table.requirement("TIME"),
                f"{sender} took {elapsed:g} s in {self._state}; the limit is {limit:g} s",
                limit=limit,
                observed=elapsed,
                **self._where(self._state, sender, message),
            )

    def _check_bytes(self, state: str, sender: str, size: int | None, message: Any) -> None:
        limit = self.table.state(state).byte_limit.value
        if size is not None and limit is not None and size > limit:
            raise ByteLimitExceeded(
                self.table.requirement("BYTES"),
                f"a {size}-byte message in {state}; the limit is {int(limit)} bytes",
                limit=limit,
                observed=size,
                **self._where(state, sender, message),
            )

    def _decode_in(self, state: str, sender: str, data: bytes) -> Any:
        """Decode in the state; a message of another state is still decoded, so the table can name the
        broken rule (agency, unexpected message) instead of a bare codec failure."""
        from conformance.wire.errors import DecodeError, UnknownMessage

        try:
            return self._decode(self.name, data, state=state)
        except UnknownMessage as error:
            try:
                return self._decode(self.name, data, state=None)
            except DecodeError:
                raise DecodeViolation(
                    self.table.codec_requirement(error, data),
                    f"the bytes are not a {self.name} message of {state}: {error}",
                    error=error,
                    **self._where(state, sender, data),
                ) from error
        except DecodeError as error:
            raise DecodeViolation(
                self.table.codec_requirement(error, data),
                f"the bytes are not a {self.name} message of {state}: {error}",
                error=error,
                **self._where(state, sender, data),
            ) from error

    def _move(self, state: str, sender: str, message: Any, size: int | None, pipelined: bool) -> Move:
        name = message.name
        transition = self.table.transition(state, name, getattr(message, "fields", None) or {})
        where = self._where(state, sender, message)
        if name not in self.table.messages:
            raise UnexpectedMessage(
                self.table.requirement("MSG"), f"{name} is not a {self.name} message", **where
            )
        if pipelined and self.table.sender_of(name) != sender:
            raise AgencyViolation(
                self.table.requirement("AGENCY"),
                f"{sender} sent {name} while {self.agency} has agency in {self._state}",
                **self._where(self._state, sender, message),
            )
        if transition is None or self.table.sender_of(name) != sender:
            requirement = self.table.illegal.get((state, name)) or self.table.requirement("MSG")
            raise UnexpectedMessage(requirement, f"{name} is not allowed in {state}", **where)
        pipelining = self.table.pipelining
        if pipelined and pipelining is not None and name not in pipelining.messages:
            raise PipeliningViolation(
                self.table.requirement("PIPE"),
                f"{name} sent while {self.in_flight} request(s) are unanswered; only "
                f"{', '.join(sorted(pipelining.messages))} may be pipelined",
                **where,
            )
        return Move(self.name, state, transition.target, where["agency"], sender, message, size, pipelined)

    def _check_depth(self, move: Move) -> None:
        pipelining = self.table.pipelining
        if pipelining is None or pipelining.max_depth is None:
            return
        depth = self.in_flight + 1
        if depth > pipelining.max_depth:
            self._emit(
                [
                    move.violation(
                        f"{self.table.prefix}-PIPE-02",
                        f"{depth} requests in flight; the limit is {pipelining.max_depth}",
                        PipeliningDepthExceeded,
                        limit=pipelining.max_depth,
                        observed=depth,
                    )
                ]
            )

    def _apply(self, move: Move, now: float) -> None:
        self._emit(self.rules.check(move))
        self.rules.commit(move)
        self._state = move.target
        self._entered = now

    def _drain(self, now: float) -> None:
        pipelining = self.table.pipelining
        while self._pending and pipelining is not None and self._state == pipelining.return_state:
            queued = self._pending.popleft()
            self._apply(queued, now)

    def _emit(self, violations: Iterable[Violation]) -> None:
        catalogue.report(violations, strict=self.strict, warnings=self.warnings)
