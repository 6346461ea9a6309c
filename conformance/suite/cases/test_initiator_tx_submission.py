"""Tx-submission2, the tested peer as initiator: it is the tx CLIENT (outbound: it holds the transactions
and answers), we are the server (inbound: we ask). Our Session judges everything it sends: MsgInit first,
replies within the window, a non-empty reply to a blocking request, indefinite lists, announced sizes.

The case new node teams hit first: a NON-BLOCKING MsgRequestTxIds must be answered at once, with an empty
list when the mempool has nothing new; the Haskell node, as the server, closes the connection when the
client holds agency in StTxIdsNonBlocking for 10 s (`timeLimitsTxSubmission2`). A BLOCKING request, on the
other hand, may be held for as long as the mempool has nothing (StTxIdsBlocking has no limit). A server
sends a non-blocking request only while some announced id stays unacknowledged (TX-BLOCK-02), so the case
first drains the initiator's mempool, then asks without blocking and times the (empty) answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conformance.peer.connection import Connection, ConnectionClosed
from conformance.protocol import Violation
from conformance.suite.case import Case, Stopped
from conformance.wire import Message

from .serving import active, count, grace, node_side, patience, quiet, responder, settle, until

pytestmark = pytest.mark.role("initiator")
TX = "tx-submission2"
NON_BLOCKING_LIMIT = 10.0  # StTxIdsNonBlocking and StTxs: shortWait (TX-TIME-01)
WINDOW = 10  # maxUnacknowledgedTxIds in cardano-node (TX-WINDOW-01)
MAX_ROUNDS = 200  # non-blocking requests spent draining a mempool before the case gives up on emptying it


def _request(blocking: bool, ack: int, req: int) -> Message:
    return Message(TX, "MsgRequestTxIds", {"blocking": blocking, "ack": ack, "req": req})


def _held(case: Case, seconds: float) -> str:
    """The failure message of TX-TIME-01 in StTxIdsNonBlocking: what happened, what the node does, the fix."""
    limit = case.limit(NON_BLOCKING_LIMIT)
    scaled = "" if case.target.time_scale == 1 else f", {limit:g} s at --time-scale {case.target.time_scale:g}"
    return (
        f"the initiator held agency in StTxIdsNonBlocking for {seconds:.1f} s; the Haskell node closes the"
        f" connection after {NON_BLOCKING_LIMIT:g} s (timeLimitsTxSubmission2{scaled}): answer a non-blocking"
        " MsgRequestTxIds at once, with an empty list when the mempool is empty"
    )


async def _first_message(case: Case, connection: Connection) -> Message | None:
    """MsgInit (judged by our Session), or None when the initiator runs no tx-submission2 (noted)."""
    try:
        return await connection.receive(TX, patience(case))
    except TimeoutError:
        case.note("TX-INIT-01", f"the initiator ran no tx-submission2 on this connection within {patience(case):g} s")
        return None


def _closed(closed: ConnectionClosed) -> None:
    """A close while we waited: when our Session closed it on a violation, that violation is the finding."""
    if isinstance(closed.info.error, Violation):
        raise Stopped(str(closed.info.error)) from None


async def _non_blocking(case: Case, connection: Connection, ack: int, req: int) -> list[Any]:
    """Send a non-blocking MsgRequestTxIds and time its answer: the ids announced (maybe none)."""
    loop = asyncio.get_running_loop()
    limit = case.limit(NON_BLOCKING_LIMIT)
    sent = loop.time()
    await connection.send(TX, _request(False, ack, req))
    try:
        reply = await connection.receive(TX, limit + grace(limit))
    except TimeoutError:
        case.fail("TX-TIME-01", _held(case, loop.time() - sent))
    except ConnectionClosed as closed:
        error = closed.info.error
        if isinstance(error, Violation) and error.requirement == "TX-TIME-01":
            case.fail("TX-TIME-01", _held(case, loop.time() - sent))  # our Session closed it at the limit
        _closed(closed)
        case.fail("TX-TIME-01", f"the initiator closed the connection instead of answering ({closed.info.reason})")
    return list(reply.fields.get("txids") or [])


@pytest.mark.requirement(
    "TX-INIT-01", "TX-AGENCY-01", "TX-MSG-01", "TX-CODEC-01", "TX-REPLY-01", "TX-REPLY-02", "TX-REPLYTX-01",
    "TX-SIZE-01", "TX-LIST-01",
)  # fmt: skip
@pytest.mark.area("StIdle")
def test_client_offers_its_mempool_within_the_rules(case: Case) -> None:
    """We pull as the node's inbound side does (3 ids and 2 transactions per request, window 10, a blocking
    request once nothing stays unacknowledged); the initiator's every answer is judged."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side())
        case.require(TX)
        if not await until(lambda: count(connection, TX) > 0 or not active(connection), patience(case)):
            case.note(
                "TX-INIT-01",
                f"the initiator ran no tx-submission2 on this connection within {patience(case):g} s",
            )
            return
        await settle(lambda: count(connection, TX), quiet=quiet(case), within=patience(case))
        inbound = responder(connection, TX)
        if (
            active(connection)
            and inbound is not None
            and count(connection, TX, "MsgReplyTxIds")
            and not inbound.received
        ):
            case.note("TX-REPLYTX-01", "the initiator announced transactions but we received none")

    case.run(body)


