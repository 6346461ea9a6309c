"""One TCP connection judged: both byte streams through the project's own mux, handshake and sessions.

Each direction's bytes are cut into SDUs (`sdus.SduCutter`), checked by a `MuxChecker` (the receiver's
ingress queue) and fed to a `MessageDemultiplexer` (`demultiplexer_for`: the handshake alone, then the
negotiated bundle, switched at the SDU that ends the handshake, as the reference peer's connection does).
Every whole message goes to the `Session` of its mini-protocol instance, in record-and-continue mode,
with the negotiated version and the capture's timestamps as the clock. An instance's first state (its
initiator's agency) is timed by its responder, which the node starts on demand: from the first SDU of that
mini-protocol from the initiator's side, keep-alive's from the first such SDU of any (`StartOnDemandAny`;
`responders_started_by`), never from the handshake. A mini-protocol instance is named
by the connection side that runs its initiator: an SDU with mode bit 0 comes from that side, mode bit 1
from the other, so on a duplex connection the two instances of one protocol never mix.

Who is the initiator: the side that sent the SYN; without one, the side that sent MsgProposeVersions;
else the side whose port is not `--port` (the node's: the user knows, a heuristic guesses); else, when
one side sent only mode bit 0 and the other only mode bit 1 in the first SDUs, the mode-0 side (true of
an initiator-only connection; a duplex one sends both, so it falls through); else the higher port.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.peer.mux_io import header
from conformance.protocol import TABLES, Session, Violation, catalogue
from conformance.protocol.mux import (
    MINI_PROTOCOLS,
    MuxChecker,
    bearer_violation,
    demultiplexer_for,
    responders_started_by,
)
from conformance.protocol.mux import running as bundle
from conformance.wire.cbor import decode_item
from conformance.wire.cbor.values import Map
from conformance.wire.errors import DecodeError, TruncatedInput
from conformance.wire.mux import SDU, MessageDemultiplexer, MuxMessage

from . import joining
from .capture import ACK, FIN, RST, SYN, Segment
from .findings import INITIATOR, RESPONDER, ConnectionReport, Ending, Finding, other
from .sdus import SduCutter
from .tcp import Chunk, TcpDirection

N2N, N2C = "node-to-node", "node-to-client"
N2C_ONLY = frozenset(p.number for p in MINI_PROTOCOLS[N2C]) - frozenset(p.number for p in MINI_PROTOCOLS[N2N])
ROLE_WAIT_SDUS = 16
"""SDUs held, without a SYN or a handshake, before the roles are decided from mode bits or ports."""
NOTED_GAPS = 20
"""Holes in the capture noted one by one per connection (the byte counts say the rest)."""
HOLD_LIMIT = 4096
HOLD_BYTES = 8 * 1024 * 1024
"""SDUs (and their bytes) held at most while a direction still searches for its first SDU boundary."""
FINDINGS_KEPT = 10_000
"""Findings kept per connection (a broken peer can repeat one forever); the rest are counted."""


class CaptureClock:
    """The capture's time as the sessions' clock: the newest timestamp seen (captures can step back)."""

    def __init__(self, start: float) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    def at(self, time: float) -> None:
        if time > self.time:
            self.time = time


@dataclass
class Options:
    """`magic`: the network magic the node runs (checked against the negotiated one); `port`: the node's
    port (names the responder when the capture shows no SYN and no handshake); `time_scale` multiplies
    every time limit (1: the node's own)."""

    magic: int | None = None
    port: int | None = None
    time_scale: float = 1.0


@dataclass
class _Direction:
    """What one endpoint sent: its TCP stream, SDUs, ingress check and demultiplexer."""

    address: tuple[str, int]
    tcp: TcpDirection = field(default_factory=TcpDirection)
    cutter: SduCutter | None = None
    checker: MuxChecker | None = None
    demux: MessageDemultiplexer | None = None
    side: str | None = None
    failed: bool = False
    aligned: set[tuple[int, int]] = field(default_factory=set)
    all_aligned: bool = True
    modes: set[int] = field(default_factory=set)


@dataclass
class _Instance:
    """The Session of one mini-protocol instance; `owner` is the connection side running its initiator."""

    session: Session
    owner: str
    synced: bool = True
    run: int = 0
    joined: bool = False


class BearerJudge:
    """Feed it every segment of one connection in capture order (`segment`), then `finish`."""

    def __init__(self, first: Segment, origin: float, options: Options) -> None:
        self.options = options
        self.origin = origin
        self.clock = CaptureClock(first.time)
        self.start = first.time
        self._dirs = {first.source: _Direction(first.source), first.destination: _Direction(first.destination)}
        self._sides: dict[str, _Direction] = {}
        self._held: list[tuple[float, tuple[str, int], SDU]] = []
        self._held_bytes = 0
        self._mode: str | None = None
        self._version: int | None = None
        self._version_data: dict[str, Any] | None = None
        self._handshake_open = True
        self._instances: dict[tuple[str, str], _Instance] = {}
        self._names: dict[int, str] = {}
        self._last_message: float | None = None
        self._stopped = False
        self._lossy = False
        self._gaps = 0
        self.closed_at: float | None = None
        self.report: ConnectionReport | None = None
        self._pending_notes: list[str] = []
        self._messages: Counter[str] = Counter()
        self._findings: list[Finding] = []
        self._dropped = 0
        self._roles_from = ""
        self._ending: Ending | None = None
        if first.flags & SYN and not first.flags & ACK:
            self._decide(first.source, "SYN")
        elif first.flags & SYN:
            self._decide(first.destination, "SYN-ACK")

    # -- input ---------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """FIN from both sides, or a RST: nothing more belongs to this connection."""
        a, b = self._dirs.values()
        return (a.tcp.rst_time is not None or b.tcp.rst_time is not None) or (
            a.tcp.fin_time is not None and b.tcp.fin_time is not None
        )

    def segment(self, seg: Segment) -> None:
        direction = self._dirs[seg.source]
        self.clock.at(seg.time)
        if seg.flags & ACK:  # first: the sender had received what it acknowledges before it sent this
            reverse = self._dirs[seg.destination]
            for chunk in reverse.tcp.acknowledged(seg.ack, seg.time):
                self._chunk(reverse, chunk)
        for chunk in direction.tcp.segment(seg):
            self._chunk(direction, chunk)
        if seg.flags & (FIN | RST) and self._ending is None:
            for each in self._dirs.values():  # the connection ends: no hole will be filled any more
                for chunk in each.tcp.flush(seg.time):
                    self._chunk(each, chunk)
            self._closing(direction, "RST" if seg.flags & RST else "FIN", seg.time)

    def finish(self, end: float) -> ConnectionReport:
        """The capture ended or the connection closed: flush, judge what is left, return the report."""
        for direction in self._dirs.values():
            for chunk in direction.tcp.flush(end):
                self._chunk(direction, chunk)
        for direction in self._dirs.values():
            if direction.cutter is not None and not direction.cutter.aligned and direction.tcp.delivered:
                self._sdus(direction, direction.cutter.feed(direction.tcp.offset, b"", end, final=True))
        self._release(final=True)
        if self._ending is None:
            self.clock.at(end)
            self._time_check()
            self._ending = Ending("open", None, end - self.origin, None, "")
        report = self._report()
        self.report = report
        return report

    # -- bytes to SDUs ----------------------------------------------------------------------------------

    def _chunk(self, direction: _Direction, chunk: Chunk) -> None:
        if direction.cutter is None:
            direction.cutter = SduCutter(aligned=direction.tcp.syn)
            if not direction.tcp.syn:
                self._note_start_missed(direction)
                direction.all_aligned = False
        cutter = direction.cutter
        if chunk.gap:
            self._gaps += 1
            if self._gaps <= NOTED_GAPS:
                self._pending_notes.append(
                    f"bytes from {direction.address[0]}:{direction.address[1]} were not captured before"
                    f" {chunk.time - self.origin:.3f} s; judging resumed at the next SDU boundary"
                )
            cutter.lose_sync()
            direction.all_aligned = False
            direction.aligned.clear()
            if direction.demux is not None:
                direction.demux = self._demux()
                direction.checker = MuxChecker(self._mode, self._version_data)  # type: ignore[arg-type]
            self._lossy = True
            for instance in self._instances.values():  # they lost messages: judged as if joined mid-way
                instance.synced, instance.run, instance.joined = False, 0, True
            if self._handshake_open and self._mode is not None and direction.side == RESPONDER:
                self._assume_bundle("the handshake's reply was not captured")
        try:
            sdus = cutter.feed(chunk.offset, chunk.data, chunk.time)
        except DecodeError as error:  # a zero-length SDU: the node closes; nothing after it is judged
            side = direction.side or "?"
            fault = bearer_violation(error, side)
            if direction.side is not None:
                self._violation(fault, direction.side, chunk.time, b"")
            self._fail(direction, fault.requirement, chunk.time)
            return
        self._sdus(direction, sdus)

    def _fail(self, direction: _Direction, requirement: str, time: float) -> None:
        """A mux fault: the node tears the connection down, so this stream is not judged further."""
        direction.failed = True
        self._pending_notes.append(
            f"after {requirement} at {time - self.origin:.3f} s the {direction.side or 'sender'}'s stream is not"
            " judged further (a node closes the connection on a mux error)"
        )

    def _note_start_missed(self, direction: _Direction) -> None:
        self._lossy = True  # what came before the capture began is missing, like a hole
        if not any("start missed" in note for note in self._pending_notes):
            self._pending_notes.append("start missed: the capture began after the connection opened")

    def _sdus(self, direction: _Direction, sdus: list[tuple[float, SDU]]) -> None:
        """Judge SDUs in capture order. Until both roles are known and every direction found its SDU
        boundaries, they are held (a direction still searching would deliver its SDUs late, out of
        order with the other direction's), then released sorted by capture time."""
        if self._sides and not self._held and not self._searching():
            for time, sdu in sdus:
                self._sdu(direction, sdu, time)
            return
        self._held.extend((time, direction.address, sdu) for time, sdu in sdus)
        self._held_bytes += sum(len(sdu.payload) for _, sdu in sdus)
        self._release(final=False)

    def _searching(self) -> bool:
        return any(d.cutter is not None and not d.cutter.aligned and not d.failed for d in self._dirs.values())

    def _release(self, *, final: bool) -> None:
        full = len(self._held) >= HOLD_LIMIT or self._held_bytes >= HOLD_BYTES
        if not final and not full and self._searching():
            return
        if not self._sides:
            self._decide_roles(final=final or full)
            if not self._sides:
                return
        held = sorted(self._held, key=lambda h: h[0])
        self._held, self._held_bytes = [], 0
        for time, address, sdu in held:
            self._sdu(self._dirs[address], sdu, time)

    # -- roles -----------------------------------------------------------------------------------------

    def _decide_roles(self, *, final: bool) -> None:
        held = self._held
        proposer = next((a for _, a, s in held if s.protocol == 0 and s.mode == 0), None)
        if proposer is not None:
            self._decide(proposer, "MsgProposeVersions")
        elif self.options.port is not None and self.options.port in {a[1] for a in self._dirs}:
            a, b = self._dirs
            if a[1] == b[1]:
                self._decide(a if a[0] > b[0] else b, "the lower address is the server's (both use --port)")
            else:
                self._decide(b if a[1] == self.options.port else a, f"--port {self.options.port}")
        elif len(held) >= ROLE_WAIT_SDUS or final:
            modes: dict[tuple[str, int], set[int]] = {a: set() for a in self._dirs}
            for _, address, sdu in held:
                modes[address].add(sdu.mode)
            a, b = self._dirs
            if modes[a] == {0} and modes[b] == {1}:
                self._decide(a, "mode bits")
            elif modes[b] == {0} and modes[a] == {1}:
                self._decide(b, "mode bits")
            else:
                self._decide(a if a[1] > b[1] else b, "the lower port is the server's")

    def _decide(self, initiator: tuple[str, int], why: str) -> None:
        responder = next(a for a in self._dirs if a != initiator)
        self._sides = {INITIATOR: self._dirs[initiator], RESPONDER: self._dirs[responder]}
        self._dirs[initiator].side, self._dirs[responder].side = INITIATOR, RESPONDER
        self._roles_from = why

    # -- SDUs to messages ------------------------------------------------------------------------------

    def _demux(self) -> MessageDemultiplexer:
        assert self._mode is not None
        return demultiplexer_for(self._mode, self._version_data)  # type: ignore[arg-type]

    def _set_mode(self, first: SDU) -> None:
        """Node-to-node or node-to-client: from the handshake's version numbers (N2C ones carry bit 15),
        or, when the handshake was missed, from the mini-protocol numbers in use."""
        if first.protocol == 0:
            self._mode = N2C if _n2c_keys(first.payload) else N2N
        else:
            self._mode = N2C if first.protocol in N2C_ONLY else N2N
        self._names = {p.number: p.name for p in MINI_PROTOCOLS[self._mode]}
        if first.protocol == 0:
            for direction in self._dirs.values():
                direction.checker = MuxChecker(self._mode, None)  # type: ignore[arg-type]
                direction.demux = self._demux()
            handshake = self._instance(self._names[0], INITIATOR, None, start=self.start)
            if handshake is not None and self._lossy:  # bytes were lost before it: it may have lost some
                handshake.synced, handshake.joined = False, True
        else:
            self._assume_bundle("the handshake was not captured")

    def _assume_bundle(self, why: str) -> None:
        """Without the handshake's outcome: every protocol of the mode may run, duplex, any version."""
        assert self._mode is not None
        self._handshake_open = False
        self._version_data = (
            {"network_magic": 0, "query": False}
            if self._mode == N2C
            else {"initiator_only": False, "peer_sharing": 1, "peras_support": True}
        )
        self._pending_notes.append(f"{why}: {self._mode}, version unknown (messages of any version accepted)")
        for direction in self._dirs.values():
            direction.checker = MuxChecker(self._mode, self._version_data)  # type: ignore[arg-type]
            direction.demux = self._demux()

    def _sdu(self, direction: _Direction, sdu: SDU, time: float) -> None:
        if direction.failed or self._stopped:
            return
        side = direction.side
        assert side is not None
        self.clock.at(time)
        if self._mode is None:
            self._set_mode(sdu)
        direction.modes.add(sdu.mode)
        key = (sdu.protocol, sdu.mode)
        if not direction.all_aligned and key not in direction.aligned:
            name = self._names.get(sdu.protocol)
            if name is not None and not joining.starts_message(name, sdu.payload):
                return
            direction.aligned.add(key)
        checker, demux = direction.checker, direction.demux
        assert checker is not None and demux is not None
        refused: str | None = None
        try:
            warned = len(checker.warnings)
            checker.observe(sdu, side)
            for warning in checker.warnings[warned:]:
                self._violation(warning, side, time, _sdu_bytes(sdu))
            del checker.warnings[:]
        except Violation as violation:
            self._violation(violation, side, time, _sdu_bytes(sdu))
            refused = violation.requirement
            if sdu.protocol not in checker.bundle():
                return  # the demultiplexer would refuse it again
        if sdu.mode == 0:  # from the initiator of `side`'s instances: their responders start now
            for name in responders_started_by(self._mode, sdu.protocol):  # type: ignore[arg-type]
                instance = self._instances.get((name, side))
                if instance is not None:
                    instance.session.start()
        try:
            demux.receive_data(header(sdu.timestamp, sdu.protocol, sdu.mode, len(sdu.payload)))
            demux.receive_data(sdu.payload)
        except DecodeError as error:
            self._drain(direction, time)
            fault = bearer_violation(error, side)
            if fault.requirement != refused:
                self._violation(fault, side, time, _sdu_bytes(sdu))
            self._fail(direction, fault.requirement, time)
            return
        self._drain(direction, time)

    def _drain(self, direction: _Direction, time: float) -> None:
        demux, checker = direction.demux, direction.checker
        assert demux is not None and checker is not None
        while True:
            try:
                item = demux.next_message()
            except DecodeError:
                return
            if not isinstance(item, MuxMessage):
                return
            checker.consume(item.protocol, item.mode, len(item.data))
            self._message(direction, item, time)
            if direction.demux is not demux:  # the handshake ended: the rest goes to the new one
                return

    # -- messages to sessions --------------------------------------------------------------------------

    def _message(self, direction: _Direction, item: MuxMessage, time: float) -> None:
        side = direction.side
        assert side is not None and self._mode is not None
        name = self._names.get(item.protocol, str(item.protocol))
        owner = side if item.mode == 0 else other(side)
        sender = INITIATOR if item.mode == 0 else RESPONDER
        if item.protocol == 0:
            owner = INITIATOR
        self._messages[name] += 1
        self._last_message = time
        instance = self._instances.get((name, owner))
        if instance is None:
            instance = self._join(name, owner, sender, item.data)
            if instance is None:
                return
        session = instance.session
        taken = session.accepted
        session.observe(sender, item.data)
        found = list(session.violations)
        del session.violations[:]
        found += session.warnings
        del session.warnings[:]
        if not instance.synced:
            if any(isinstance(v, joining.REFUSALS) for v in found):
                rejoined = self._rejoin(name, owner, sender, item.data)
                if rejoined is None or item.protocol != 0:
                    return
                instance, session, found, taken = rejoined, rejoined.session, [], 0
            instance.run += 1
            instance.synced = instance.run >= joining.SYNCED_AFTER
        if instance.joined:
            found = [v for v in found if isinstance(v, joining.TABLE_CHECKS) and not joining.unseen_request(session, v)]
        for violation in found:
            at_fault = owner if violation.sender == INITIATOR else other(owner)
            self._violation(violation, at_fault, time, item.data)
        if item.protocol == 0:
            decoded = session.history[-1].message if session.accepted > taken else None
            self._handshake(decoded, found, time)

    def _instance(
        self, name: str, owner: str, state: str | None, *, start: float | None = None, started: bool = True
    ) -> _Instance | None:
        if name not in TABLES:
            return None
        options: dict[str, Any] = {}
        if name == "peer-sharing" and self._version_data is not None:
            options["version_data"] = self._version_data
        saved = self.clock.time
        if start is not None:
            self.clock.time = start
        session = Session(
            name,
            self._version,
            self.clock,
            time_scale=self.options.time_scale,
            on_violation="record",
            history_limit=1,
            state=state,
            started=started,
            **options,
        )
        self.clock.time = saved
        joined = state is not None
        instance = self._instances[name, owner] = _Instance(session, owner, synced=not joined, joined=joined)
        return instance

    def _join(self, name: str, owner: str, sender: str, data: bytes) -> _Instance | None:
        """The first message of an instance the capture joined mid-way: start its session in a state the
        message may be sent from (the initial state when it may)."""
        state = joining.join_state(name, sender, data)
        if state is None:
            return None
        self._pending_notes.append(
            f"{name} of the {owner} joined mid-way in {state}: judged on its table and limits only"
        )
        return self._instance(name, owner, state)

    def _rejoin(self, name: str, owner: str, sender: str, data: bytes) -> _Instance | None:
        """An instance joined mid-way was refused a message: it had not found its place yet (replies to
        requests sent before the capture began, or lost with bytes the capture missed). Start it again
        at this message; its findings there are not reported."""
        del self._instances[name, owner]
        instance = self._join(name, owner, sender, data)
        if instance is not None:
            instance.session.observe(sender, data)
            del instance.session.violations[:]
            del instance.session.warnings[:]
            instance.synced = False
        return instance

    def _handshake(self, decoded: Any, found: list[Violation], time: float) -> None:
        if decoded is None:
            if any(v.severity == "MUST" for v in found):
                self._stop(time, "the handshake failed; the node closes the connection, nothing after is judged")
            return
        if decoded.name == "MsgAcceptVersion":
            version, data = decoded.fields.get("version"), decoded.fields.get("version_data")
            if isinstance(version, int) and isinstance(data, dict):
                self._negotiated(version, data)
        elif decoded.name in ("MsgRefuse", "MsgQueryReply"):
            self._handshake_open = False
            self._pending_notes.append(f"the handshake ended with {decoded.name}: no mini-protocol runs")

    def _negotiated(self, version: int, data: dict[str, Any]) -> None:
        assert self._mode is not None
        self._version, self._version_data = version, dict(data)
        self._handshake_open = False
        for direction in self._dirs.values():
            assert direction.checker is not None
            direction.checker.negotiated(data)
            direction.demux = self._demux()
        magic = data.get("network_magic")
        if self.options.magic is not None and magic != self.options.magic:
            self._pending_notes.append(f"network magic {magic}, not the node's {self.options.magic}")
        owners = [INITIATOR]
        if self._mode == N2N and data.get("initiator_only") is False:
            owners.append(RESPONDER)
        for protocol in bundle(self._mode, data).values():  # type: ignore[arg-type]
            for owner in owners:  # the clocks wait for the responders to start (module docstring)
                self._instance(protocol.name, owner, None, started=False)

    def _stop(self, time: float, why: str) -> None:
        self._stopped = True
        self._pending_notes.append(f"{why} (at {time - self.origin:.3f} s)")

    # -- findings --------------------------------------------------------------------------------------

    def _violation(self, violation: Violation, side: str, time: float, data: bytes) -> None:
        catalogue.judge(violation, strict=False)
        if len(self._findings) >= FINDINGS_KEPT:
            self._dropped += 1
            return
        self._findings.append(
            Finding(
                violation.requirement,
                violation.severity,
                side,
                time - self.origin,
                violation.protocol or "mux",
                violation.state,
                violation.detail,
                bytes(data).hex(),
            )
        )

    # -- the end -------------------------------------------------------------------------------------

    def _closing(self, direction: _Direction, kind: str, time: float) -> None:
        """The first FIN or RST: judge every deadline then, and name the most likely reason."""
        self._release(final=True)
        closer = direction.side
        self.clock.at(time)
        self._truncations(kind, closer)
        late = self._time_check()
        reason = self._reason(closer, late)
        after = None if self._last_message is None else time - self._last_message
        self._ending = Ending(kind, closer, time - self.origin, after, reason)
        self.closed_at = time

    def _truncations(self, kind: str, closer: str | None) -> None:
        """Bytes of an unfinished SDU or message when a side closes its stream: it cut them short."""
        for direction in self._dirs.values():
            side = direction.side
            if side is None or direction.failed or side != closer:
                continue
            cutter, demux = direction.cutter, direction.demux
            time = self.clock.time
            if cutter is not None and cutter.aligned and cutter.pending:
                error: DecodeError = TruncatedInput(
                    f"the rest of an SDU ({cutter.pending} bytes of it received) before the {kind}", protocol="mux"
                )
                self._violation(bearer_violation(error, side), side, time, b"")
            elif demux is not None and demux.pending:
                error = TruncatedInput(
                    f"the rest of a message ({demux.pending} bytes of it received) before the {kind}"
                )
                self._violation(bearer_violation(error, side), side, time, b"")

    def _time_check(self) -> list[tuple[str, str, str, float, float]]:
        """Every instance whose side with agency is past its state's limit now: (holder, protocol, state,
        elapsed, limit); each is also a finding (once per stay, as the session reports it)."""
        late: list[tuple[str, str, str, float, float]] = []
        for (name, owner), instance in self._instances.items():
            session = instance.session
            deadline = session.deadline
            if deadline is None or session.done or self.clock.time <= deadline:
                continue
            limit = session.table.state(session.state).time_limit.scaled(session.time_scale) or 0.0
            holder = owner if session.agency == INITIATOR else other(owner)
            late.append((holder, name, session.state, self.clock.time - (deadline - limit), limit))
            session.check_time()
            for violation in session.violations:
                self._violation(violation, holder, self.clock.time, b"")
            del session.violations[:]
        return late

    def _reason(self, closer: str | None, late: list[tuple[str, str, str, float, float]]) -> str:
        for holder, name, state, elapsed, limit in late:
            if holder != closer:
                return (
                    f"the {holder} held agency in {name} {state} for {elapsed:.1f} s; the node's limit is {limit:g} s"
                )
        broken = [f for f in self._findings if f.severity == "MUST"]
        if broken:
            last = broken[-1]
            by = "the other side" if last.side != closer else "itself"
            return f"{by} broke {last.requirement} ({last.protocol}) at {last.time:.3f} s: {last.message}"
        if late:
            holder, name, state, elapsed, limit = late[0]
            return f"the {holder} closed while holding agency in {name} {state} for {elapsed:.1f} s (limit {limit:g} s)"
        waiting = sorted(
            f"{name} {i.session.state} ({'the ' + (i.owner if i.session.agency == INITIATOR else other(i.owner))})"
            for (name, _), i in self._instances.items()
            if not i.session.done
        )
        if not waiting:
            return "no protocol fault: every mini-protocol had terminated"
        return "no protocol fault seen; agency: " + ", ".join(waiting)

    def _report(self) -> ConnectionReport:
        if self._sides:
            initiator, responder = self._sides[INITIATOR].address, self._sides[RESPONDER].address
        else:
            initiator, responder = tuple(self._dirs)
        report = ConnectionReport(
            initiator,
            responder,
            self._roles_from or "nothing seen",
            self.start - self.origin,
            mode=self._mode,
            version=self._version,
            version_data=self._version_data if self._version is not None else None,
            start_missed=any(not d.tcp.syn and d.tcp.delivered for d in self._dirs.values()),
        )
        report.notes = list(dict.fromkeys(self._pending_notes))
        report.messages = self._messages
        for side, direction in self._sides.items():
            report.bytes_sent[side] = direction.tcp.delivered
            if direction.tcp.retransmitted:
                report.notes.append(f"{direction.tcp.retransmitted} bytes of the {side} retransmitted (dropped)")
            if direction.tcp.lost:
                report.notes.append(f"{direction.tcp.lost} bytes of the {side} never captured")
            if direction.cutter is not None and direction.cutter.skipped:
                report.notes.append(f"{direction.cutter.skipped} bytes of the {side} before an SDU boundary skipped")
        report.findings = sorted(self._findings, key=lambda f: f.time)
        report.findings_dropped = self._dropped
        report.ending = self._ending
        return report


def _sdu_bytes(sdu: SDU) -> bytes:
    return header(sdu.timestamp, sdu.protocol, sdu.mode, len(sdu.payload)) + sdu.payload


def _n2c_keys(payload: bytes) -> bool:
    """Whether a handshake message's version numbers carry bit 15 (node-to-client)."""
    try:
        item, _ = decode_item(payload, allow_trailing=True)
    except (DecodeError, ValueError):
        return False
    if not isinstance(item, list) or len(item) < 2:
        return False
    keys = [k for k, _ in item[1].pairs] if isinstance(item[1], Map) else [item[1]]
    return any(isinstance(k, int) and k & 0x8000 for k in keys)
