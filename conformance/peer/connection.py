"""One connection of the reference peer: the socket's two byte streams in, every decision sans-I/O.

Received bytes go through the SDU reader (transcript, `MuxChecker`), then the demultiplexer of the
current phase (`demultiplexer_for`: the handshake alone, then the negotiated bundle), then a `Session`
per mini-protocol instance, then the instance's behaviour or, for a scripted connection, its inbox.
Everything from an SDU to the actions of a behaviour runs synchronously in the read task, so the
handshake switches the demultiplexer exactly at the SDU that ends it. A single write task sends the
handshake SDUs and raw bytes first, then one SDU per mini-protocol instance in turn (fair egress).

A MUST violation by the remote (mux, session, time limit) is recorded in `violations` and closes the
connection, as the node does; handshake refusals are answered with MsgRefuse first (PROTOCOLS.md 4.3).
Time limits count as the node's mux starts its responders: each of our responders' Sessions from its first
inbound SDU (`StartOnDemand`: no limit on the remote's first message), keep-alive's from the first inbound
SDU of any responder (`StartOnDemandAny`). Our initiators' Sessions mirror the remote's responders the same
way, from the SDUs we send: their limits on our own agency are the ones the remote applies to us (the
node's initiator threads start eagerly, but nothing times them before their first message).

With `PeerConfig.handshake` False (a scenario that drives the handshake itself) the connection neither
proposes nor answers: the script's handshake messages go through the handshake Session like any other,
received ones wait in the inbox, and the first MsgAcceptVersion seen in either direction (sent, received,
or inside raw bytes we sent) switches to the negotiated demultiplexer and bundle as the automatic path does.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance import wire
from conformance.protocol import TABLES, Session, Violation
from conformance.protocol.mux import (
    MINI_PROTOCOLS,
    PROTOCOL_IDLE_TIMEOUT,
    MuxChecker,
    bearer_violation,
    demultiplexer_for,
    responders_started_by,
)
from conformance.protocol.mux import running as bundle
from conformance.wire import DecodeError, Message, TruncatedInput
from conformance.wire.mux import NODE_SDU_PAYLOAD, MessageDemultiplexer, MuxMessage

from . import handshake as hs
from .agent import After, Behaviour, Finish, Negotiated, Send
from .mux_io import SDU_HANDSHAKE_TIMEOUT, SDU_TIMEOUT, SduReader, SduTimeout, header
from .transcript import RECEIVED, SENT, TranscriptEntry, TranscriptFiles, message_entry

if TYPE_CHECKING:
    from .node import PeerConfig

READ_SIZE = 1 << 16
INBOX_LIMIT = 10_000
"""Messages a scripted connection keeps per protocol until `receive` takes them."""
FLUSH_TIMEOUT = 5.0
_counter = itertools.count(1)


@dataclass(frozen=True)
class CloseInfo:
    """How a connection ended: `by` "local" or "remote", why, and the error or violation behind it."""

    by: str
    reason: str
    error: BaseException | None = None


class ConnectionClosed(Exception):
    """The connection ended while a message was awaited."""

    def __init__(self, info: CloseInfo) -> None:
        super().__init__(f"connection closed by {info.by}: {info.reason}")
        self.info = info


class OwnViolation(Exception):
    """A message we were about to send breaks a rule that `disabled_rules` does not switch off."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(f"not sent: {violation}")
        self.violation = violation


def _timestamp() -> int:
    return int(time.monotonic() * 1_000_000) & 0xFFFFFFFF


IDLE_AT_LEAST = 2.0
"""Seconds the idle timeout lasts at the least under --time-scale: scaled further down it would close
connections in the ordinary gaps of a loaded machine, which no node's timeout is meant to catch."""


def idle_limit(mode: str, time_scale: float) -> float:
    """The protocol idle timeout a responder applies in `mode` at `time_scale`."""
    return max(PROTOCOL_IDLE_TIMEOUT[mode] * time_scale, min(IDLE_AT_LEAST, PROTOCOL_IDLE_TIMEOUT[mode]))


WARNINGS_KEPT = 1_000
HISTORY_KEPT = 64
"""Messages a Session's `history` keeps here: the connection's transcript is the record, so a long run's
memory stays flat."""


