"""Keep-alive, the tested peer as initiator (the client): it asks with word16 cookies, takes our echo, and
asks again within 97 s (the node's server limit in StClient; the node's client asks every 10 s). Our
Session judges each message as it comes and closes the connection when StClient's limit passes. The first
97 s count as the node counts them: its keep-alive server starts at the first data the initiator sends on
any mini-protocol (StartOnDemandAny), not at the handshake."""

from __future__ import annotations

import pytest

from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import Message

from .serving import active, closed_by_initiator, grace, node_side, patience, quiet, until

pytestmark = pytest.mark.role("initiator")
KA = "keep-alive"
CLIENT_LIMIT = 97.0  # StClient: the client sends within 97 s (KA-TIME-01)


async def _answer(case: Case, connection: Connection, within: float, requirement: str) -> int:
    request = await case.expect(connection, KA, "MsgKeepAlive", within=within, requirement=requirement)
    cookie = int(request.fields["cookie"])
    await connection.send(KA, Message(KA, "MsgKeepAliveResponse", {"cookie": cookie}))
    return cookie


@pytest.mark.requirement("KA-COOKIE-02", "KA-AGENCY-01", "KA-MSG-01", "KA-CODEC-01")
@pytest.mark.area("StClient")
def test_client_takes_the_echo_of_its_cookie(case: Case) -> None:
    """The first MsgKeepAlive (a word16 cookie) gets its echo; the client takes it and stays (a client
    that closes on a correct echo compares cookies wrongly)."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side(without=(KA,)))
        case.require(KA)
        try:
            request = await connection.receive(KA, patience(case))
        except TimeoutError:
            case.note("KA-AGENCY-01", f"the initiator sent no MsgKeepAlive within {patience(case):g} s")
            return
        if request.name != "MsgKeepAlive":
            return  # MsgDone at once: allowed, and anything after it is judged
        await connection.send(KA, Message(KA, "MsgKeepAliveResponse", {"cookie": request.fields["cookie"]}))
        info = await connection.wait_closed(quiet(case))
        case.check(
            "KA-COOKIE-02",
            info is None or not closed_by_initiator(connection),
            f"the initiator closed the connection after our echo of its cookie {request.fields['cookie']}",
        )

    case.run(body)


@pytest.mark.requirement("KA-TIME-01", "KA-COOKIE-02", "KA-AGENCY-01", "KA-MSG-01")
@pytest.mark.area("StClient")
def test_client_keeps_asking_within_97_s(case: Case) -> None:
    """The first MsgKeepAlive within 97 s (scaled) of the initiator's first data, then after each answer
    the next within 97 s: three rounds are timed."""

    async def body() -> None:
        limit = case.limit(CLIENT_LIMIT)
        within = limit + grace(case.limit(1.0))
        case.affordable(within * 3)
        connection = await case.accept(behaviours=node_side(without=(KA,)))
        case.require(KA)
        if not await until(lambda: connection.started(KA) or not active(connection), patience(case)):
            silent = f"the initiator sent no data within {patience(case):g} s: StClient's limit never began"
            case.note("KA-TIME-01", silent)
            return
        for _ in range(3):
            await _answer(case, connection, within, "KA-TIME-01")

    case.run(body)
