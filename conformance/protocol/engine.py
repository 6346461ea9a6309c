"""One generic, sans-I/O engine that follows any mini-protocol table between two sides.

A `Session` sees every message of one mini-protocol instance, from the initiator and from the
responder, in the order they were sent, and answers with the new state or a `Violation` naming the
requirement broken. It never does I/O and never sleeps: time comes from a `Clock`.

Pipelining: the pipelining side may send further requests while the peer still owes replies. Such a
message is checked against the table as if sent from the pipelining's return state, queued, and taken
in protocol order once the replies before it have arrived (that is when the receiving node checks it,
so the rules beyond the table see it then).

Observe is all or nothing. With `on_violation="raise"` (the default) a violation is raised and the
session is left exactly as it was (state, time entered, pending queue, history, warnings and the rule
checker), with one exception: a missed deadline, once reported, counts as reported. With
`on_violation="record"` every violation is appended once to `violations` and the session carries on:
a message the table allows but that breaks a rule beyond it (or a byte or time limit) is taken and
leads to its target state; a message the table does not allow at all (agency, unknown or unexpected
message, pipelining, bytes that do not decode, fields that do not fit the declaration) is skipped, so
the rest of the trace is judged from where the session stood, without a cascade.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from conformance.wire.message import Message

from . import catalogue
from .clock import Clock, MonotonicClock
from .registry import TABLES
from .rules import Move, Rules
from .table import NOBODY, SIDES, ProtocolTable, Transition
from .violations import (
    AgencyViolation,
    ByteLimitExceeded,
    DecodeViolation,
    IllTypedMessage,
    PipeliningDepthExceeded,
    PipeliningViolation,
    TimeLimitExceeded,
    UnexpectedMessage,
    Violation,
)

Decoder = Callable[..., Any]
OnViolation = Literal["raise", "record"]
ON_VIOLATION: tuple[OnViolation, ...] = ("raise", "record")
_PATH = re.compile(r"^(\$[^:\s]*):")


@dataclass(frozen=True)
class Observed:
    """One accepted message, as the transcript records it."""

    time: float
    sender: str
    message: Any
    pipelined: bool


def _wire_decode(
    protocol: str, data: bytes, state: str | None = None, *, version: int | None = None, item: Any = None
) -> Any:
    """The wire decoder, told the negotiated version (None: any supported version's shapes) and, when
    known, the CBOR item of `data`."""
    from conformance import wire  # the wire layer is imported only when bytes must be decoded

    return wire.decode(protocol, data, state=state, version=version, item=item)


HISTORY_LIMIT = 10_000
"""Accepted messages a session keeps by default: enough for any transcript of a test case."""


@dataclass
class _Undo:
    """What an observe needs to put back if it fails; the rules snapshot is taken before the first commit."""

    state: str
    entered: float
    started: bool
    entries: int
    history: int
    accepted: int
    pending: tuple[Move, ...]
    rules: Any = None
    rules_saved: bool = False


class _Findings:
    """The violations and warnings one observe finds, kept aside until the observe has succeeded."""

    def __init__(self, *, strict: bool, raising: bool) -> None:
        self.strict = strict
        self.raising = raising
        self.violations: list[Violation] = []
        self.warnings: list[Violation] = []

    def add(self, found: Iterable[Violation]) -> None:
        """Raise (or, recording, keep) each violation that fails the check; keep the others as warnings."""
        for violation in found:
            if not catalogue.judge(violation, strict=self.strict):
                self.warnings.append(violation)
            elif self.raising:
                raise violation
            else:
                self.violations.append(violation)


class Session:
    """Follows one mini-protocol between an initiator and a responder.

    `version` is the negotiated version number (N2C numbers may carry bit 15); the wire decoder is told
    it. `time_scale` multiplies every time limit, so integration tests of time limits stay fast. With
    `strict`, SHOULD and informational rules count like MUST rules; otherwise their violations are kept
    in `warnings`. `on_violation` is "raise" (the first violation is raised, the session unchanged) or
    "record" (every violation is kept, once, in `violations`, and the session goes on; see the module
    docstring). Further keyword options go to the protocol's rule checker (e.g. handshake
    `responder_versions`). `history` keeps the last `history_limit` accepted messages (None: all), so
    a session on a long-running connection holds bounded memory. `state` starts the session in another
    state than the table's initial one: a judge that joins a conversation mid-way (a capture that missed
    the start) names where it joined. `started` False creates the session with the clock of its first
    state stopped: no deadline until `start()` or its first message, as the node starts a responder on
    demand (see `start`).
    """

    def __init__(
        self,
        name: str,
        version: int | None = None,
        clock: Clock | None = None,
        *,
        time_scale: float = 1.0,
        strict: bool = False,
        on_violation: OnViolation = "raise",
        decoder: Decoder | None = None,
        history_limit: int | None = HISTORY_LIMIT,
        state: str | None = None,
        started: bool = True,
        **options: Any,
    ) -> None:
        table = TABLES.get(name)
        if table is None:
            raise ValueError(f"unknown mini-protocol {name!r}; known: {', '.join(TABLES)}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {time_scale}")
        if history_limit is not None and history_limit < 1:
            raise ValueError(f"history_limit must be positive or None, not {history_limit}")
        if on_violation not in ON_VIOLATION:
            raise ValueError(f"on_violation must be one of {ON_VIOLATION}, not {on_violation!r}")
        if state is not None and state not in {s.name for s in table.states}:
            raise ValueError(f"{name} has no state {state!r}")
        self.name = name
        self.table: ProtocolTable = table
        self.version = version
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.time_scale = time_scale
        self.strict = strict
        self.on_violation: OnViolation = on_violation
        self._decode: Decoder = decoder if decoder is not None else functools.partial(_wire_decode, version=version)
        self._decode_items = decoder is None  # our own encodings are read as items (see _decode_in)
        self.rules: Rules = (table.rules or Rules)(version=version, **options)
        self._state = table.initial if state is None else state
        self._entered = self.clock.now()
        self._started = started
        self._entries = 0
        """How many moves have been taken: names the current stay in a state, for its deadline."""
        self._late: int | None = None
        """The stay (`_entries`) whose missed deadline has been reported."""
        self._pending: deque[Move] = deque()
        self.warnings: list[Violation] = []
        self.violations: list[Violation] = []
        self.history: list[Observed] = []
        self.history_limit = history_limit
        self.accepted = 0
        """How many messages the session has accepted so far (history keeps only the last ones)."""

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
    def started(self) -> bool:
        """Whether the clock runs: from creation, or (created unstarted) from `start()` or the first message."""
        return self._started

    def start(self) -> None:
        """Start the clock of the current state now, if it has not started (else nothing changes).

        The node starts its responders on demand (Network.Mux `StartOnDemand`/`StartOnDemandAny`, set per
        mini-protocol in `Cardano.Network.NodeToNode.nodeToNodeProtocols`), and a state's limit counts
        from when its driver begins to wait (`Ouroboros.Network.Driver.Limits`): a responder's first state
        has no limit until the mini-protocol starts. The I/O layer calls this when that happens; a message
        observed on an unstarted session starts it at its own arrival.
        """
        if not self._started:
            self._started = True
            self._entered = self.clock.now()

    @property
    def deadline(self) -> float | None:
        """When the side with agency must have sent its next message, on the session's clock (None when
        the state has no limit or the clock has not started)."""
        if not self._started:
            return None
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

    def observe(self, sender: str, message: bytes | bytearray | memoryview | Message) -> str:
        """Take one message from `sender`; return the new state's name or raise a `Violation`.

        `message` is the bytes of one message or a `Message` value. Bytes are checked against the
        state's byte limit before they are decoded, so an oversized message is reported as such. A value
        stands for its bytes: its `raw` bytes when it has them, else `wire.encode` of its fields, which
        also checks them against the declaration (a value that has no bytes is refused with
        `IllTypedMessage`); the rules and the transcript see those bytes decoded. Wrong arguments (a
        sender that is neither side, a message of another protocol, neither bytes nor a `Message`) are
        the caller's mistake and raise ValueError or TypeError.
        """
        if sender not in SIDES:
            raise ValueError(f"sender must be 'initiator' or 'responder', not {sender!r}")
        if not isinstance(message, (bytes, bytearray, memoryview, Message)):
            raise TypeError(f"a message is bytes or a wire Message, not {type(message).__name__}")
        if isinstance(message, Message) and message.protocol != self.name:
            raise ValueError(f"a {message.protocol} message given to a {self.name} session")
        now = self.clock.now()
        found = _Findings(strict=self.strict, raising=self.on_violation == "raise")
        undo = _Undo(
            self._state,
            self._entered,
            self._started,
            self._entries,
            len(self.history),
            self.accepted,
            tuple(self._pending),
        )
        try:
            self._take(sender, message, now, found, undo)
        except Violation as refused:
            self._restore(undo)
            catalogue.judge(refused, strict=self.strict)  # a refusal, whatever its severity
            if found.raising:
                raise
            found.violations.append(refused)  # the message is skipped
        except BaseException:
            self._restore(undo)
            raise
        self.violations.extend(found.violations)
        self.warnings.extend(found.warnings)
        if self.history_limit is not None and len(self.history) > self.history_limit:
            del self.history[: len(self.history) - self.history_limit]
        return self._state

    def check_pending(self, sender: str, size: int) -> None:
        """`size` bytes of a message from `sender` have arrived and it is not finished: past the current
        state's byte limit that is a violation already (the node's decoder stops at the limit with
        ExceededSizeLimit; it does not wait for the rest)."""
        found = self._check_bytes(self._state, sender, size, None)
        if not found:
            return
        catalogue.judge(found[0], strict=self.strict)
        if self.on_violation == "raise":
            raise found[0]
        self.violations.extend(found)

    def check_time(self) -> None:
        """Report a missed deadline of the side with agency (the I/O layer's timer), once per stay.

        Raises `TimeLimitExceeded`, or records it when the session records violations.
        """
        deadline = self.deadline
        now = self.clock.now()
        if deadline is not None and now > deadline and self.agency != NOBODY:
            found = _Findings(strict=self.strict, raising=self.on_violation == "raise")
            self._check_time(self.agency, now, None, found)
            self.violations.extend(found.violations)

    # -- the checks, in the order a receiving node makes them ---------------------------------------

    def _take(self, sender: str, message: Any, now: float, found: _Findings, undo: _Undo) -> None:
        given = message if isinstance(message, Message) else None
        pipelined = self._check_speaker(sender, given, None if given is not None else message)
        pipelining = self.table.pipelining
        state = pipelining.return_state if pipelined and pipelining is not None else self._state
        if not self._started:  # the first message starts an on-demand session: no limit before it
            self._started, self._entered = True, now
        if not pipelined:
            self._check_time(sender, now, given, found)
        item: Any = None
        if given is None:
            # bytes the reassembler parsed to find their end carry the item (wire.reassembly.ParsedMessage)
            item = getattr(message, "item", None) if self._decode_items else None
            data = bytes(message)
            size = len(data)
        else:
            self._check_table(state, sender, given, pipelined, None)  # the name alone, before the fields
            raw = given.raw if isinstance(given.raw, (bytes, bytearray)) else None
            if raw is not None:
                data = bytes(raw)
            else:
                data, item = self._encode_given(state, sender, given)
            size = len(data)
        found.add(self._check_bytes(state, sender, size, given))
        decoded = self._decode_in(state, sender, data, item)
        transition = self._check_table(state, sender, decoded, pipelined, decoded.fields)
        move = Move(
            self.name, state, transition.target, self.table.state(state).agency, sender, decoded, size, pipelined
        )
        if pipelined:
            found.add(self.rules.check_sent(move))
            found.add(self._check_depth(move))
            self._pending.append(move)
        else:
            self._apply(move, now, found, undo)
        self.history.append(Observed(now, sender, decoded, pipelined))
        self.accepted += 1
        while self._pending and pipelining is not None and self._state == pipelining.return_state:
            self._apply(self._pending.popleft(), now, found, undo)

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

    def _check_speaker(self, sender: str, message: Message | None, data: Any) -> bool:
        """Whether `sender` may speak now at all; True when its message is a pipelined one. Bytes sent out
        of turn are decoded (in no state) only to name the message, and so the more specific rule."""
        if self.agency == sender:
            return False
        if self._pipelining(sender):
            return True
        if message is None:
            message = self._name_only(data)
        name = message.name if message is not None and isinstance(message.name, str) else None
        requirement = self.table.illegal.get((self._state, name)) if name else None
        requirement = requirement or self.table.requirement("AGENCY")
        detail = (
            f"the protocol has terminated ({self._state}); nobody may send"
            if self.done
            else f"{sender} sent {name or 'a message'} while {self.agency} has agency in {self._state}"
        )
        raise AgencyViolation(requirement, detail, **self._where(self._state, sender, message))

    def _name_only(self, data: Any) -> Message | None:
        from conformance.wire.errors import DecodeError

        try:
            decoded = self._decode(self.name, bytes(data), state=None)
        except DecodeError:
            return None
        return decoded if isinstance(decoded, Message) else None

    def _check_time(self, sender: str, now: float, message: Any, found: _Findings) -> None:
        """A missed deadline is reported once per stay in a state, whatever the observe then does."""
        limit = self.table.state(self._state).time_limit.scaled(self.time_scale)
        elapsed = now - self._entered
        if limit is None or elapsed <= limit or self._late == self._entries:
            return
        self._late = self._entries
        violation = TimeLimitExceeded(
            self.table.requirement("TIME"),
            f"{sender} took {elapsed:g} s in {self._state}; the limit is {limit:g} s",
            limit=limit,
            observed=elapsed,
            **self._where(self._state, sender, message),
        )
        found.add([violation])

    def _check_bytes(self, state: str, sender: str, size: int, message: Any) -> list[Violation]:
        limit = self.table.state(state).byte_limit.value
        if limit is None or size <= limit:
            return []
        return [
            ByteLimitExceeded(
                self.table.requirement("BYTES"),
                f"a {size}-byte message in {state}; the limit is {int(limit)} bytes",
                limit=limit,
                observed=size,
                **self._where(state, sender, message),
            )
        ]

    def _encode_given(self, state: str, sender: str, message: Message) -> tuple[bytes, Any]:
        """The bytes of a message given as a value and the CBOR item they encode (None when a decoder of
        the caller's decodes them), or `IllTypedMessage` when its declaration refuses the value."""
        from conformance import wire
        from conformance.wire.errors import EncodeError

        try:
            if self._decode_items:
                return wire.codec(message.protocol).encode_with_item(message)
            return wire.encode(message), None
        except EncodeError as error:
            match = _PATH.match(str(error))
            raise IllTypedMessage(
                self.table.requirement("CODEC"),
                f"the fields of {message.name} do not fit its declaration: {error}",
                path=match.group(1) if match else "$",
                error=error,
                **self._where(state, sender, message),
            ) from error

    def _decode_in(self, state: str, sender: str, data: bytes, item: Any = None) -> Any:
        """Decode in the state; a message of another state is still decoded, so the table can name the
        broken rule (agency, unexpected message) instead of a bare codec failure. With the `item` of `data`
        (our own encoding, or what the reassembler parsed) the wire decoder reads that item instead of the
        bytes: the same typed decode (tests/test_properties_messages.py), without parsing the CBOR again."""
        from conformance.wire.errors import DecodeError, UnknownMessage

        decode = self._decode if item is None else functools.partial(self._decode, item=item)
        try:
            return decode(self.name, data, state=state)
        except UnknownMessage as error:
            try:
                return decode(self.name, data, state=None)
            except DecodeError:
                raise self._codec_violation(state, sender, data, error) from error
        except DecodeError as error:
            raise self._codec_violation(state, sender, data, error) from error

    def _codec_violation(self, state: str, sender: str, data: bytes, error: Exception) -> DecodeViolation:
        return DecodeViolation(
            self.table.codec_requirement(error, data),
            f"the bytes are not a {self.name} message of {state}: {error}",
            error=error,
            **self._where(state, sender, data),
        )

    def _check_table(self, state: str, sender: str, message: Any, pipelined: bool, fields: Any) -> Transition:
        """The transition `message` takes from `state`; with `fields` None, any transition of its name."""
        name = message.name
        if name not in self.table.messages:
            raise UnexpectedMessage(
                self.table.requirement("MSG"),
                f"{name} is not a {self.name} message",
                **self._where(state, sender, message),
            )
        if pipelined and self.table.sender_of(name) != sender:
            raise AgencyViolation(
                self.table.requirement("AGENCY"),
                f"{sender} sent {name} while {self.agency} has agency in {self._state}",
                **self._where(self._state, sender, message),
            )
        transition = self.table.transition(state, name, fields if isinstance(fields, dict) else None)
        if transition is None or self.table.sender_of(name) != sender:
            requirement = self.table.illegal.get((state, name)) or self.table.requirement("MSG")
            raise UnexpectedMessage(
                requirement, f"{name} is not allowed in {state}", **self._where(state, sender, message)
            )
        pipelining = self.table.pipelining
        if pipelined and pipelining is not None and name not in pipelining.messages:
            raise PipeliningViolation(
                self.table.requirement("PIPE"),
                f"{name} sent while {self.in_flight} request(s) are unanswered; only "
                f"{', '.join(sorted(pipelining.messages))} may be pipelined",
                **self._where(state, sender, message),
            )
        return transition

    def _check_depth(self, move: Move) -> list[Violation]:
        pipelining = self.table.pipelining
        if pipelining is None or pipelining.max_depth is None:
            return []
        depth = self.in_flight + 1
        if depth <= pipelining.max_depth:
            return []
        return [
            move.violation(
                f"{self.table.prefix}-PIPE-02",
                f"{depth} requests in flight; the limit is {pipelining.max_depth}",
                PipeliningDepthExceeded,
                limit=pipelining.max_depth,
                observed=depth,
            )
        ]

    def _apply(self, move: Move, now: float, found: _Findings, undo: _Undo) -> None:
        """Check and take one move. The rules are saved only when a further move of this observe (a
        pipelined request the move uncovers) could still be refused after this commit: a lone commit is
        the observe's last step, so nothing can fail after it."""
        found.add(self.rules.check(move))
        pipelining = self.table.pipelining
        uncovers = pipelining is not None and move.target == pipelining.return_state and bool(self._pending)
        if uncovers and not undo.rules_saved:
            undo.rules, undo.rules_saved = self.rules.snapshot(), True
        self.rules.commit(move)
        self._state = move.target
        self._entered = now
        self._entries += 1

    def _restore(self, undo: _Undo) -> None:
        """Put the session back as it was when the observe began (the reported deadline aside)."""
        self._state, self._entered, self._entries = undo.state, undo.entered, undo.entries
        self._started = undo.started
        del self.history[undo.history :]
        self.accepted = undo.accepted
        self._pending = deque(undo.pending)
        if undo.rules_saved:
            self.rules.restore(undo.rules)
