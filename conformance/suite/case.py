"""What a conformance case works with: the peer under test, connections to it, and what it finds.

A case is a pytest function that takes the `case` fixture (plugin.py) and hands `case.run` a coroutine.
The coroutine opens connections with `connect` (the peer under test is a responder) or `accept` (it is an
initiator), talks through the reference peer's scripted surface (`send`, `receive`, `send_sdu`), and says
what it expects with `expect`, `expect_close`, `check` and `fail`, each naming a requirement id. Whatever
the reference peer's own validation finds in what the peer sent (every message goes through a Session and
the mux checker) is a finding too, with its own requirement id, so a case never has to re-check the rules
the state machines already know.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from conformance.peer import node
from conformance.peer.connection import CloseInfo, Connection, ConnectionClosed
from conformance.peer.transcript import RECEIVED
from conformance.protocol import Violation, catalogue
from conformance.wire import Message

from .grading import Finding, protocol_of
from .loop import SuiteLoop
from .profile import PeerProfile

N2N, N2C = "node-to-node", "node-to-client"
CASE_TIMEOUT = 60.0
"""Seconds a case may run (wall time, not scaled: a case waits on scaled limits well inside it)."""
LONG_WAIT = 30.0
"""Seconds of scaled protocol time a case may wait; longer waits need a smaller --time-scale."""
ACCEPT_WITHIN = 30.0
"""Seconds an initiator-role case waits for the tested initiator to (re)connect."""
STALE_AFTER = 0.5
"""Share of the initiator's handshake limit (node.HANDSHAKE_WAIT, scaled) after which a queued socket may
have been given up: the initiator started its clock when it proposed, and our answer comes only now."""
ABANDON_GRACE = 0.25
"""Seconds a case watches a stale socket, once answered, for the close of an initiator that gave up on it."""


class CaseFailed(AssertionError):
    """A requirement the case checks is broken; raised by `fail` and `expect*`, caught by `run`."""

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"{requirement}: {message}")
        self.requirement = requirement
        self.message = message


class Unsupported(Exception):
    """The peer does not offer what the case needs (graded `unsupported`, never failed)."""


class NotRun(Exception):
    """The case would wait longer than LONG_WAIT at this --time-scale (graded informational)."""


class Stopped(Exception):
    """The reference peer closed the connection on a rule the peer broke: that violation is the finding."""


class Unreachable(Exception):
    """The peer under test could not be reached at all (the run's exit code 2)."""


@dataclass(frozen=True)
class Target:
    """The peer under test and how the run treats it (from the command-line options)."""

    role: str = "responder"  # the role of the PEER UNDER TEST
    peer: tuple[str, int] | None = None  # TCP address of a tested responder
    socket: str | None = None  # Unix socket of a tested node-to-client responder
    listen: tuple[str, int] | None = None  # where we listen for a tested initiator
    magic: int = node.MAINNET_MAGIC
    time_scale: float = 1.0
    profile: PeerProfile = field(default_factory=PeerProfile)


def slug(name: str) -> str:
    """A folder name for a case: its node id with everything but letters, digits, - and _ replaced."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:120]


class Case:
    """One case: its connections, its findings, and the helpers to check a peer (module docstring)."""

    def __init__(
        self,
        name: str,
        requirements: tuple[str, ...],
        target: Target,
        loop: SuiteLoop,
        evidence_dir: Path,
        listener: Any = None,
    ) -> None:
        self.name = name
        self.requirements = requirements
        self.target = target
        self.evidence_dir = evidence_dir
        self.findings: list[Finding] = []
        self.connections: list[Connection] = []
        self.error: str | None = None
        self.unsupported_reason: str | None = None
        self.not_run_reason: str | None = None
        self.duration = 0.0
        self.mode = N2N
        self._loop = loop
        self._listener = listener
        self._protocol = _main_protocol(requirements)

    # -- time and configuration ----------------------------------------------------------------------

    def limit(self, seconds: float) -> float:
        """A protocol time limit (or a wait derived from one) under --time-scale."""
        return seconds * self.target.time_scale

    def config(self, mode: str = N2N, **overrides: Any) -> node.PeerConfig:
        """Our side of a connection: the run's magic and time scale, transcripts into the evidence folder,
        the versions the profile says the peer offers (else the peer's defaults), no behaviours."""
        options: dict[str, Any] = {
            "mode": mode,
            "magic": self.target.magic,
            "time_scale": self.target.time_scale,
            "transcript_dir": self.evidence_dir,
            "behaviours": {},
            "initiator_only": True,  # not duplex: the case plays one side, the peer starts nothing toward it
        }
        offered = self.target.profile.versions.get(mode)
        if offered:
            options["versions"] = offered
        options.update(overrides)
        return node.PeerConfig(**options)

    # -- connections ---------------------------------------------------------------------------------

    async def connect(self, mode: str = N2N, *, handshake: bool = True, **overrides: Any) -> Connection:
        """A new connection to the tested responder (TCP for node-to-node, the Unix socket for
        node-to-client). With `handshake` the negotiation must succeed (a refusal fails the case on
        HS-NEG-01); `handshake=False` leaves the handshake to the case (scripted)."""
        self.mode = mode
        config = self.config(mode, handshake=handshake, **overrides)
        try:
            if mode == N2C:
                if self.target.socket is None:
                    raise Unsupported("node-to-client cases need --peer-socket PATH")
                connection = await node.connect_unix(self.target.socket, config)
            else:
                if self.target.peer is None:
                    raise Unsupported("node-to-node responder cases need --peer HOST:PORT")
                connection = await node.connect(*self.target.peer, config)
        except OSError as error:
            raise Unreachable(f"cannot connect to the peer under test: {error}") from None
        self.connections.append(connection)
        if handshake and config.handshake and not config.query:
            self._negotiated(connection)
        return connection

    async def accept(self, mode: str = N2N, *, within: float = ACCEPT_WITHIN, **overrides: Any) -> Connection:
        """The tested initiator's next connection, run with our config (it may reconnect between cases)."""
        self.mode = mode
        if self._listener is None:
            raise Unsupported("initiator cases need --listen HOST:PORT (or --role initiator)")
        config = self.config(mode, **overrides)
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = max(deadline - asyncio.get_running_loop().time(), 0.001)
            connection, waited = await self._listener.take(config, left)
            self.connections.append(connection)
            if not config.handshake:
                return connection
            wait = node.HANDSHAKE_WAIT * config.time_scale * 2
            try:
                await asyncio.wait_for(asyncio.shield(connection.handshake_done), wait)
            except TimeoutError:
                self.fail("HS-TIME-01", f"the initiator proposed no versions within {wait:g} s of connecting")
            if connection.is_closed and connection.bytes_received == 0:  # closing: `closed` is set a moment later
                self.connections.remove(connection)
                continue  # a socket the initiator abandoned while it waited for this case: take the next
            stale = waited >= STALE_AFTER * node.HANDSHAKE_WAIT * config.time_scale
            if stale and await _abandoned(connection):
                self.connections.remove(connection)
                continue  # it proposed, waited past its limit for our answer and gave up: no fault of its own
            return connection

    def _negotiated(self, connection: Connection) -> None:
        if connection.negotiated is not None:
            return
        if connection.refusal is not None:
            self.fail("HS-NEG-01", f"the peer refused versions it should accept: {connection.refusal.fields}")
        info = connection.closed.result() if connection.closed.done() else None
        why = info.reason if info is not None else "no answer in time"
        self.fail("HS-NEG-01", f"the handshake did not complete ({why})")

    # -- expectations --------------------------------------------------------------------------------

    async def expect(
        self,
        connection: Connection,
        protocol: str,
        names: str | tuple[str, ...],
        *,
        within: float,
        requirement: str,
        side: str | None = None,
    ) -> Message:
        """The next message on `protocol`, which must be one of `names` and arrive within `within`
        seconds (already scaled by the caller where it is a protocol limit)."""
        wanted = (names,) if isinstance(names, str) else names
        try:
            message = await connection.receive(protocol, within, side=side)
        except TimeoutError:
            self.fail(requirement, f"no {' or '.join(wanted)} on {protocol} within {within:g} s")
        except ConnectionClosed as closed:
            if isinstance(closed.info.error, Violation):
                raise Stopped(str(closed.info.error)) from None
            self.fail(
                requirement,
                f"the peer closed the connection instead of sending {'/'.join(wanted)} ({closed.info.reason})",
            )
        if message.name not in wanted:
            self.fail(requirement, f"{protocol}: expected {' or '.join(wanted)}, got {message.name}")
        return message

    async def expect_close(self, connection: Connection, *, within: float, requirement: str, why: str) -> CloseInfo:
        """The peer must close the connection within `within` seconds (`why`: the rule it applies)."""
        info = await connection.wait_closed(within)
        if info is None:
            self.fail(requirement, f"the connection stayed open {within:g} s after {why}")
        if info.by != "remote":  # our side gave up first (a rule the peer broke while it did not close)
            self.fail(requirement, f"the peer did not close the connection after {why}; ours closed: {info.reason}")
        return info

    def check(self, requirement: str, ok: bool, message: str) -> bool:
        """Record `message` against `requirement` (at its catalogue severity) unless `ok`; go on either way."""
        if not ok:
            severity = catalogue.severity(requirement)
            self.findings.append(Finding(requirement, severity, self._protocol_for(requirement), message))
        return ok

    def fail(self, requirement: str, message: str) -> NoReturn:
        """`requirement` is broken and the case cannot go on."""
        raise CaseFailed(requirement, message)

    def note(self, requirement: str, message: str) -> None:
        """An informational finding: reported, never a failure."""
        self.findings.append(Finding(requirement, "informational", self._protocol_for(requirement), message))

    def unsupported(self, reason: str) -> NoReturn:
        raise Unsupported(reason)

    def affordable(self, seconds: float) -> None:
        """Do not run a case that must wait `seconds` (scaled) when that is longer than LONG_WAIT."""
        if seconds > LONG_WAIT:
            raise NotRun(
                f"it waits {seconds:g} s at --time-scale {self.target.time_scale:g};"
                f" run with a smaller --time-scale to include it"
            )

    def require(self, protocol: str) -> None:
        """Grade the case unsupported when the profile says the peer does not offer `protocol`."""
        if not self.target.profile.offers(protocol):
            self.unsupported(f"the peer profile {self.target.profile.name!r} does not offer {protocol}")

    async def probe(self, mode: str = N2N) -> None:
        """A known-good handshake on a new connection: the peer survived what the case sent before."""
        try:
            connection = await self.connect(mode)
        except Unreachable as error:
            self.fail("HS-NEG-01", f"after the hostile input the peer accepts no new connection ({error})")
        except CaseFailed as failure:
            self.fail("HS-NEG-01", f"after the hostile input a new connection fails: {failure.message}")
        await connection.close()

    # -- running -------------------------------------------------------------------------------------

    def run(self, body: Callable[[], Awaitable[None]], timeout: float = CASE_TIMEOUT) -> None:
        """Run the case's coroutine on the suite loop, close its connections, collect the findings of
        the reference peer's validation, and fail the pytest case when a MUST is broken."""
        started = time.monotonic()
        try:
            self._loop.run(self._body(body), timeout)
        except TimeoutError:
            self.error = f"the case did not finish within {timeout:g} s"
        finally:
            self.duration = time.monotonic() - started
        self._verdict()

    async def _body(self, body: Callable[[], Awaitable[None]]) -> None:
        try:
            await body()
        except CaseFailed as failure:
            self.findings.append(
                Finding(failure.requirement, "MUST", self._protocol_for(failure.requirement), failure.message)
            )
        except Unsupported as reason:
            self.unsupported_reason = str(reason)
        except NotRun as reason:
            self.not_run_reason = str(reason)
        except Stopped:
            pass  # the violation that closed the connection is collected below
        except Unreachable:
            raise
        except ConnectionClosed as closed:
            if not isinstance(closed.info.error, Violation):
                self.error = f"the peer closed the connection: {closed.info.reason}"
        except TimeoutError as error:
            self.error = f"the peer did not answer in time: {error or 'timeout'}"
        finally:
            await asyncio.gather(*(c.close() for c in self.connections), return_exceptions=True)
            self._collect()

    def _collect(self) -> None:
        """The reference peer's own findings: every rule the peer under test broke on our connections."""
        for connection in self.connections:
            for violation in connection.violations:
                self.findings.append(
                    Finding(violation.requirement, violation.severity, violation.protocol, str(violation))
                )
            for warning in connection.warnings:
                self.findings.append(Finding(warning.requirement, "SHOULD", warning.protocol, str(warning)))

    def _verdict(self) -> None:
        import pytest

        if self.unsupported_reason is not None:
            pytest.skip(f"unsupported: {self.unsupported_reason}")
        if self.not_run_reason is not None:
            pytest.skip(f"not run: {self.not_run_reason}")
        broken = [f for f in self.findings if f.severity == "MUST"]
        known = [f for f in broken if self.target.profile.deviation(f.requirement, self.name)]
        if self.error is not None:
            raise AssertionError(self.error)
        if broken and len(known) == len(broken):
            pytest.xfail("; ".join(f"{f.requirement}: {f.message}" for f in known))
        if broken:
            raise AssertionError("\n".join(f"{f.requirement}: {f.message}" for f in broken))

    def _protocol_for(self, requirement: str) -> str:
        known = catalogue.load()
        return protocol_of(requirement, self.mode) if requirement in known else self._protocol


async def _abandoned(connection: Connection) -> bool:
    """Whether the initiator closed this (stale) socket without a word after its proposal: the close of a
    node whose handshake limit passed while the socket waited for a case, not a close on our answer."""
    info = await connection.wait_closed(ABANDON_GRACE)
    if info is None or info.by != "remote" or connection.violations:
        return False
    said = (e.protocol for e in connection.transcript if e.kind == "message" and e.direction == RECEIVED)
    return all(protocol == "handshake" for protocol in said)


def _main_protocol(requirements: tuple[str, ...]) -> str:
    known = catalogue.load()
    for requirement in requirements:
        if requirement in known:
            return known[requirement].protocols[0]
    return "mux"
