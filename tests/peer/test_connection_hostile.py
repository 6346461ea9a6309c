"""Hostile delivery against the reference peer: every case ends in a typed error recorded on THAT
connection and a clean close of it alone, while a bystander connection on the same server is still served."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conformance.peer import handshake as hs
from conformance.peer.connection import Connection
from conformance.peer.defaults import default_behaviours
from conformance.peer.mux_io import SduTimeout
from conformance.peer.node import Server
from conformance.protocol import TimeLimitExceeded
from conformance.wire import Message, TruncatedInput, decode, encode
from conformance.wire.mux import HEADER_SIZE

from .connection_helpers import encode as enc
from .connection_helpers import keep_alive_round, node, run, scripted, sdu, server_side, until

pytestmark = pytest.mark.timeout(90)

KEEP_ALIVE = 8
CHAIN_SYNC = 2


def keep_alive_request(cookie: int) -> bytes:
    return enc("keep-alive", "MsgKeepAlive", cookie=cookie)


async def accepted_of(server: Server, client: Connection) -> Connection:
    """The server's end of `client` (matched by the client's local port)."""
    port = client.local[1]
    assert await until(lambda: any(c.remote[1] == port for c in server.connections))
    return next(c for c in server.connections if c.remote[1] == port)


async def keep_busy(bystander: Connection, watched: Connection, rounds: int = 200) -> None:
    """Keep-alive rounds on `bystander` (so its own time limit never runs out) until `watched` closes."""
    for cookie in range(rounds):
        if watched.is_closed:
            return
        await keep_alive_round(bystander, cookie)
        await asyncio.sleep(0.02)


async def closed_with(server: Server, client: Connection, requirement: str) -> None:
    """The server recorded `requirement` on this connection and closed it; the client saw the close."""
    accepted = await accepted_of(server, client)
    info = await accepted.wait_closed(5)
    assert info is not None and info.by == "local", accepted.transcript[-5:]
    assert [v.requirement for v in accepted.violations] == [requirement]
    assert info.error is accepted.violations[0]
    assert (await client.wait_closed(5)) is not None


def test_a_message_split_at_every_byte_across_sdus_and_across_tcp_writes() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await scripted(server, initiator_only=True)
            request = keep_alive_request(0x1234)
            for cut in range(1, len(request)):
                await client.send_sdu(sdu(KEEP_ALIVE, 0, request[:cut]))
                await client.send_sdu(sdu(KEEP_ALIVE, 0, request[cut:]))
                assert (await client.receive("keep-alive", 5)).fields["cookie"] == 0x1234
            whole = sdu(KEEP_ALIVE, 0, keep_alive_request(7))
            for cut in range(1, len(whole)):
                await client.send_sdu(whole[:cut])
                await asyncio.sleep(0.002)  # separate TCP segments
                await client.send_sdu(whole[cut:])
                assert (await client.receive("keep-alive", 5)).fields["cookie"] == 7
            for byte in whole:  # one byte per write
                await client.send_sdu(bytes([byte]))
            assert (await client.receive("keep-alive", 5)).fields["cookie"] == 7
            accepted = await accepted_of(server, client)
            assert accepted.violations == [] and not accepted.is_closed

    run(main())


def test_a_handshake_written_one_byte_at_a_time() -> None:
    async def main() -> None:
        async with await node() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            table = hs.version_table("node-to-node", (14, 15), magic=764824073)
            for byte in sdu(0, 0, encode(hs.proposal("node-to-node", table))):
                writer.write(bytes([byte]))
                await writer.drain()
            header = await reader.readexactly(HEADER_SIZE)
            payload = await reader.readexactly(int.from_bytes(header[6:8], "big"))
            reply = decode("handshake", payload, state="StConfirm")
            assert reply.name == "MsgAcceptVersion" and reply.fields["version"] == 15
            writer.close()
            accepted = await server_side(server)
            assert accepted.negotiated is not None and accepted.negotiated.version == 15

    run(main())


def test_several_messages_in_one_sdu() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await scripted(server, initiator_only=True)
            await client.send_sdu(sdu(CHAIN_SYNC, 0, enc("chain-sync", "MsgRequestNext") * 3))  # pipelined
            accepted = await accepted_of(server, client)
            replies = [(await client.receive("chain-sync", 5)).name for _ in range(3)]  # each answered, in order
            assert replies == ["MsgRollBackward", "MsgRollForward", "MsgRollForward"]
            assert accepted.violations == [] and client.violations == []
            done = enc("keep-alive", "MsgDone")
            await client.send_sdu(sdu(KEEP_ALIVE, 0, done + keep_alive_request(3)))
            await closed_with(server, client, "KA-AGENCY-01")  # nothing may follow MsgDone
            assert accepted.finished["keep-alive", "responder"] == "done"

    run(main())


@pytest.mark.parametrize(
    ("raw", "requirement"),
    [
        (sdu(KEEP_ALIVE, 0, b"\xff\xff\xff"), "KA-CODEC-01"),  # a stray break code
        (sdu(KEEP_ALIVE, 0, b"\x83\x00\x01\x02"), "KA-CODEC-01"),  # well-formed CBOR, not a message
        (bytes([8, 7, 6, 5, 4, 3, 0, 3]) + b"\x00" * 3, "MUX-PROTO-01"),  # garbage header: mini-protocol 1027
        (b"\x00\x00\x00\x00\x00\x08\x00\x00", "MUX-SDU-01"),  # zero-length SDU
        (sdu(1, 0, b"\x80"), "MUX-PROTO-01"),  # an unknown mini-protocol
        (sdu(10, 0, enc("peer-sharing", "MsgShareRequest", amount=1)), "PS-NEG-01"),  # not negotiated
        (sdu(KEEP_ALIVE, 1, keep_alive_request(3)), "MUX-MODE-01"),  # wrong mode bit, not duplex
        (sdu(0, 0, b"\x82\x00\xa0"), "MUX-PROTO-01"),  # a handshake after the handshake
    ],
    ids=[
        "break-code",
        "not-a-message",
        "garbage-header",
        "zero-length",
        "unknown-protocol",
        "peer-sharing-off",
        "wrong-mode",
        "late-handshake",
    ],
)
def test_garbage_closes_that_connection_only(raw: bytes, requirement: str) -> None:
    async def main() -> None:
        async with await node() as server:
            bystander = await scripted(server, initiator_only=True)
            await keep_alive_round(bystander, 1)
            client = await scripted(server, initiator_only=True)
            await client.send_sdu(raw)
            await closed_with(server, client, requirement)
            await keep_alive_round(bystander, 2)
            assert (await accepted_of(server, bystander)).violations == []

    run(main())


def test_a_truncated_sdu_then_close_is_a_typed_error() -> None:
    async def main() -> None:
        async with await node() as server:
            bystander = await scripted(server, initiator_only=True)
            client = await scripted(server, initiator_only=True)
            whole = sdu(KEEP_ALIVE, 0, keep_alive_request(9))
            await client.send_sdu(whole[:-2])
            await client.close()
            accepted = await accepted_of(server, client)
            info = await accepted.wait_closed(5)
            assert info is not None and info.by == "remote" and isinstance(info.error, TruncatedInput)
            await keep_alive_round(bystander, 3)

    run(main())


def test_a_truncated_message_then_close_is_a_typed_error() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await scripted(server, initiator_only=True)
            await client.send_sdu(sdu(KEEP_ALIVE, 0, keep_alive_request(0x1234)[:3]))
            await client.close()
            info = await (await accepted_of(server, client)).wait_closed(5)
            assert info is not None and isinstance(info.error, TruncatedInput)

    run(main())


def test_a_slow_sender_past_its_time_limit_is_closed() -> None:
    async def main() -> None:
        async with await node(time_scale=0.01) as server:  # keep-alive: 97 s for the client becomes 0.97 s
            bystander = await scripted(server, initiator_only=True)
            client = await scripted(server, initiator_only=True)
            accepted = await accepted_of(server, client)
            # its first data (on chain-sync) starts keep-alive's clock (StartOnDemandAny); it never asks
            await client.send("chain-sync", Message("chain-sync", "MsgFindIntersect", {"points": []}))
            await keep_busy(bystander, accepted)  # the bystander keeps sending in time
            info = await accepted.wait_closed(5)
            assert info is not None and info.by == "local"
            assert isinstance(info.error, TimeLimitExceeded) and info.error.requirement == "KA-TIME-01"
            assert [v.requirement for v in accepted.violations] == ["KA-TIME-01"]
            await keep_alive_round(bystander, 9)

    run(main())


def test_a_silent_initiator_is_closed_at_the_handshake_time_limit() -> None:
    async def main() -> None:
        async with await node(time_scale=0.01) as server:  # 10 s becomes 0.1 s
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            accepted = await server_side(server)
            info = await accepted.wait_closed(5)
            assert info is not None and [v.requirement for v in accepted.violations] == ["HS-TIME-01"]
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without a reply
            writer.close()

    run(main())


def test_a_proposal_that_does_not_decode_closes_without_a_refusal() -> None:
    async def main() -> None:
        async with await node() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(sdu(0, 0, b"\x82\x00\xa2\x0f\xf6\x0e\xf6"))  # known keys out of order
            accepted = await server_side(server)
            assert (await accepted.wait_closed(5)) is not None
            assert [v.requirement for v in accepted.violations] == ["HS-PROPOSE-01"]
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()

    run(main())


def test_a_hundred_concurrent_connections_some_hostile() -> None:
    async def main() -> None:
        async with await node() as server:
            clients = await asyncio.gather(*(scripted(server, initiator_only=True) for _ in range(100)))
            await asyncio.gather(*(keep_alive_round(c, i) for i, c in enumerate(clients)))
            hostile, good = clients[::10], [c for i, c in enumerate(clients) if i % 10]
            await asyncio.gather(*(c.send_sdu(sdu(1, 0, b"\x80")) for c in hostile))
            await asyncio.gather(*(closed_with(server, c, "MUX-PROTO-01") for c in hostile))
            await asyncio.gather(*(keep_alive_round(c, i) for i, c in enumerate(good)))
            assert len(server.connections) == 100 and len(server.open_connections) == 90
            for client in good:
                assert (await accepted_of(server, client)).violations == []
            await asyncio.gather(*(c.close() for c in good))

    run(main(), timeout=60)


def test_sdus_we_send_are_whole_and_at_most_12288_bytes() -> None:
    async def main() -> None:
        unanswered = {k: f for k, f in default_behaviours("node-to-node", "responder").items() if k[0] != "chain-sync"}
        async with await node(behaviours=unanswered) as server:  # the message stays in the server's inbox
            client = await scripted(server, initiator_only=True)
            big = Message(
                "chain-sync", "MsgFindIntersect", {"points": [{"slot": i, "hash": bytes(32)} for i in range(700)]}
            )
            await client.send("chain-sync", big)
            accepted = await accepted_of(server, client)
            assert await until(lambda: any(e.name == "MsgFindIntersect" for e in accepted.transcript))
            sizes = [
                len(e.data)
                for e in client.transcript
                if e.kind == "sdu" and e.protocol == "chain-sync" and e.direction == "sent"
            ]
            assert sum(sizes) == len(encode(big)) > 12_288 and max(sizes) == 12_288
            assert accepted.violations == [] and (await accepted.receive("chain-sync", 5)) == big

    run(main())


async def raw_handshake(server: Server, proposal: bytes) -> Message:
    """Send one proposal SDU on a raw socket; the decoded reply (the server closes after a refusal)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(sdu(0, 0, proposal))
    head = await reader.readexactly(HEADER_SIZE)
    reply = decode("handshake", await reader.readexactly(int.from_bytes(head[6:8], "big")), state="StConfirm")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    return reply