class Connection:
    """See the module docstring; built by `conformance.peer.node.connect`/`serve`, not directly."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        config: PeerConfig,
        role: str,
        *,
        local: tuple[str, int] = ("", 0),
        remote: tuple[str, int] = ("", 0),
    ) -> None:
        self.config = config
        self.role = role  # "initiator" (we connected) or "responder" (we accepted)
        self.remote_role = "responder" if role == "initiator" else "initiator"
        self.mode = config.mode
        self.index = next(_counter)
        self.local, self.remote = local, remote
        self.negotiated: Negotiated | None = None
        self.violations: list[Violation] = []
        self.warnings: list[Violation] = []
        self.warnings_dropped = 0
        self.own_violations: list[Violation] = []
        self.transcript: list[TranscriptEntry] = []
        self.refusal: Message | None = None
        self.query_reply: Message | None = None
        self.behaviours: dict[tuple[str, str], Behaviour] = {}
        self.finished: dict[tuple[str, str], str] = {}
        self.bytes_sent = 0
        self.bytes_received = 0
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[CloseInfo] = loop.create_future()
        self.handshake_done: asyncio.Future[Negotiated | None] = loop.create_future()
        self._reader, self._writer = reader, writer
        self._ours = hs.version_table(
            self.mode,
            config.versions,
            magic=config.magic,
            initiator_only=config.initiator_only,
            peer_sharing=config.peer_sharing,
            query=config.query if role == "initiator" else False,
        )
        self._sessions: dict[tuple[str, str], Session | None] = {}
        self._checker = MuxChecker(self.mode)  # type: ignore[arg-type]
        self._sdus = SduReader()
        self._demux = demultiplexer_for(self.mode, None)  # type: ignore[arg-type]
        self._scripted_handshake = not config.handshake
        # follows raw bytes we send (send_sdu): from the start when the script drives the handshake
        self._outgoing: MessageDemultiplexer | None = (
            demultiplexer_for(self.mode, None) if self._scripted_handshake else None  # type: ignore[arg-type]
        )
        self._raw_sdus = SduReader()  # raw bytes we send, cut into SDUs so the handshake switch is exact
        self._names = {p.number: p.name for p in MINI_PROTOCOLS[self.mode]}
        self._numbers = {name: number for number, name in self._names.items()}
        self._first: deque[bytes] = deque()  # handshake SDUs and raw bytes, in order, before any other
        self._egress: dict[tuple[int, int], bytearray] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._inbox: dict[str, deque[tuple[str, Message]]] = {}
        self._arrived = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closing: CloseInfo | None = None
        self._closer: asyncio.Task[None] | None = None
        self._files: TranscriptFiles | None = None
        self._egress_tamper = config.egress_tamper() if config.egress_tamper is not None else None
        self._deaf = False  # a tolerated violation (fault zoo) stops the reading, not the connection
        if config.transcript_dir is not None:
            self._files = TranscriptFiles(
                config.transcript_dir, f"{role}-{self.index:04d}", role=role, local=local, remote=remote
            )
        self._tasks = [
            loop.create_task(self._read_loop(), name=f"peer-read-{self.index}"),
            loop.create_task(self._write_loop(), name=f"peer-write-{self.index}"),
            loop.create_task(self._watchdog(), name=f"peer-watchdog-{self.index}"),
        ]
        self._event("open", f"{role} {local} <-> {remote}")
        if role == "initiator":
            if not self._scripted_handshake:
                self._send_handshake(hs.proposal(self.mode, self._ours))
        else:
            self._session(hs.protocol_name(self.mode), role)  # its clock runs from the accept

    # -- the scripted surface -----------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._closing is not None

    @property
    def duplex(self) -> bool:
        """Both sides of every mini-protocol run here (N2N, and neither side initiator-only)."""
        data = self.negotiated.version_data if self.negotiated else {}
        return self.mode == hs.N2N and data.get("initiator_only") is False

    async def send(self, protocol: str, message: Message | bytes, *, check: bool = True) -> None:
        """Send one message (docs/peer.md). Raises OwnViolation when our Session refuses it."""
        if self._closing is not None:
            raise ConnectionClosed(self._closing)
        side = self._side_for(protocol, message)
        self._send(protocol, side, message, check=check)
        await self.flush()

    async def send_sdu(self, raw: bytes) -> None:
        """Raw bytes straight to the socket (header included; need not be a whole SDU)."""
        if self._closing is not None:
            raise ConnectionClosed(self._closing)
        self._first.append(bytes(raw))
        self._kick()
        self._track_raw(bytes(raw))
        await self.flush()

    def _track_raw(self, raw: bytes) -> None:
        """Whole messages in raw bytes we sent still move our sessions (unchecked), so the answers they
        draw are judged in the right state; bytes that are no SDU stream stop the tracking. Fed one SDU
        at a time, so that an accept sent in raw bytes switches to the bundle exactly where it ends."""
        if self._outgoing is None:
            return
        try:
            for sdu in self._raw_sdus.feed(raw):
                if self._outgoing is None:
                    return
                if self.negotiated is not None and sdu.mode == 0 and sdu.protocol != 0:
                    self._start_on_demand(sdu.protocol, "initiator")
                self._outgoing.receive_data(header(sdu.timestamp, sdu.protocol, sdu.mode, len(sdu.payload)))
                self._outgoing.receive_data(sdu.payload)
                while True:
                    item = self._outgoing.next_message()
                    if not isinstance(item, MuxMessage):
                        break
                    side = "initiator" if item.mode == 0 else "responder"
                    if item.protocol == 0:
                        name = hs.protocol_name(self.mode)
                    else:
                        name = self._names.get(item.protocol, str(item.protocol))
                    session = self._session(name, side)
                    if session is not None:
                        before, taken = len(session.violations), session.accepted
                        session.observe(side, item.data)
                        self.own_violations.extend(session.violations[before:])
                        moved = session.history[-1].message if session.accepted > taken else None
                        if item.protocol == 0:
                            self._scripted_accept(moved)
        except DecodeError as error:
            self._outgoing = None
            self._event("untracked", f"raw bytes we sent are no longer followed: {error}")

    async def flush(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Wait until everything queued has been written (or the connection ends)."""
        waiter: asyncio.Future[Any] = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({waiter, self.closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def receive(self, protocol: str, timeout: float, *, side: str | None = None) -> Message:
        """The next message the remote sent on `protocol` that no behaviour took. On a duplex connection
        both instances of a protocol deliver here; `side` ("initiator"/"responder": the side WE play in
        the instance) picks one. Raises ConnectionClosed, or TimeoutError after `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            box = self._inbox.get(protocol)
            if box:
                for index, (ours, message) in enumerate(box):
                    if side is None or ours == side:
                        del box[index]
                        return message
            if self.closed.done():
                raise ConnectionClosed(self.closed.result())
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no {protocol} message within {timeout} s")
            self._arrived.clear()
            waiter: asyncio.Future[Any] = asyncio.ensure_future(self._arrived.wait())
            try:
                await asyncio.wait({waiter, self.closed}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    async def wait_closed(self, timeout: float) -> CloseInfo | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Close from our side after writing what is queued."""
        self._close("local", "closed", None, flush=True)
        await asyncio.shield(self.closed)

    async def run_behaviours(self) -> None:
        """Start the behaviour of every negotiated mini-protocol instance we run (idempotent)."""
        self._start_behaviours()

    # -- receiving ---------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    self._end_of_stream()
                    return
                self.bytes_received += len(data)
                if self._files is not None:
                    self._files.wire(RECEIVED, data)
                self._received(data)
                if self._closing is not None:
                    return
        except (ConnectionError, OSError) as error:
            self._close("remote", f"socket error: {error}", error, flush=False)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug of ours: end this connection with the error, never hang
            self._close("local", f"internal error: {error!r}", error, flush=False)

    def _end_of_stream(self) -> None:
        """The remote closed; bytes of an unfinished SDU or message make it a truncation (a typed error)."""
        if self._sdus.pending:
            error: DecodeError | None = TruncatedInput(
                f"the rest of an SDU ({self._sdus.pending} bytes of it received)", protocol="mux"
            )
        elif self._demux.pending:
            error = TruncatedInput(f"the rest of a message ({self._demux.pending} bytes of it received)")
        else:
            error = None
        reason = "end of stream" if error is None else f"end of stream: {error}"
        self._close("remote", reason, error, flush=False)

    def _received(self, data: bytes) -> None:
        if self._deaf:
            return
        try:
            sdus = self._sdus.feed(data)
        except DecodeError as error:
            self._remote_broke(bearer_violation(error, self.remote_role))
            return
        recording = self._recording()
        for sdu in sdus:
            if recording:
                self._remember(
                    TranscriptEntry(
                        time.time(),
                        RECEIVED,
                        "sdu",
                        self._names.get(sdu.protocol, str(sdu.protocol)),
                        sdu.payload,
                        sdu.mode,
                        extra={"timestamp": sdu.timestamp},
                    )
                )
            try:
                warned = len(self._checker.warnings)
                self._checker.observe(sdu, self.remote_role)
                if len(self._checker.warnings) > warned:  # SHOULD rules: kept, the connection goes on
                    self._warn(self._checker.warnings[warned:])
                    del self._checker.warnings[:]
            except Violation as violation:
                self._remote_broke(violation)
                return
            if self.negotiated is not None and sdu.mode == 0:  # data for one of our responders
                self._start_on_demand(sdu.protocol, "responder")
            try:
                self._demux.receive_data(header(sdu.timestamp, sdu.protocol, sdu.mode, len(sdu.payload)))
                self._demux.receive_data(sdu.payload)
                while self._closing is None:
                    item = self._demux.next_message()
                    if not isinstance(item, MuxMessage):
                        break
                    self._checker.consume(item.protocol, item.mode, len(item.data))
                    self._message(item.protocol, item.mode, item.data)
                if self._closing is None and not self._deaf:
                    self._check_unfinished(sdu.protocol, sdu.mode)
            except DecodeError as error:
                self._remote_broke(bearer_violation(error, self.remote_role))
                return
            if self._closing is not None:
                return

    def _start_on_demand(self, number: int, side: str) -> None:
        """Data from an initiator for mini-protocol `number` starts the responder's clock and keep-alive's,
        as `Network.Mux.monitor` starts the node's `StartOnDemand` and `StartOnDemandAny` responders.
        Inbound data starts our responder sessions (`side` "responder"); the data we send as initiator
        starts the remote's, which our initiator sessions mirror (`side` "initiator"): their limits on our
        own agency are the ones the remote applies to us."""
        for name in responders_started_by(self.mode, number):  # type: ignore[arg-type]
            session = self._sessions.get((name, side))
            if session is not None:
                session.start()

    def started(self, protocol: str, side: str | None = None) -> bool:
        """Whether the clock of the instance of `protocol` where we play `side` (default: our role) runs:
        from the data, inbound for a responder and outbound for an initiator, that starts the responder
        (module docstring). False before the handshake and for an instance that does not run."""
        session = self._sessions.get((protocol, side or self.role))
        return session is not None and session.started

    def _check_unfinished(self, number: int, mode: int) -> None:
        """An unfinished message longer than its state's byte limit breaks the limit before it ends."""
        pending = self._demux.pending_of(number, mode)
        if not pending:
            return
        name = hs.protocol_name(self.mode) if number == 0 else self._names.get(number, str(number))
        session = self._sessions.get((name, "responder" if mode == 0 else "initiator"))
        if session is None:
            return
        before = len(session.violations)
        session.check_pending("initiator" if mode == 0 else "responder", pending)
        if len(session.violations) > before:
            self._remote_broke(*session.violations[before:])

    def _message(self, number: int, mode: int, data: bytes) -> None:
        sender = "initiator" if mode == 0 else "responder"
        ours = "responder" if mode == 0 else "initiator"
        name = hs.protocol_name(self.mode) if number == 0 else self._names.get(number, str(number))
        session = self._session(name, ours)
        if session is None:
            self._remember(message_entry(RECEIVED, name, data, mode=mode, state=None))
            self._event("unhandled", f"{name}: no state machine; message ignored")
            return
        state, before, warned = session.state, len(session.violations), len(session.warnings)
        taken = session.accepted
        session.observe(sender, data)
        decoded = session.history[-1].message if session.accepted > taken else None
        if self._recording():
            shown = decoded if decoded is not None else data
            self._remember(message_entry(RECEIVED, name, shown, mode=mode, state=state))
        if len(session.warnings) > warned:
            self._warn(session.warnings[warned:])
            del session.warnings[:]
        found = session.violations[before:]
        if number == 0 and not self._scripted_handshake:
            self._handshake_message(decoded, found)
            return
        if number == 0 and self.role == "responder" and decoded is not None:
            self.violations.extend(found)  # a faulty proposal is the script's to answer, as a node answers it
        elif found:
            self._remote_broke(*found)
            return
        assert decoded is not None  # a message the session skipped always comes with a violation
        if number == 0:
            self._deliver(name, ours, decoded)
            self._scripted_accept(decoded)
            return
        behaviour = self.behaviours.get((name, ours))
        if behaviour is not None and (name, ours) not in self.finished:
            self._call((name, ours), behaviour.on_message, decoded)
        elif (name, ours) in self.behaviours:
            self._event("unhandled", f"{name} {ours}: {decoded.name} after the behaviour finished")
        else:
            self._deliver(name, ours, decoded)

    def _deliver(self, name: str, ours: str, decoded: Message) -> None:
        """Into the inbox a script reads with `receive`."""
        box = self._inbox.setdefault(name, deque())
        if len(box) >= INBOX_LIMIT:
            box.popleft()
        box.append((ours, decoded))
        self._arrived.set()

    def _warn(self, found: list[Violation]) -> None:
        """Keep SHOULD findings up to WARNINGS_KEPT (a remote can repeat one forever); count the rest."""
        room = max(0, WARNINGS_KEPT - len(self.warnings))
        self.warnings.extend(found[:room])
        self.warnings_dropped += len(found) - len(found[:room])

    def _remote_broke(self, *found: Violation) -> None:
        self.violations.extend(found)
        for violation in found:
            self._event("violation", str(violation), requirement=violation.requirement)
        if all(v.requirement in self.config.tolerated for v in found):  # a faulty peer of the fault zoo
            self._deaf = True  # it does not enforce the rule: no close, and it reads nothing more
            self._event("tolerated", f"the rule is not enforced: {found[0].requirement}")
            return
        self._close("local", f"the remote broke {found[0].requirement}", found[0], flush=False)

    # -- the handshake -------------------------------------------------------------------------------

    def _handshake_message(self, decoded: Message | None, found: list[Violation]) -> None:
        if decoded is None:
            self._remote_broke(*found)
            return
        if self.role == "responder":
            self.violations.extend(found)
            for violation in found:  # recorded, not closed on: the refusal below is the node's answer
                self._event("violation", str(violation), requirement=violation.requirement)
            answer = hs.respond(self.mode, self._ours, decoded.fields.get("versions") or {})
            self._send_handshake(answer.reply)
            if answer.version is None or answer.data is None:
                if answer.reply.name == "MsgRefuse":
                    self.refusal = answer.reply
                else:
                    self.query_reply = answer.reply
                self._set_handshake(None)
                self._close("local", f"handshake: {answer.reply.name}", None, flush=True)
                return
            self._negotiated(answer.version, answer.data)
            return
        if found:
            self._remote_broke(*found)
            return
        if decoded.name == "MsgAcceptVersion":
            result = hs.accepted(self.mode, self._ours, decoded)
            if isinstance(result, str):
                self._event("handshake", result)
                self._set_handshake(None)
                self._close("local", f"handshake: {result}", None, flush=False)
                return
            self._negotiated(decoded.fields["version"], result)
            return
        if decoded.name == "MsgRefuse":
            self.refusal = decoded
        else:  # MsgQueryReply, or MsgReplyVersions of a simultaneous open (we do not play it)
            self.query_reply = decoded
        self._set_handshake(None)
        self._close("local", f"handshake: {decoded.name}", None, flush=False)

    def _scripted_accept(self, message: Message | None) -> None:
        """A scripted handshake: the first MsgAcceptVersion either side sends starts the negotiated phase
        with its version and data (what the Session already judged); a refusal or query is kept."""
        if not self._scripted_handshake or self.negotiated is not None or message is None:
            return
        if message.name == "MsgAcceptVersion":
            version, data = message.fields.get("version"), message.fields.get("version_data")
            if isinstance(version, int) and isinstance(data, Mapping):
                self._negotiated(version, data)
            else:
                self._event("handshake", f"an accept without usable version data: {message.fields!r}")
        elif message.name == "MsgRefuse":
            self.refusal = message
        elif message.name == "MsgQueryReply":
            self.query_reply = message

    def _send_handshake(self, message: Message) -> None:
        if self.config.handshake_tamper is not None:  # a faulty peer of the fault zoo only
            message = self.config.handshake_tamper(message)
        side = self.role
        session = self._session(hs.protocol_name(self.mode), side)
        assert session is not None
        before = len(session.violations)
        session.observe(side, message)
        self.own_violations.extend(session.violations[before:])
        data = wire.encode(message)
        mode = 0 if side == "initiator" else 1
        self._remember(
            message_entry(
                SENT,
                message.protocol,
                Message(message.protocol, message.name, message.fields, data),
                mode=mode,
                state=None,
            )
        )
        self._first.append(self._sdu(0, mode, data))
        self._kick()

    def _negotiated(self, version: int, data: Mapping[str, Any]) -> None:
        self.negotiated = Negotiated(self.mode, version, dict(data), self.config.time_scale)
        self._checker.negotiated(data)
        self._demux = demultiplexer_for(self.mode, data)  # type: ignore[arg-type]
        self._outgoing = demultiplexer_for(self.mode, data)  # type: ignore[arg-type]
        self._event("negotiated", f"version {version}", version=version, version_data=dict(data))
        for protocol in bundle(self.mode, data).values():  # type: ignore[arg-type]
            for side in self._sides():  # created now; their clocks wait for the data that starts them
                self._session(protocol.name, side)
        self._set_handshake(self.negotiated)
        if self.config.behaviours:
            self._start_behaviours()

    def _set_handshake(self, value: Negotiated | None) -> None:
        if not self.handshake_done.done():
            self.handshake_done.set_result(value)

    # -- sessions and behaviours -------------------------------------------------------------------

    def _session(self, name: str, ours: str) -> Session | None:
        """The Session of the instance of `name` where we play `ours`; None for protocols without a table."""
        key = (name, ours)
        if key not in self._sessions:
            if name not in TABLES:
                self._sessions[key] = None
            else:
                options: dict[str, Any] = {}
                version = None
                if name in hs.HANDSHAKES:
                    if ours == "responder":
                        options["responder_versions"] = self._ours
                else:
                    assert self.negotiated is not None
                    version = self.negotiated.version
                    if name == "peer-sharing":
                        options["version_data"] = self.negotiated.version_data
                self._sessions[key] = Session(
                    name,
                    version,
                    time_scale=self.config.time_scale,
                    on_violation="record",
                    history_limit=HISTORY_KEPT,
                    started=name in hs.HANDSHAKES,  # the others on demand (`_start_on_demand`)
                    **options,
                )
        return self._sessions[key]

    def _sides(self) -> tuple[str, ...]:
        return ("initiator", "responder") if self.duplex else (self.role,)

    def _start_behaviours(self) -> None:
        if self.negotiated is None or self._closing is not None:
            return
        running = {p.name for p in bundle(self.mode, self.negotiated.version_data).values()}  # type: ignore[arg-type]
        for (name, side), factory in self.config.behaviours.items():
            key = (name, side)
            if name not in running or side not in self._sides() or key in self.behaviours:
                continue
            behaviour = factory(self.negotiated)
            self.behaviours[key] = behaviour
            self._call(key, behaviour.start)

    def _call(self, key: tuple[str, str], method: Any, *args: Any) -> None:
        """Run one behaviour callback and its actions; a behaviour that raises closes the connection
        (from our side, with the exception as the close error) instead of killing the read task."""
        try:
            actions = list(method(*args))
        except Exception as error:  # a faulty behaviour must not leave the connection hanging
            self._event("behaviour-error", f"{key[0]} {key[1]}: {error!r}")
            self._close("local", f"our {key[0]} {key[1]} behaviour raised {error!r}", error, flush=True)
            return
        self._run(key, actions)

    def _run(self, key: tuple[str, str], actions: Any) -> None:
        for action in actions:
            if self._closing is not None:
                return
            if isinstance(action, Send):
                try:
                    self._send(key[0], key[1], action.message, check=True)
                except OwnViolation as refused:
                    self._close("local", f"our {key[0]} {key[1]} behaviour broke a rule", refused, flush=True)
                    return
            elif isinstance(action, After):
                handle = asyncio.get_running_loop().call_later(action.seconds, self._timer, key, action.token)
                self._timers.add(handle)
            elif isinstance(action, Finish):
                self.finished[key] = action.reason
                self._event("finished", f"{key[0]} {key[1]}: {action.reason}")
                if action.close:
                    self._close("local", f"our {key[0]} {key[1]} cannot go on: {action.reason}", None, flush=True)
                    return

    def _timer(self, key: tuple[str, str], token: str) -> None:
        self._timers = {t for t in self._timers if not t.cancelled() and t.when() > asyncio.get_running_loop().time()}
        behaviour = self.behaviours.get(key)
        if behaviour is None or key in self.finished or self._closing is not None:
            return
        self._call(key, behaviour.on_timer, token)

    # -- sending -------------------------------------------------------------------------------------

    def _side_for(self, protocol: str, message: Message | bytes) -> str:
        """The side we play when sending `message`: the one the table says sends it, else our role."""
        table = TABLES.get(protocol)
        if isinstance(message, Message) and table is not None and message.name in table.messages:
            sender = table.sender_of(message.name)
            if sender in ("initiator", "responder") and (sender == self.role or self.duplex):
                return str(sender)
        return self.role

    def _send(self, protocol: str, side: str, message: Message | bytes, *, check: bool) -> None:
        number = self._numbers.get(protocol, 0 if protocol in hs.HANDSHAKES else None)
        if number is None:
            raise ValueError(f"{protocol} is not a {self.mode} mini-protocol")
        data = bytes(message) if isinstance(message, (bytes, bytearray)) else None
        session = self._session(protocol, side) if (number == 0 or self.negotiated is not None) else None
        state = session.state if session is not None else None
        sent: Message | None = None
        checked: Message | None = None
        if session is not None:
            if number != 0 and side == "initiator":
                self._start_on_demand(number, "initiator")
            before, taken = len(session.violations), session.accepted
            session.observe(side, message)
            if session.accepted > taken:
                checked = session.history[-1].message
            if number == 0:
                sent = checked
            new = session.violations[before:]
            if check:
                for violation in new:
                    if violation.requirement not in self.config.disabled_rules:
                        raise OwnViolation(violation)
        if data is None:
            assert isinstance(message, Message)
            if message.raw is not None:
                data = bytes(message.raw)
            elif checked is not None and isinstance(checked.raw, bytes) and checked.name == message.name:
                data = checked.raw  # the bytes our own Session encoded (and decoded back): encode once
            else:
                data = wire.encode(message)
            shown: Message | bytes = Message(message.protocol, message.name, message.fields, data)
        else:
            shown = data
        mode = 0 if side == "initiator" else 1
        if self._recording():
            self._remember(message_entry(SENT, protocol, shown, mode=mode, state=state))
        self._egress.setdefault((number, mode), bytearray()).extend(data)
        self._kick()
        if sent is not None:
            self._scripted_accept(sent)

    def _sdu(self, number: int, mode: int, payload: bytes) -> bytes:
        stamp = _timestamp()
        if self._recording():
            self._remember(
                TranscriptEntry(
                    time.time(),
                    SENT,
                    "sdu",
                    self._names.get(number, str(number)),
                    payload,
                    mode,
                    extra={"timestamp": stamp},
                )
            )
        return header(stamp, number, mode, len(payload)) + payload

    def _kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._first or self._egress:
                    out: list[bytes] = []
                    first = bool(self._first)
                    if first:
                        out.append(self._first.popleft())  # raw writes stay separate writes
                    else:
                        for key in list(self._egress):  # one SDU per mini-protocol instance per turn
                            queue = self._egress[key]
                            payload = bytes(queue[:NODE_SDU_PAYLOAD])
                            del queue[:NODE_SDU_PAYLOAD]
                            if not queue:
                                del self._egress[key]
                            out.append(self._sdu(key[0], key[1], payload))
                    data = b"".join(out)
                    cut_off = False
                    if self._egress_tamper is not None and not first:  # a faulty peer of the fault zoo
                        data, cut_off = self._egress_tamper(data)
                    self._writer.write(data)
                    self.bytes_sent += len(data)
                    if self._files is not None:
                        self._files.wire(SENT, data)
                    await self._writer.drain()
                    if cut_off:
                        self._close("local", "the fault closed the connection mid-message", None, flush=False)
                        return
                self._idle.set()
        except (ConnectionError, OSError) as error:
            self._idle.set()
            self._close("remote", f"socket error: {error}", error, flush=False)

    # -- time ------------------------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        """Calls `check_time` on every session where the remote holds agency: a silent remote is caught."""
        tick = max(0.002, min(0.5, self.config.time_scale * 0.5))
        partial_since: float | None = None
        loop = asyncio.get_running_loop()
        idle_since: float | None = None  # the clock starts when the handshake is done (the mux runs)
        while self._closing is None:
            await asyncio.sleep(tick)
            if self._deaf:
                return  # a tolerated violation (fault zoo): no timeout closes this connection either
            if self.role == "responder" and self.config.idle_timeout and self.negotiated is not None:
                if self._running():
                    idle_since = None
                elif idle_since is None:
                    idle_since = loop.time()
                elif self._idle_too_long(loop.time() - idle_since):
                    return
            if not self._sdus.pending:
                partial_since = None
            elif partial_since is None:
                partial_since = loop.time()
            else:
                limit = (SDU_TIMEOUT if self.negotiated else SDU_HANDSHAKE_TIMEOUT) * self.config.time_scale
                if loop.time() - partial_since > limit:
                    error = SduTimeout(limit, self._sdus.pending)
                    self._event("sdu-timeout", str(error))
                    self._close("local", str(error), error, flush=False)
                    return
            for (_name, ours), session in list(self._sessions.items()):
                if session is None or session.agency in (ours, "nobody"):
                    continue
                before = len(session.violations)
                session.check_time()
                if len(session.violations) > before:
                    self._remote_broke(*session.violations[before:])
                    return

    def _running(self) -> bool:
        """Whether any mini-protocol runs: started (a message seen) and not finished. Ours as initiator
        count too: the node keeps a connection it also uses for its own outbound side."""
        return any(
            session is not None and session.accepted > 0 and not session.done
            for (name, _), session in self._sessions.items()
            if name not in hs.HANDSHAKES
        )

    def _idle_too_long(self, idle: float) -> bool:
        """Past the protocol idle timeout (the mux checker's rule): its finding, and the close."""
        limit = idle_limit(self.mode, self.config.time_scale)
        if idle <= limit:
            return False
        sessions = [s for (n, _), s in self._sessions.items() if n not in hs.HANDSHAKES and s is not None]
        started = any(s.accepted > 0 for s in sessions)
        warned = len(self._checker.warnings)
        try:
            self._checker.idle(idle, limit, since="every mini-protocol finished" if started else "the handshake")
        except Violation as violation:  # a strict checker: the finding fails like any other
            self._remote_broke(violation)
            return True
        self._warn(self._checker.warnings[warned:])
        for finding in self._checker.warnings[warned:]:
            self._event("violation", str(finding), requirement=finding.requirement)
        self._close("local", f"protocol idle timeout: no mini-protocol ran for {limit:g} s", None, flush=False)
        return True

    # -- the end ---------------------------------------------------------------------------------------

    def _close(self, by: str, reason: str, error: BaseException | None, *, flush: bool) -> None:
        if self._closing is not None:
            return
        self._closing = CloseInfo(by, reason, error)
        self._event("close", f"by {by}: {reason}")
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._set_handshake(None)
        self._arrived.set()
        # a strong reference: the event loop keeps only weak ones to its tasks
        self._closer = asyncio.get_running_loop().create_task(self._shutdown(flush), name=f"peer-close-{self.index}")

    async def _shutdown(self, flush: bool) -> None:
        assert self._closing is not None
        if flush:
            waiter = asyncio.ensure_future(self._idle.wait())
            await asyncio.wait({waiter}, timeout=FLUSH_TIMEOUT)
            waiter.cancel()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        try:
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), FLUSH_TIMEOUT)
        except (TimeoutError, ConnectionError, OSError):
            pass
        if self._files is not None:
            self._files.close(closed_by_us=self._closing.by == "local")
        if not self.closed.done():
            self.closed.set_result(self._closing)

    # -- the transcript ------------------------------------------------------------------------------

    def _recording(self) -> bool:
        """Whether a transcript entry would be kept (in memory or in files): else it is not even built,
        which long runs (transcript_memory=0, no --transcript) would pay on every SDU and message."""
        return self._files is not None or len(self.transcript) < self.config.transcript_memory

    def _remember(self, entry: TranscriptEntry) -> None:
        if len(self.transcript) < self.config.transcript_memory:
            self.transcript.append(entry)
        if self._files is not None:
            self._files.entry(entry)

    def _event(self, what: str, detail: str, **extra: Any) -> None:
        self._remember(TranscriptEntry(time.time(), "local", "event", what, detail=detail, extra=extra))
