"""The multiplexer, the tested peer as responder: SDU splits and coalescing are read as one byte stream,
SDUs the negotiated bundle does not run close the connection, and the peer enforces a state's byte and
time limits on us.

What the Haskell node does (network-mux `Network.Mux.Ingress.demuxer`, `Network.Mux.Codec.decodeSDU`,
`Ouroboros.Network.Driver.Limits`): an SDU for a mini-protocol number it does not run throws
`UnknownMiniProtocol`, a zero-length SDU `SDUDecodeError "short SDU"`, an SDU that overfills the ingress
queue `IngressQueueOverRun`, a message over its state's byte limit `ExceededSizeLimit`, a silent peer past
the state's time limit `ExceededTimeLimit`: each tears the connection down. An SDU whose mode bit names a
direction the node does not run throws `InitiatorOnly`; but a relay's inbound mux runs both directions of
every protocol, so there such an SDU only waits in the queue of the node's not-yet-started initiator:
the case for the mode bit accepts a close or silence, and fails only when the peer treats the SDU as a
message to its responder.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import Message, codec
from conformance.wire.mux import INITIATOR, RESPONDER, SDU, segment

KA, CS = "keep-alive", "chain-sync"
KA_NUMBER, CS_NUMBER = codec(KA).number or 8, codec(CS).number or 2
KA_SERVER_LIMIT = 60.0  # StServer (KA-TIME-01)
KA_CLIENT_LIMIT = 97.0  # StClient: how long the server waits for our next MsgKeepAlive (KA-TIME-01)
CS_SERVER_LIMIT = 10.0  # StIntersect and StCanAwait (CS-TIME-01)
HS_LIMIT = 10.0  # StPropose: how long the responder waits for our proposal (HS-TIME-01)
CLOSE_WITHIN = 5.0
"""Seconds a peer gets to close after a mux error: the node reacts at once (no protocol limit applies)."""
KA_INGRESS = 1_408  # the node's keep-alive ingress queue (1.1 x 1280 bytes)
SMALL_BYTE_LIMIT = 65_535  # chain-sync StIdle (CS-BYTES-01)


def grace(case: Case, seconds: float) -> float:
    """A scaled protocol limit and a margin for scheduling on a loaded machine."""
    limit = case.limit(seconds)
    return limit + max(0.5, limit * 0.5)


def keep_alive(cookie: int) -> bytes:
    return codec(KA).encode(Message(KA, "MsgKeepAlive", {"cookie": cookie}))


def find_intersect(points: list[object]) -> bytes:
    return codec(CS).encode(Message(CS, "MsgFindIntersect", {"points": points}))


def request_next() -> bytes:
    return codec(CS).encode(Message(CS, "MsgRequestNext", {}))


def sdu(protocol: int, payload: bytes, mode: int = INITIATOR) -> bytes:
    return SDU(0, mode, protocol, payload).encode()


def far_points(count: int) -> list[object]:
    """`count` points no chain has (slots far in the future, made-up hashes)."""
    return [{"slot": 2**62 + i, "hash": i.to_bytes(32, "big")} for i in range(count)]


async def echoed(case: Case, connection: Connection, cookie: int) -> None:
    reply = await case.expect(
        connection, KA, "MsgKeepAliveResponse", within=case.limit(KA_SERVER_LIMIT), requirement="KA-TIME-01"
    )
    case.check("KA-COOKIE-01", reply.fields["cookie"] == cookie, f"cookie {reply.fields['cookie']} for {cookie}")


# -- splits and coalescing: the peer reads each direction of a protocol as one byte stream -----------------


@pytest.mark.requirement("KA-COOKIE-01", "KA-TIME-01")
@pytest.mark.area("SDU splits")
@pytest.mark.parametrize("size", [1, 2, 3], ids=lambda n: f"{n}-byte-sdus")
def test_a_message_split_over_small_sdus_is_answered(case: Case, size: int) -> None:
    """MsgKeepAlive cut into SDUs of `size` bytes, each written on its own: the peer answers it."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        for part in segment(keep_alive(0xBEEF), protocol=KA_NUMBER, mode=INITIATOR, max_payload=size):
            await connection.send_sdu(part.encode())
        await echoed(case, connection, 0xBEEF)

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-TIME-01")
@pytest.mark.area("SDU splits")
def test_a_message_split_over_sdus_in_one_write_is_answered(case: Case) -> None:
    """A 3-point MsgFindIntersect in 7-byte SDUs, all in one socket write: the peer answers it."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        parts = segment(find_intersect([*far_points(2), None]), protocol=CS_NUMBER, mode=INITIATOR, max_payload=7)
        await connection.send_sdu(b"".join(part.encode() for part in parts))
        await case.expect(
            connection,
            CS,
            ("MsgIntersectFound", "MsgIntersectNotFound"),
            within=grace(case, CS_SERVER_LIMIT),
            requirement="CS-TIME-01",
        )

    case.run(body)


@pytest.mark.requirement("CS-INTERSECT-01", "CS-INTERSECT-02", "CS-PIPE-01", "CS-TIME-01")
@pytest.mark.area("SDU coalescing")
def test_several_messages_in_one_sdu_are_each_answered(case: Case) -> None:
    """MsgFindIntersect at origin and two pipelined MsgRequestNext in one SDU: three answers, in order."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        await connection.send_sdu(sdu(CS_NUMBER, find_intersect([None]) + request_next() + request_next()))
        within = grace(case, CS_SERVER_LIMIT)
        found = await case.expect(connection, CS, "MsgIntersectFound", within=within, requirement="CS-INTERSECT-01")
        case.check("CS-INTERSECT-01", found.fields["point"] is None, f"found {found.fields['point']}")
        back = await case.expect(connection, CS, "MsgRollBackward", within=within, requirement="CS-INTERSECT-02")
        case.check("CS-INTERSECT-02", back.fields["point"] is None, f"rolled back to {back.fields['point']}")
        await case.expect(connection, CS, ("MsgRollForward", "MsgAwaitReply"), within=within, requirement="CS-TIME-01")

    case.run(body)


