"""What the suite runs for a tested initiator: the responder sides a node runs, and ways to watch them.

A tested initiator starts every mini-protocol it runs as soon as the handshake ends, and applies its own
time limits to our answers (chain-sync StIntersect 10 s, keep-alive 60 s, block-fetch 60 s, times the time
scale). So every initiator-role case serves all of them with the reference peer's node behaviours
(`node_side`), except the one protocol the case scripts itself (`without`). Cases then watch the
behaviours' state (`responder`, `settle`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

from conformance.peer import keep_alive, peer_sharing, tx_submission
from conformance.peer.agent import Behaviour, BehaviourFactory
from conformance.peer.chain import ChainStore
from conformance.peer.chain_roles import serve_chain
from conformance.peer.connection import Connection
from conformance.peer.mempool import Mempool
from conformance.peer.transcript import RECEIVED
from conformance.suite.case import Case
from conformance.wire import Message

CHAIN_LENGTH = 40
"""Blocks of the synthetic chain a case serves unless it needs another."""
ACTIVITY = 20.0
"""Seconds (scaled) a case gives the initiator to start the protocol it watches; a node starts chain-sync,
block-fetch and tx-submission2 only toward hot peers, so the case notes (never fails) a quiet one."""
MIN_ACTIVITY = 2.0
"""Seconds ACTIVITY lasts at least, whatever the time scale (a cold process takes a moment to start)."""
QUIET = 0.5
"""Seconds (scaled) without progress after which a protocol is taken to be idle and the case ends."""
MIN_QUIET = 0.3
"""Seconds QUIET lasts at least, whatever the time scale (a loaded machine pauses for tens of ms)."""
POLL = 0.01
"""Seconds between two looks at a behaviour's state."""
MINI_PROTOCOLS = ("keep-alive", "chain-sync", "block-fetch", "tx-submission2", "peer-sharing")
"""The node-to-node mini-protocols after the handshake."""
SHARED_PEERS = (peer_sharing.address("10.0.0.1", 3001), peer_sharing.address("2001:db8::1", 3001))
"""Addresses the suite shares: one IPv4 and one IPv6 (the two address families)."""


def patience(case: Case) -> float:
    """How long a case waits for the initiator to start what it watches (not a protocol limit)."""
    return max(case.limit(ACTIVITY), MIN_ACTIVITY)


def quiet(case: Case) -> float:
    """How long a protocol must stay silent before the case takes it to be idle (not a protocol limit)."""
    return max(case.limit(QUIET), MIN_QUIET)


def node_side(
    chain: ChainStore | None = None, *, without: tuple[str, ...] = (), poll_every: float = 0.05
) -> dict[tuple[str, str], BehaviourFactory]:
    """The responder behaviours of a node, over `chain` (a synthetic chain of CHAIN_LENGTH blocks by
    default) and an empty mempool, minus the protocols in `without` (the case scripts those). The
    chain-sync server looks for a changed chain every `poll_every` seconds (scaled) while a client waits."""
    chain = chain if chain is not None else ChainStore.synthetic(CHAIN_LENGTH)
    behaviours: dict[tuple[str, str], BehaviourFactory] = {
        ("keep-alive", "responder"): keep_alive.server(),
        ("tx-submission2", "responder"): tx_submission.inbound(Mempool()),
        ("peer-sharing", "responder"): peer_sharing.server(SHARED_PEERS),
    }
    served = serve_chain(chain, poll_every=poll_every)
    behaviours.update({key: factory for key, factory in served.items() if key[0] in ("chain-sync", "block-fetch")})
    return {key: factory for key, factory in behaviours.items() if key[0] not in without}


def responder(connection: Connection, protocol: str) -> Any:
    """Our behaviour on `protocol` of this connection (None before the protocol runs or when scripted)."""
    behaviour: Behaviour | None = connection.behaviours.get((protocol, "responder"))
    return behaviour


def active(connection: Connection) -> bool:
    """The connection still runs (neither side closed it)."""
    return not connection.closed.done()


def closed_by_initiator(connection: Connection) -> bool:
    return connection.closed.done() and connection.closed.result().by == "remote"


def count(connection: Connection, protocol: str, name: str | None = None, *, direction: str = RECEIVED) -> int:
    """Messages of `protocol` (named `name`, when given) seen in `direction` on the connection so far."""
    return sum(
        1
        for entry in connection.transcript
        if entry.kind == "message"
        and entry.direction == direction
        and entry.protocol == protocol
        and (name is None or entry.name == name)
    )


def received(connection: Connection, protocol: str, name: str) -> Message | None:
    """The first message `name` the initiator sent on `protocol`, as the transcript decoded it."""
    for entry in connection.transcript:
        if entry.kind == "message" and entry.direction == RECEIVED and entry.protocol == protocol:
            if entry.name == name:
                return Message(protocol, name, dict(entry.fields or {}), entry.data)
    return None


async def until(predicate: Callable[[], bool], within: float) -> bool:
    """Whether `predicate` came true within `within` seconds (looked at every POLL seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL)
    return True


async def settle(progress: Callable[[], Hashable], *, quiet: float, within: float) -> bool:
    """Whether `progress()` stopped changing for `quiet` seconds within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last, since = progress(), loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(POLL)
        now = progress()
        if now != last:
            last, since = now, loop.time()
        elif loop.time() - since >= quiet:
            return True
    return False


def grace(limit: float) -> float:
    """Slack added to a wait derived from a protocol limit, so a loaded machine never fails a good peer."""
    return max(0.5, limit * 0.5)


def _proposed_or_closed(connection: Connection) -> Callable[[], bool]:
    return lambda: count(connection, "handshake") > 0 or not active(connection)


async def accept_scripted(case: Case, **overrides: Any) -> tuple[Connection, Message]:
    """The initiator's next connection with the handshake left to the case: the connection and the
    MsgProposeVersions it opened with (a socket closed before any byte is skipped, as `accept` does)."""
    wait = case.limit(10.0) * 2  # HS-TIME-01: the initiator proposes within 10 s of connecting
    for _ in range(8):  # bounded: sockets abandoned before this case started
        connection = await case.accept(handshake=False, **overrides)
        if not await until(_proposed_or_closed(connection), wait):
            case.fail("HS-TIME-01", f"the initiator proposed no versions within {wait:g} s of connecting")
        if count(connection, "handshake") == 0 and connection.bytes_received == 0:
            continue
        proposal = await case.expect(connection, "handshake", "MsgProposeVersions", within=0.1, requirement="HS-MSG-01")
        return connection, proposal
    case.fail("HS-TIME-01", "the initiator kept opening connections that it closed before proposing versions")