@pytest.mark.requirement("TX-TIME-01", "TX-REPLY-01", "TX-REPLY-02", "TX-LIST-01", "TX-DONE-01", "TX-INIT-01")
@pytest.mark.area("StTxIdsNonBlocking")
def test_non_blocking_request_is_answered_at_once_even_with_nothing_new(case: Case) -> None:
    """Drain the mempool (ack everything but one id, ask for the rest) until a non-blocking request gets
    an empty list; every non-blocking answer must come within 10 s (scaled). Then acknowledge everything
    with a blocking request: with nothing new, the initiator may hold it past 10 s (or answer MsgDone)."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side(without=(TX,)))
        case.require(TX)
        if await _first_message(case, connection) is None:
            return
        hold = case.limit(NON_BLOCKING_LIMIT) + grace(case.limit(1.0))
        await connection.send(TX, _request(True, 0, WINDOW))
        try:
            first = await connection.receive(TX, hold)
        except TimeoutError:
            case.note(
                "TX-TIME-01",
                f"the initiator announced no transaction (it held our blocking request {hold:g} s, as it may):"
                " a non-blocking request needs an unacknowledged id, so the non-blocking limit was not exercised",
            )
            return
        except ConnectionClosed as closed:
            _closed(closed)
            case.note("TX-DONE-01", "the initiator closed the connection while holding our blocking request")
            return
        if first.name == "MsgDone":
            return  # it ended tx-submission2 in answer to a blocking request: allowed (TX-DONE-01)
        unacked = list(first.fields.get("txids") or [])
        drained = False
        for _ in range(MAX_ROUNDS):
            ack = len(unacked) - 1  # one id stays unacknowledged, so the request may be non-blocking
            announced = await _non_blocking(case, connection, ack, WINDOW - 1)
            unacked = unacked[ack:] + announced
            if not announced:
                drained = True
                break
        if not drained:
            case.note("TX-TIME-01", f"the mempool still had new transactions after {MAX_ROUNDS} non-blocking requests")
            return
        await connection.send(TX, _request(True, len(unacked), WINDOW))
        try:
            await connection.receive(TX, hold)  # new transactions or MsgDone: both allowed, both judged
        except TimeoutError:
            pass  # held with nothing to announce: allowed
        except ConnectionClosed as closed:
            _closed(closed)
            case.note("TX-DONE-01", "the initiator closed the connection while holding a blocking request")

    case.run(body)