@pytest.mark.requirement("KA-COOKIE-01", "CS-INTERSECT-01")
@pytest.mark.area("SDU coalescing")
def test_sdus_of_two_protocols_in_one_write_are_both_answered(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        case.require(CS)
        await connection.send_sdu(sdu(KA_NUMBER, keep_alive(77)) + sdu(CS_NUMBER, find_intersect([None])))
        await echoed(case, connection, 77)
        await case.expect(
            connection, CS, "MsgIntersectFound", within=grace(case, CS_SERVER_LIMIT), requirement="CS-INTERSECT-01"
        )

    case.run(body)


@pytest.mark.requirement("MUX-SDU-02", "CS-TIME-01")
@pytest.mark.area("SDU size")
def test_an_sdu_larger_than_the_node_sends_is_accepted(case: Case) -> None:
    """The node sends at most 12288 payload bytes per SDU but reads up to 65535: a 60 kB MsgFindIntersect
    in one SDU is answered."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        payload = find_intersect([*far_points(1_400), None])
        await connection.send_sdu(sdu(CS_NUMBER, payload))
        await case.expect(
            connection, CS, "MsgIntersectFound", within=grace(case, CS_SERVER_LIMIT), requirement="CS-TIME-01"
        )

    case.run(body)


# -- SDUs the connection does not run -----------------------------------------------------------------------


@pytest.mark.requirement("MUX-PROTO-01")
@pytest.mark.area("mini-protocol numbers")
@pytest.mark.parametrize(
    "number", [0, 1, 11, 0x7FFF], ids=["number-0-after-negotiation", "reserved-1", "unassigned-11", "highest"]
)
def test_an_sdu_of_a_mini_protocol_not_running_closes_the_connection(case: Case, number: int) -> None:
    async def body() -> None:
        connection = await case.connect()
        await connection.send_sdu(sdu(number, keep_alive(1)))
        await case.expect_close(
            connection,
            within=CLOSE_WITHIN,
            requirement="MUX-PROTO-01",
            why=f"an SDU of mini-protocol {number}, which the connection does not run",
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("MUX-MODE-01")
@pytest.mark.area("mode bit")
def test_an_sdu_with_the_responder_mode_bit_never_reaches_the_responder(case: Case) -> None:
    """MsgKeepAlive from us (the initiator) marked as sent by a responder: the node closes (InitiatorOnly)
    or leaves it queued for its own initiator; answering it as a request to its responder is the fault."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        await connection.send_sdu(sdu(KA_NUMBER, keep_alive(5), mode=RESPONDER))
        info = await connection.wait_closed(CLOSE_WITHIN)
        if info is not None and getattr(info.error, "requirement", None) in ("KA-AGENCY-01", "KA-RESP-01"):
            case.fail("MUX-MODE-01", "the peer answered an SDU marked as sent by a responder as a request")
        if info is None:
            case.note("MUX-MODE-01", "the peer kept the connection open and ignored the SDU (as a relay node does)")
            await connection.send(KA, Message(KA, "MsgKeepAlive", {"cookie": 6}))
            await echoed(case, connection, 6)

    case.run(body)


@pytest.mark.requirement("MUX-SDU-01")
@pytest.mark.area("SDU size")
def test_a_zero_length_sdu_closes_the_connection(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect()
        await connection.send_sdu(sdu(KA_NUMBER, b""))
        await case.expect_close(
            connection, within=CLOSE_WITHIN, requirement="MUX-SDU-01", why="an SDU with no payload (short SDU)"
        )
        await case.probe()

    case.run(body)


# -- limits the peer enforces on us -------------------------------------------------------------------------


@pytest.mark.requirement("MUX-INGRESS-01")
@pytest.mark.area("ingress queue")
def test_an_sdu_overfilling_the_keepalive_ingress_queue_closes_the_connection(case: Case) -> None:
    """400 MsgKeepAlive (2000 bytes) in one SDU: more than the node's 1408-byte keep-alive queue holds."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        payload = b"".join(keep_alive(i) for i in range(400))
        await connection.send_sdu(sdu(KA_NUMBER, payload))
        await case.expect_close(
            connection,
            within=CLOSE_WITHIN,
            requirement="MUX-INGRESS-01",
            why=f"{len(payload)} bytes for keep-alive in one SDU (the node's queue holds {KA_INGRESS})",
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("CS-BYTES-01")
@pytest.mark.area("StIdle")
def test_a_chainsync_message_over_the_byte_limit_closes_the_connection(case: Case) -> None:
    """A 70 kB MsgFindIntersect in StIdle, whose limit is 65535 bytes (ExceededSizeLimit)."""

    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        payload = find_intersect(far_points(1_700))
        parts = segment(payload, protocol=CS_NUMBER, mode=INITIATOR)
        await connection.send_sdu(b"".join(part.encode() for part in parts))
        await case.expect_close(
            connection,
            within=CLOSE_WITHIN,
            requirement="CS-BYTES-01",
            why=f"a {len(payload)}-byte message in StIdle (limit {SMALL_BYTE_LIMIT})",
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("KA-TIME-01")
@pytest.mark.area("StClient")
def test_a_silent_keepalive_client_is_disconnected(case: Case) -> None:
    """After one round we keep agency in StClient past its 97 s limit: the peer closes (ExceededTimeLimit)."""

    async def body() -> None:
        wait = grace(case, KA_CLIENT_LIMIT)
        case.affordable(wait)
        connection = await case.connect()
        case.require(KA)
        await connection.send(KA, Message(KA, "MsgKeepAlive", {"cookie": 3}))
        await echoed(case, connection, 3)
        await case.expect_close(
            connection,
            within=wait,
            requirement="KA-TIME-01",
            why=f"{case.limit(KA_CLIENT_LIMIT):g} s of silence in StClient",
        )

    case.run(body)


@pytest.mark.requirement("HS-TIME-01")
@pytest.mark.area("StPropose")
def test_a_silent_initiator_is_disconnected_before_negotiation(case: Case) -> None:
    """We connect and propose nothing: the peer closes when StPropose's 10 s limit passes."""

    async def body() -> None:
        wait = grace(case, HS_LIMIT)
        case.affordable(wait)
        connection = await case.connect(handshake=False)
        await case.expect_close(
            connection, within=wait, requirement="HS-TIME-01", why=f"{case.limit(HS_LIMIT):g} s without a proposal"
        )
        await case.probe()

    case.run(body)


# -- byte limits of other protocols: a message that never ends within the state's limit ---------------------

BYTE_LIMITS = [
    # (protocol, state we hold agency in, its limit, requirement, connect options)
    ("block-fetch", "BFIdle", 65_535, "BF-BYTES-01", {}),
    ("tx-submission2", "StInit", 65_535, "TX-BYTES-01", {}),
    ("peer-sharing", "StIdle", 5_760, "PS-BYTES-01", {"peer_sharing": 1}),
]
# keep-alive has none here: its ingress queue (1,408 bytes) overflows long before its 65,535-byte limit.


@pytest.mark.area("byte limits")
@pytest.mark.parametrize(
    ("protocol", "state", "limit", "requirement", "options"),
    [pytest.param(*row, id=row[0], marks=pytest.mark.requirement(row[3])) for row in BYTE_LIMITS],
)
def test_a_message_longer_than_the_states_byte_limit_closes_the_connection(
    case: Case, protocol: str, state: str, limit: int, requirement: str, options: dict[str, Any]
) -> None:
    """An indefinite-length array that is still open after `limit` bytes, where we hold agency: the node's
    decoder gives up at the limit (ExceededSizeLimit) and closes the connection."""

    async def body() -> None:
        connection = await case.connect(**options)
        case.require(protocol)
        negotiated = connection.negotiated
        if protocol == "peer-sharing" and (negotiated is None or negotiated.version_data.get("peer_sharing") != 1):
            case.unsupported("peer sharing was not negotiated")
        number = codec(protocol).number
        assert number is not None
        payload = b"\x9f" + b"\x00" * (limit + 64)  # no break: the message never completes
        parts = segment(payload, protocol=number, mode=INITIATOR)
        await connection.send_sdu(b"".join(part.encode() for part in parts))
        await case.expect_close(
            connection,
            within=CLOSE_WITHIN,
            requirement=requirement,
            why=f"{len(payload)} bytes of an unfinished {protocol} message in {state} (limit {limit})",
        )
        await case.probe()

    case.run(body)