def test_undecodable_data_of_the_chosen_version_is_a_handshake_decode_error(tmp_path: Path) -> None:
    async def main() -> None:
        async with await node(transcript_dir=tmp_path) as server:
            # v16 with the four fields of v14/v15: its data does not decode (no perasSupport)
            reply = await raw_handshake(server, bytes.fromhex("8200a110841a2d964a09f400f4"))
            assert reply.name == "MsgRefuse" and reply.fields["reason"]["kind"] == "HandshakeDecodeError"
            assert reply.fields["reason"]["version"] == 16
            accepted = await server_side(server)
            assert "HS-VDATA-01" in [v.requirement for v in accepted.violations]
            assert await accepted.wait_closed(5) is not None

    run(main())
    # the finding is in the transcript too, not only in the summary (a user greps the JSON lines for it)
    (path,) = tmp_path.glob("*.jsonl")
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert any(e["kind"] == "event" and "HS-VDATA-01" in json.dumps(e) for e in events if "violation" in json.dumps(e))


def test_unknown_version_keys_are_skipped() -> None:
    async def main() -> None:
        async with await node() as server:
            # v15 and an unknown v99 with any data: v15 is accepted
            reply = await raw_handshake_open(server, bytes.fromhex("8200a20f841a2d964a09f500f41863f6"))
            assert reply.name == "MsgAcceptVersion" and reply.fields["version"] == 15
            assert reply.fields["version_data"]["initiator_only"] is True

    run(main())


async def raw_handshake_open(server: Server, proposal: bytes) -> Message:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(sdu(0, 0, proposal))
    head = await reader.readexactly(HEADER_SIZE)
    reply = decode("handshake", await reader.readexactly(int.from_bytes(head[6:8], "big")), state="StConfirm")
    writer.close()
    return reply


def test_an_sdu_left_unfinished_past_the_sdu_timeout_closes_the_connection() -> None:
    async def main() -> None:
        async with await node(time_scale=0.01) as server:  # 30 s becomes 0.3 s; keep-alive 97 s becomes 0.97 s
            bystander = await scripted(server)
            client = await scripted(server)
            await client.send_sdu(sdu(KEEP_ALIVE, 0, keep_alive_request(0x1234))[:6])
            accepted = await accepted_of(server, client)
            await keep_busy(bystander, accepted)
            info = await accepted.wait_closed(5)
            assert info is not None and isinstance(info.error, SduTimeout) and info.by == "local"
            assert accepted.violations == []
            await keep_alive_round(bystander, 5)

    run(main())
