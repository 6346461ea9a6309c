"""Hostile input, the tested peer as responder: bytes that are not a message of the state close the
connection, and the peer survives them (a known-good handshake on a new connection still succeeds).

Every hostile message starts as a real encoding (`codec(protocol).encode`) damaged once with
`conformance.wire.mutate`. The Haskell node decodes each message incrementally in the state it is in
(typed-protocols `runDecoderWithLimit`): a CBOR error, an unknown tag, a wrong array length or a message
of the other side is a `DeserialiseFailure`, which ends the connection without an answer; a message cut
short waits for its rest until the state's time limit passes.
"""

from __future__ import annotations

import pytest

from conformance.suite.case import Case
from conformance.wire import Message, codec
from conformance.wire import mutate as m
from conformance.wire.mux import INITIATOR, SDU

KA, CS, HS = "keep-alive", "chain-sync", "handshake"
KA_NUMBER, CS_NUMBER = codec(KA).number or 8, codec(CS).number or 2
KA_CLIENT_LIMIT = 97.0  # StClient: the server waits this long for our next message (KA-TIME-01)
CLOSE_WITHIN = 5.0
"""Seconds a peer gets to close after undecodable input: the node reacts at once."""
RESERVED = 0x9C  # major type 4 (array) with additional information 28: reserved, never valid CBOR


def keep_alive(cookie: int = 0x1234) -> bytes:
    return codec(KA).encode(Message(KA, "MsgKeepAlive", {"cookie": cookie}))


def grace(case: Case, seconds: float) -> float:
    limit = case.limit(seconds)
    return limit + max(0.5, limit * 0.5)


def sdu(protocol: int, payload: bytes) -> bytes:
    return SDU(0, INITIATOR, protocol, payload).encode()


HOSTILE_KEEP_ALIVE = {
    "reserved-cbor-head": m.flip(keep_alive(), 0, keep_alive()[0] ^ RESERVED),
    "trailing-break-byte": m.insert(keep_alive(), len(keep_alive()), 0xFF),
    "extra-array-element": m.insert(m.flip(keep_alive(), 0, 0x82 ^ 0x83), len(keep_alive()), 0x00),
    "unknown-tag-7": m.flip(keep_alive(), 1, 0x07),
    "cookie-over-word16": m.flip(keep_alive(), 2, 0x19 ^ 0x1A) + b"\x00\x00",
}
"""Damaged MsgKeepAlive bytes by what is wrong with them (the cookie 0x1234 is `19 12 34`)."""


@pytest.mark.requirement("KA-CODEC-01")
@pytest.mark.area("StClient")
@pytest.mark.parametrize("damage", sorted(HOSTILE_KEEP_ALIVE))
def test_a_damaged_keepalive_message_closes_the_connection(case: Case, damage: str) -> None:
    """The peer may answer the whole message before the trailing byte; it must close either way."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        await connection.send_sdu(sdu(KA_NUMBER, HOSTILE_KEEP_ALIVE[damage]))
        await case.expect_close(
            connection, within=CLOSE_WITHIN, requirement="KA-CODEC-01", why=f"a MsgKeepAlive with {damage}"
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("KA-RESP-01", "KA-AGENCY-01")
@pytest.mark.area("StClient")
def test_a_server_message_from_the_client_closes_the_connection(case: Case) -> None:
    """MsgKeepAliveResponse sent by the client in StClient: a tag the state does not decode."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        data = codec(KA).encode(Message(KA, "MsgKeepAliveResponse", {"cookie": 9}))
        await connection.send_sdu(sdu(KA_NUMBER, data))
        await case.expect_close(
            connection, within=CLOSE_WITHIN, requirement="KA-RESP-01", why="a MsgKeepAliveResponse from the client"
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("CS-CODEC-01")
@pytest.mark.area("StIdle")
@pytest.mark.parametrize("damage", ["break-byte-first", "extra-array-element", "unknown-tag-9"])
def test_a_damaged_chainsync_message_closes_the_connection(case: Case, damage: str) -> None:
    async def body() -> None:
        connection = await case.connect()
        case.require(CS)
        request = codec(CS).encode(Message(CS, "MsgRequestNext", {}))  # 81 00
        hostile = {
            "break-byte-first": m.insert(request, 0, 0xFF),
            "extra-array-element": m.insert(m.flip(request, 0, 0x81 ^ 0x82), len(request), 0x00),
            "unknown-tag-9": m.flip(request, 1, 0x09),
        }[damage]
        await connection.send_sdu(sdu(CS_NUMBER, hostile))
        await case.expect_close(
            connection, within=CLOSE_WITHIN, requirement="CS-CODEC-01", why=f"a MsgRequestNext with {damage}"
        )
        await case.probe()

    case.run(body)


@pytest.mark.requirement("HS-CODEC-01")
@pytest.mark.area("StPropose")
def test_an_undecodable_proposal_closes_the_connection(case: Case) -> None:
    """A MsgProposeVersions whose first byte is a reserved CBOR head: closed, with no MsgRefuse (the node
    refuses only proposals it could decode)."""

    async def body() -> None:
        connection = await case.connect(handshake=False)
        versions = {14: {"network_magic": case.target.magic, "initiator_only": True, "peer_sharing": 0, "query": False}}
        proposal = codec(HS).encode(Message(HS, "MsgProposeVersions", {"versions": versions}))
        await connection.send_sdu(sdu(0, m.flip(proposal, 0, proposal[0] ^ RESERVED)))
        await case.expect_close(
            connection, within=CLOSE_WITHIN, requirement="HS-CODEC-01", why="an undecodable MsgProposeVersions"
        )
        if connection.refusal is not None:
            case.note("HS-CODEC-01", f"the peer answered {connection.refusal.fields} before closing")
        await case.probe()

    case.run(body)


@pytest.mark.requirement("KA-CODEC-01")
@pytest.mark.area("StClient")
def test_the_peer_survives_a_truncated_message_and_our_close(case: Case) -> None:
    """Three bytes of a five-byte MsgKeepAlive, then we close: a new connection still negotiates."""

    async def body() -> None:
        connection = await case.connect()
        case.require(KA)
        await connection.send_sdu(sdu(KA_NUMBER, m.truncate(keep_alive(), 3)))
        await connection.close()
        await case.probe()

    case.run(body)


@pytest.mark.requirement("KA-TIME-01", "KA-CODEC-01")
@pytest.mark.area("StClient")
def test_a_truncated_message_then_silence_is_disconnected_at_the_time_limit(case: Case) -> None:
    """Three bytes of a MsgKeepAlive and nothing more: the peer waits for the rest no longer than the
    97 s StClient limit, then closes."""

    async def body() -> None:
        wait = grace(case, KA_CLIENT_LIMIT)
        case.affordable(wait)
        connection = await case.connect()
        case.require(KA)
        await connection.send_sdu(sdu(KA_NUMBER, m.truncate(keep_alive(), 3)))
        await case.expect_close(
            connection,
            within=wait,
            requirement="KA-TIME-01",
            why=f"a message left unfinished for {case.limit(KA_CLIENT_LIMIT):g} s in StClient",
        )
        await case.probe()

    case.run(body)
