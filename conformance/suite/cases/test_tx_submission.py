"""Tx-submission2 (node-to-node), the tested peer as responder, which is the tx SERVER (inbound): we are the
client, send MsgInit and answer its requests from a small mempool of our own.

The reference outbound side (`conformance.peer.tx_submission.TxSubmissionOutbound`) answers, sans-I/O, inside
the case; our Session judges every request the server sends (acknowledgements, the window of 10, blocking
only when nothing stays unacknowledged, transactions requested only when announced, ...). The server also
enforces our time limit: holding agency in StTxIdsNonBlocking or StTxs past 10 s gets us disconnected.

The transactions are made for each case (tiny Conway transactions with a body no chain holds), so a server
that remembers the transactions of an earlier case still has to ask for these.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from conformance.peer.agent import Finish, Send
from conformance.peer.connection import Connection, ConnectionClosed
from conformance.peer.mempool import Mempool, wrap_gentx
from conformance.peer.tx_submission import TxSubmissionOutbound
from conformance.protocol import Violation
from conformance.suite.case import CASE_TIMEOUT, Case
from conformance.wire import Message
from conformance.wire.cbor import Map, encode_item

TX = "tx-submission2"
CLIENT_LIMIT = 10.0  # StTxIdsNonBlocking and StTxs: the client answers within 10 s (TX-TIME-01)
INIT_DELAY = 60.0
"""The node's inbound side may wait this long (`defaultTxSubmissionInitDelay`) before its first request."""
REQUESTS = ("MsgRequestTxIds", "MsgRequestTxs")
TRANSACTIONS = 12
"""More than the window of 10, so the window and its acknowledgements are exercised."""
MAX_REQUESTS = 200


def grace(limit: float) -> float:
    return limit + max(0.5, limit * 0.5)


def fresh_transactions(case: Case, count: int = TRANSACTIONS) -> list[bytes]:
    """`count` Conway GenTx no one has seen: an empty body whose fee is unique to this case and moment."""
    stamp = f"{case.name} {time.time_ns()}"
    txs = []
    for index in range(count):
        fee = int.from_bytes(hashlib.blake2b(f"{stamp} {index}".encode(), digest_size=6).digest(), "big")
        body = Map([(0, []), (1, []), (2, fee)])
        txs.append(wrap_gentx(6, encode_item([body, Map([]), True, None])))
    return txs


async def start(case: Case) -> tuple[Connection, TxSubmissionOutbound]:
    """A connection on which we sent MsgInit, with an outbound side holding fresh transactions."""
    connection = await case.connect()
    case.require(TX)
    outbound = TxSubmissionOutbound(Mempool(fresh_transactions(case)))
    for action in outbound.start():
        if isinstance(action, Send):
            await connection.send(TX, action.message)
    return connection, outbound


async def first_request(case: Case, connection: Connection) -> Message | None:
    """The server's first request, tolerating the node's initial delay; None (noted) when none comes."""
    wait = grace(case.limit(INIT_DELAY))
    try:
        return await connection.receive(TX, wait)
    except TimeoutError:
        case.note("TX-AGENCY-01", f"the server sent no request within {wait:g} s of MsgInit: nothing to judge")
        return None
    except ConnectionClosed as closed:
        if isinstance(closed.info.error, Violation):
            return None  # the violation that closed it is the finding
        case.fail("TX-AGENCY-01", f"the peer closed the connection after MsgInit ({closed.info.reason})")


async def serve_until_held(case: Case, connection: Connection, outbound: TxSubmissionOutbound) -> int | None:
    """Answer every request until the server's blocking request finds nothing new to announce (it is then
    held: no time limit), and return how many requests came; None when the server asked nothing."""
    request = await first_request(case, connection)
    count = 0
    while request is not None:
        count += 1
        if request.name not in REQUESTS:
            case.fail("TX-AGENCY-01", f"the server sent {request.name} in StIdle")
        for action in outbound.on_message(request):
            if isinstance(action, Send):
                await connection.send(TX, action.message)
            elif isinstance(action, Finish) and action.reason != "done":
                case.fail("TX-AGENCY-01", f"our outbound side refused {request.name} {request.fields}: {action.reason}")
        if outbound.held is not None or count >= MAX_REQUESTS:
            return count
        request = await case.expect(
            connection, TX, REQUESTS, within=grace(case.limit(INIT_DELAY)), requirement="TX-AGENCY-01"
        )
    return None


