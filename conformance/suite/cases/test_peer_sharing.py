"""Peer-sharing, the tested peer as responder (node-to-node 10, only where peerSharing = 1 is negotiated).

The node answers MsgShareRequest with at most min(amount, 10) addresses, possibly none, within the 60 s
StBusy limit; our Session checks the count (PS-AMOUNT-01) and every address (PS-ADDR-01). On a connection
whose negotiated peerSharing is 0 the node does not register mini-protocol 10 at all, so an SDU for it is
`UnknownMiniProtocol` and closes the connection (PS-NEG-01).
"""

from __future__ import annotations

import pytest

from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import Message, codec
from conformance.wire.mux import INITIATOR, SDU

PS = "peer-sharing"
PS_NUMBER = codec(PS).number or 10
BUSY_LIMIT = 60.0  # StBusy (PS-TIME-01)
CLOSE_WITHIN = 5.0
"""Seconds a peer gets to close after an SDU of a protocol it does not run: the node reacts at once."""


def share_request(amount: int) -> Message:
    return Message(PS, "MsgShareRequest", {"amount": amount})


async def sharing(case: Case) -> Connection:
    """A connection that proposes peerSharing = 1; unsupported when the peer does not agree to it."""
    connection = await case.connect(peer_sharing=1)
    case.require(PS)
    negotiated = connection.negotiated
    if negotiated is None or negotiated.version_data.get("peer_sharing") != 1:
        case.unsupported("the peer does not negotiate peerSharing = 1")
    return connection


async def shared(case: Case, connection: Connection, amount: int) -> list[object]:
    await connection.send(PS, share_request(amount))
    reply = await case.expect(connection, PS, "MsgSharePeers", within=case.limit(BUSY_LIMIT), requirement="PS-TIME-01")
    return list(reply.fields["peers"])


@pytest.mark.requirement("PS-AMOUNT-01", "PS-ADDR-01", "PS-TIME-01")
@pytest.mark.area("StBusy")
@pytest.mark.parametrize("amount", [0, 1, 255])
def test_share_request_is_answered_with_at_most_the_amount(case: Case, amount: int) -> None:
    async def body() -> None:
        connection = await sharing(case)
        peers = await shared(case, connection, amount)
        if amount == 255 and len(peers) > 10:
            case.note("PS-AMOUNT-01", f"{len(peers)} peers shared; the node shares at most 10")

    case.run(body)


@pytest.mark.requirement("PS-AMOUNT-01", "PS-AGENCY-01", "PS-TIME-01")
@pytest.mark.area("StDone")
def test_several_requests_then_done(case: Case) -> None:
    """Three requests in turn, then MsgDone: the server sends nothing more on peer-sharing."""

    async def body() -> None:
        connection = await sharing(case)
        for amount in (2, 10, 3):
            await shared(case, connection, amount)
        await connection.send(PS, Message(PS, "MsgDone", {}))
        try:
            extra = await connection.receive(PS, case.limit(1.0))
        except TimeoutError:
            return
        case.fail("PS-AGENCY-01", f"the server sent {extra.name} after MsgDone")

    case.run(body)


@pytest.mark.requirement("PS-NEG-01", "MUX-PROTO-01")
@pytest.mark.area("negotiation")
def test_peer_sharing_on_a_connection_without_it_closes_the_connection(case: Case) -> None:
    """We negotiate peerSharing = 0 and send MsgShareRequest on mini-protocol 10 anyway."""

    async def body() -> None:
        connection = await case.connect(peer_sharing=0)
        payload = codec(PS).encode(share_request(1))
        await connection.send_sdu(SDU(0, INITIATOR, PS_NUMBER, payload).encode())
        await case.expect_close(
            connection,
            within=CLOSE_WITHIN,
            requirement="PS-NEG-01",
            why="an SDU of mini-protocol 10 on a connection that negotiated peerSharing = 0",
        )
        await case.probe()

    case.run(body)
