"""Keep-alive, the tested peer as responder: cookies echoed, several rounds, answers in time."""

from __future__ import annotations

import pytest

from conformance.suite.case import Case
from conformance.wire import Message

KA = "keep-alive"
SERVER_LIMIT = 60.0  # StServer: the server answers within 60 s (KA-TIME-01)


def keep_alive(cookie: int) -> Message:
    return Message(KA, "MsgKeepAlive", {"cookie": cookie})


@pytest.mark.requirement("KA-COOKIE-01", "KA-RESP-01", "KA-TIME-01")
@pytest.mark.area("StServer")
def test_cookie_is_echoed(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        await connection.send(KA, keep_alive(0x2A))
        reply = await case.expect(
            connection, KA, "MsgKeepAliveResponse", within=case.limit(SERVER_LIMIT), requirement="KA-TIME-01"
        )
        case.check("KA-COOKIE-01", reply.fields["cookie"] == 0x2A, f"cookie {reply.fields['cookie']} echoed for 42")

    case.run(body)


@pytest.mark.requirement("KA-COOKIE-01", "KA-RESP-01", "KA-TIME-01")
@pytest.mark.area("StServer")
@pytest.mark.parametrize("cookies", [(0, 1, 0xFFFF), tuple(range(100, 110))], ids=["edges", "ten-rounds"])
def test_several_cookies_in_turn(case: Case, cookies: tuple[int, ...]) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        for cookie in cookies:
            await connection.send(KA, keep_alive(cookie))
            reply = await case.expect(
                connection, KA, "MsgKeepAliveResponse", within=case.limit(SERVER_LIMIT), requirement="KA-TIME-01"
            )
            case.check(
                "KA-COOKIE-01", reply.fields["cookie"] == cookie, f"cookie {reply.fields['cookie']} echoed for {cookie}"
            )

    case.run(body)


@pytest.mark.requirement("KA-AGENCY-01")
@pytest.mark.area("StDone")
def test_done_ends_the_protocol(case: Case) -> None:
    """After MsgDone the server sends nothing more on keep-alive; the connection may stay open."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        await connection.send(KA, keep_alive(7))
        await case.expect(
            connection, KA, "MsgKeepAliveResponse", within=case.limit(SERVER_LIMIT), requirement="KA-TIME-01"
        )
        await connection.send(KA, Message(KA, "MsgDone", {}))
        try:
            extra = await connection.receive(KA, case.limit(1.0))
        except TimeoutError:
            return
        case.fail("KA-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)