RULES = (
    "TX-ACK-01",
    "TX-WINDOW-01",
    "TX-REQ-01",
    "TX-REQ-02",
    "TX-BLOCK-01",
    "TX-BLOCK-02",
    "TX-BLOCK-03",
    "TX-REQTX-01",
    "TX-REQTX-02",
    "TX-AGENCY-01",
)


@pytest.mark.requirement(*RULES)
@pytest.mark.area("StIdle")
def test_the_server_requests_obey_the_window_ack_and_blocking_rules(case: Case) -> None:
    """Every request the server sends while it pulls our transactions obeys the rules our Session checks."""

    async def body() -> None:
        connection, outbound = await start(case)
        count = await serve_until_held(case, connection, outbound)
        if count is not None and outbound.sent_txs == 0:
            case.note("TX-REQTX-01", "the server asked for none of the transactions announced")

    case.run(body, timeout=CASE_TIMEOUT + grace(case.limit(INIT_DELAY)))


@pytest.mark.requirement("TX-DONE-01", "TX-AGENCY-01")
@pytest.mark.area("StTxIdsBlocking")
def test_done_in_place_of_a_blocking_reply_ends_the_protocol(case: Case) -> None:
    """With nothing left to announce, MsgDone answers the held blocking request; the server sends nothing
    more on tx-submission2 (the connection may stay open)."""

    async def body() -> None:
        connection, outbound = await start(case)
        if await serve_until_held(case, connection, outbound) is None or outbound.held is None:
            return
        for action in outbound.stop():
            if isinstance(action, Send):
                await connection.send(TX, action.message)
        try:
            extra = await connection.receive(TX, case.limit(1.0))
        except TimeoutError:
            return
        except ConnectionClosed as closed:
            if not isinstance(closed.info.error, Violation):
                case.note("TX-AGENCY-01", f"the peer closed the connection after MsgDone ({closed.info.reason})")
            return
        case.fail("TX-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body, timeout=CASE_TIMEOUT + grace(case.limit(INIT_DELAY)))


@pytest.mark.requirement("TX-TIME-01")
@pytest.mark.area("StTxIdsNonBlocking")
def test_the_server_disconnects_a_client_that_holds_a_timed_state_too_long(case: Case) -> None:
    """We answer until the server sends a request that starts a 10 s limit on us (non-blocking
    MsgRequestTxIds or MsgRequestTxs), then keep silent: the peer must close the connection."""

    async def body() -> None:
        wait = grace(case.limit(CLIENT_LIMIT))
        case.affordable(wait)
        connection, outbound = await start(case)
        request = await first_request(case, connection)
        while request is not None:
            timed = request.name == "MsgRequestTxs" or not request.fields.get("blocking")
            if timed:
                state = "StTxs" if request.name == "MsgRequestTxs" else "StTxIdsNonBlocking"
                await case.expect_close(
                    connection,
                    within=wait,
                    requirement="TX-TIME-01",
                    why=f"we held agency in {state} past its {case.limit(CLIENT_LIMIT):g} s limit",
                )
                return
            for action in outbound.on_message(request):
                if isinstance(action, Send):
                    await connection.send(TX, action.message)
            if outbound.held is not None:
                case.unsupported("the server never sent a request with a time limit on us")
            request = await case.expect(
                connection, TX, REQUESTS, within=grace(case.limit(INIT_DELAY)), requirement="TX-AGENCY-01"
            )

    case.run(body, timeout=CASE_TIMEOUT + 2 * grace(case.limit(INIT_DELAY)))
