"""Peer-sharing, the tested peer as initiator (the client): it runs only where both sides negotiated
peerSharing = 1 (PS-NEG-01: an SDU on mini-protocol 10 otherwise is judged by our mux checker), asks for
a word8 amount of peers (PS-AMOUNT-02) and takes an answer of at most that many, in both address families."""

from __future__ import annotations

import pytest

from conformance.suite.case import Case
from conformance.wire import Message

from .serving import MINI_PROTOCOLS, SHARED_PEERS, count, node_side, patience, quiet, settle, until

pytestmark = pytest.mark.role("initiator")
PS = "peer-sharing"
ROUNDS = 3  # requests answered before the case ends


@pytest.mark.requirement("PS-AMOUNT-02", "PS-AGENCY-01", "PS-MSG-01", "PS-CODEC-01", "PS-NEG-01")
@pytest.mark.area("StIdle")
def test_client_asks_for_a_word8_amount(case: Case) -> None:
    """With peer sharing negotiated, each MsgShareRequest is answered with min(amount, 2) addresses (an
    IPv4 and an IPv6 one); the client may ask again or send MsgDone."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side(without=(PS,)), peer_sharing=1)
        case.require(PS)
        negotiated = connection.negotiated.version_data if connection.negotiated else {}
        if negotiated.get("peer_sharing") != 1:
            case.unsupported("the initiator did not offer peer sharing (peerSharing 0 in its proposal)")
        for _ in range(ROUNDS):
            try:
                request = await connection.receive(PS, patience(case))
            except TimeoutError:
                case.note("PS-AGENCY-01", f"the initiator asked for no peers within {patience(case):g} s")
                return
            if request.name != "MsgShareRequest":
                return  # MsgDone: the protocol ends; anything after it is judged
            amount = int(request.fields["amount"])
            peers = list(SHARED_PEERS[: min(amount, len(SHARED_PEERS))])
            await connection.send(PS, Message(PS, "MsgSharePeers", {"peers": peers}))

    case.run(body)


@pytest.mark.requirement("PS-NEG-01")
@pytest.mark.area("mux")
def test_no_peer_sharing_unless_negotiated(case: Case) -> None:
    """We negotiate peerSharing = 0: mini-protocol 10 does not exist on this connection, whatever the
    initiator proposed; it must send nothing on it while it runs its other protocols."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side(), peer_sharing=0)
        if not await until(lambda: any(count(connection, p) for p in MINI_PROTOCOLS), patience(case)):
            case.note("PS-NEG-01", f"the initiator ran no mini-protocol within {patience(case):g} s")
            return
        total = lambda: sum(count(connection, p) for p in MINI_PROTOCOLS)  # noqa: E731
        await settle(total, quiet=quiet(case), within=patience(case))

    case.run(body)
