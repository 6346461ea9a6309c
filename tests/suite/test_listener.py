"""The initiator-role listener and `Case.accept` over real TCP: a socket the tested initiator abandoned while it
waited for a case (it proposed, its handshake limit passed, it closed) is skipped, and the initiator's next
connection is the case's; a socket the initiator closes on our answer, or keeps, is the case's to judge.

Found in CI: on a loaded machine the first case started after the reference initiator's handshake limit (0.5 s
at --time-scale 0.05) had passed, adopted the socket it had given up on, and failed every requirement it named.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import wire
from conformance.peer import handshake as hs
from conformance.peer.connection import Connection
from conformance.peer.node import MAINNET_MAGIC, PeerConfig, connect
from conformance.suite.case import Case, Target
from conformance.suite.listener import Listener
from conformance.suite.loop import SuiteLoop
from conformance.wire.mux import SDU

pytestmark = pytest.mark.timeout(60)
SCALE = 0.05  # the initiator's handshake limit is 0.5 s, our stale mark 0.25 s
PAST_THE_LIMIT = 0.7


def proposal() -> bytes:
    table = hs.version_table(hs.N2N, hs.N2N_DEFAULT_VERSIONS, magic=MAINNET_MAGIC, initiator_only=True)
    return SDU(0, 0, 0, wire.encode(hs.proposal(hs.N2N, table))).encode()


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[tuple[SuiteLoop, Listener, Case]]:
    loop = SuiteLoop()
    listener = Listener("127.0.0.1", 0)
    loop.run(listener.start(), 10)
    target = Target(role="initiator", time_scale=SCALE)
    case = Case("test_listener", ("HS-NEG-01",), target, loop, tmp_path, listener)
    try:
        yield loop, listener, case
    finally:
        loop.run(listener.close(), 10)
        loop.close()


def raw_proposal(port: int, *, close: bool) -> socket.socket:
    """A socket that proposes at once and (with `close`) gives up before any answer can come."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(proposal())
    if close:
        sock.close()
    return sock


def live_initiator() -> PeerConfig:
    return PeerConfig(initiator_only=True, time_scale=SCALE, behaviours={})


def test_a_socket_given_up_while_it_waited_is_skipped_for_the_next_connection(
    suite: tuple[SuiteLoop, Listener, Case],
) -> None:
    loop, listener, case = suite
    raw_proposal(listener.port, close=True)
    asyncio.run(asyncio.sleep(PAST_THE_LIMIT))  # the case comes late: the initiator gave up and reconnects

    async def both() -> tuple[Connection, Connection]:
        ours = asyncio.ensure_future(case.accept())
        await asyncio.sleep(0.3)  # the abandoned socket is taken, answered and seen closed first
        theirs = await connect("127.0.0.1", listener.port, live_initiator())
        return await ours, theirs

    accepted, initiator = loop.run(both(), 20)
    assert accepted.negotiated is not None and not accepted.closed.done()
    assert initiator.negotiated is not None and not initiator.closed.done()
    assert case.connections == [accepted]  # the abandoned socket is no evidence against the initiator
    assert listener.accepted == 2

    async def close_both() -> None:
        await asyncio.gather(accepted.close(), initiator.close())

    loop.run(close_both(), 10)


def test_a_stale_socket_the_initiator_keeps_is_the_cases(suite: tuple[SuiteLoop, Listener, Case]) -> None:
    loop, listener, case = suite
    sock = raw_proposal(listener.port, close=False)
    try:
        asyncio.run(asyncio.sleep(PAST_THE_LIMIT))
        accepted = loop.run(case.accept(), 20)
        assert accepted.negotiated is not None and not accepted.closed.done()
        assert listener.accepted == 1
        loop.run(accepted.close(), 10)
    finally:
        sock.close()


def test_a_fresh_socket_closed_on_our_answer_is_the_cases_to_judge(suite: tuple[SuiteLoop, Listener, Case]) -> None:
    """Closing right after our accept is the initiator's own doing (it had no time limit to plead): the case
    gets that connection, closed by the remote, and judges it."""
    loop, listener, case = suite

    async def closes_on_the_answer() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(proposal())
        await reader.read(1 << 16)  # our MsgAcceptVersion
        writer.close()

    async def both() -> Connection:
        ours = asyncio.ensure_future(case.accept())
        await closes_on_the_answer()
        return await ours

    accepted = loop.run(both(), 20)
    assert accepted.negotiated is not None
    info = loop.run(accepted.wait_closed(5), 10)
    assert info is not None and info.by == "remote"
    assert case.connections == [accepted]
