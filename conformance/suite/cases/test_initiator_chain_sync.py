"""Chain-sync, the tested peer as initiator (the client): we serve a chain as a node does, and our Session
judges every request it sends (agency, pipelining, MsgDone only once every request is answered). The cases
drive the situations a client meets: a chain to follow, the tip (MsgAwaitReply, then a new block after a
wait longer than StCanAwait's 10 s limit), and a rollback to a fork."""

from __future__ import annotations

import pytest

from conformance.peer.chain import ChainStore
from conformance.peer.connection import Connection
from conformance.suite.case import Case

from .serving import active, closed_by_initiator, grace, node_side, patience, quiet, responder, settle, until

pytestmark = pytest.mark.role("initiator")
CS = "chain-sync"
CAN_AWAIT_LIMIT = 10.0  # StCanAwait: the server's limit to answer at once (CS-TIME-01)
MUST_REPLY_LIMIT = 601.0  # StMustReply: the least time the node gives the server to send a new block


def _requests(connection: Connection) -> int:
    server = responder(connection, CS)
    return 0 if server is None else server.sent_forward + len(server.requests) + int(server.done)


async def _started(case: Case, connection: Connection) -> bool:
    """Whether the initiator started chain-sync (sent a request) within `patience`; noted when not."""
    if await until(lambda: _requests(connection) > 0 or not active(connection), patience(case)):
        return _requests(connection) > 0
    case.note("CS-AGENCY-01", f"the initiator ran no chain-sync on this connection within {patience(case):g} s")
    return False


async def _at_tip(case: Case, connection: Connection) -> bool:
    """Whether the client reached the tip and waits there (MsgAwaitReply); noted when it did not."""
    server = responder(connection, CS)
    await until(lambda: server.awaiting or server.done or not active(connection), patience(case))
    if not server.awaiting:
        why = "closed the connection" if not active(connection) else "stopped following" if server.done else "was slow"
        case.note("CS-AGENCY-01", f"the initiator did not reach the tip ({why}) after {server.sent_forward} headers")
    return bool(server.awaiting)


@pytest.mark.requirement("CS-AGENCY-01", "CS-MSG-01", "CS-CODEC-01", "CS-BYTES-01", "CS-PIPE-01", "CS-PIPE-02")
@pytest.mark.area("StIdle")
def test_client_follows_the_served_chain(case: Case) -> None:
    """The client finds an intersection, asks for headers (pipelined or not) and, when it stops, sends
    MsgDone only with nothing outstanding; every message is judged as it arrives."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side())
        case.require(CS)
        if not await _started(case, connection):
            return
        await settle(lambda: _requests(connection), quiet=quiet(case), within=patience(case))
        server = responder(connection, CS)
        if closed_by_initiator(connection) and not server.done:  # a node drops a peer whose chain it rejects
            case.note("CS-AGENCY-01", f"the initiator closed the connection after {server.sent_forward} headers")

    case.run(body)


@pytest.mark.requirement("CS-TIME-01", "CS-AGENCY-01", "CS-MSG-01", "CS-PIPE-01")
@pytest.mark.area("StMustReply")
def test_client_waits_at_the_tip_for_a_new_block(case: Case) -> None:
    """At the tip the client gets MsgAwaitReply and must wait: the server has agency in StMustReply for
    601 s and more (a client that applies StCanAwait's 10 s there drops good peers). We let it wait past
    10 s (scaled), then grow the chain by one block: the client takes it and goes on asking."""

    async def body() -> None:
        chain = ChainStore.synthetic(5)
        connection = await case.accept(behaviours=node_side(chain))
        case.require(CS)
        if not await _started(case, connection) or not await _at_tip(case, connection):
            return
        server = responder(connection, CS)
        hold = case.limit(CAN_AWAIT_LIMIT) + grace(case.limit(1.0))
        await until(lambda: not active(connection), hold)
        if closed_by_initiator(connection):
            case.fail(
                "CS-TIME-01",
                f"the initiator closed the connection {hold:g} s or less after MsgAwaitReply, while the server"
                f" has agency in StMustReply (the node waits {MUST_REPLY_LIMIT:g} s and more, times the scale)",
            )
        served = server.sent_forward
        chain.extend(1)
        await until(lambda: server.sent_forward > served or not active(connection), patience(case))
        case.check(
            "CS-TIME-01",
            not closed_by_initiator(connection),
            "the initiator closed the connection when the new block came",
        )
        await until(lambda: bool(server.requests) or server.done or not active(connection), quiet(case))

    case.run(body)


@pytest.mark.requirement("CS-ROLLBACK-01", "CS-AGENCY-01", "CS-MSG-01", "CS-PIPE-01")
@pytest.mark.area("StMustReply")
def test_client_follows_a_rollback(case: Case) -> None:
    """The client followed the chain to its tip; the chain switches to a fork three blocks deep. The
    waiting client gets MsgRollBackward to the fork point and then the fork's headers, and goes on."""

    async def body() -> None:
        chain = ChainStore.synthetic(8)
        connection = await case.accept(behaviours=node_side(chain))
        case.require(CS)
        if not await _started(case, connection) or not await _at_tip(case, connection):
            return
        server = responder(connection, CS)
        served = server.sent_forward
        chain.rollback(len(chain) - 4)
        chain.extend(3)  # a fork: the same length, later slots, other hashes
        await until(lambda: server.sent_forward > served or not active(connection), patience(case))
        await settle(lambda: _requests(connection), quiet=quiet(case), within=patience(case))
        case.check(
            "CS-ROLLBACK-01",
            not closed_by_initiator(connection) or server.done,
            "the initiator closed the connection after MsgRollBackward to a point it had followed three blocks"
            " back (a shallow fork switch is ordinary chain-sync traffic)",
        )
        if active(connection) and server.sent_forward == served and not server.done:
            case.note("CS-ROLLBACK-01", "the initiator asked for no header of the fork after the rollback")

    case.run(body)
