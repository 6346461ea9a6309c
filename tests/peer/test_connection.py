"""The reference peer against itself over real loopback sockets: handshake in every version and both
modes, refusals, query, keep-alive, peer-sharing, duplex, scripted send/receive and our own checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conformance.peer import keep_alive, peer_sharing
from conformance.peer.connection import ConnectionClosed, OwnViolation
from conformance.peer.keep_alive import KeepAliveClient, KeepAliveServer
from conformance.peer.node import PeerConfig, connect, connect_unix, serve_unix
from conformance.peer.peer_sharing import PeerSharingClient
from conformance.wire import Message

from .connection_helpers import fast_keep_alive, keep_alive_round, node, run, scripted, server_side, until

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("version", [14, 15, 16])
def test_n2n_handshake_in_every_version(version: int) -> None:
    async def main() -> None:
        async with await node() as server:
            client = await scripted(server, versions=(version,))
            accepted = await server_side(server)
            assert client.negotiated is not None and client.negotiated.version == version
            assert accepted.negotiated == client.negotiated
            assert set(client.negotiated.version_data) >= {"network_magic", "initiator_only", "peer_sharing", "query"}
            assert ("peras_support" in client.negotiated.version_data) == (version == 16)
            await client.close()
            assert client.violations == [] and accepted.violations == []

    run(main())


def test_the_highest_common_version_wins() -> None:
    async def main() -> None:
        async with await node(versions=(14, 15)) as server:
            client = await scripted(server, versions=(14, 15, 16))
            assert client.negotiated is not None and client.negotiated.version == 15
            await client.close()

    run(main())


@pytest.mark.parametrize("version", range(16, 24))
def test_n2c_handshake_in_every_version_over_a_unix_socket(version: int, tmp_path: Path) -> None:
    async def main() -> None:
        path = str(tmp_path / "node.socket")
        server = await serve_unix(path, PeerConfig(mode="node-to-client"))
        async with server:
            client = await connect_unix(path, PeerConfig(mode="node-to-client", versions=(version,)))
            assert client.negotiated is not None
            assert client.negotiated.version == 0x8000 | version
            assert client.negotiated.version_data == {"network_magic": 764824073, "query": False}
            await client.close()
            assert client.violations == [] and server.connections[0].violations == []

    run(main())


def test_wrong_magic_is_refused_and_both_ends_close() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await connect("127.0.0.1", server.port, PeerConfig(magic=2))
            assert client.negotiated is None and client.refusal is not None
            reason = client.refusal.fields["reason"]
            assert reason["kind"] == "Refused" and reason["version"] == 16
            assert "magic" in reason["message"]
            assert await client.wait_closed(5) is not None
            accepted = await server_side(server)
            assert (await accepted.wait_closed(5)) is not None
            assert client.violations == [] and accepted.violations == []

    run(main())


def test_no_common_version_is_a_version_mismatch_listing_all_of_ours() -> None:
    async def main() -> None:
        async with await node(versions=(15, 16)) as server:
            client = await connect("127.0.0.1", server.port, PeerConfig(versions=(14,)))
            assert client.refusal is not None
            assert client.refusal.fields["reason"]["kind"] == "VersionMismatch"
            assert list(client.refusal.fields["reason"]["versions"]) == [15, 16]
            assert client.violations == []

    run(main())


def test_a_node_to_node_proposal_to_a_node_to_client_socket_is_a_mismatch(tmp_path: Path) -> None:
    async def main() -> None:
        path = str(tmp_path / "n2c.socket")
        async with await serve_unix(path, PeerConfig(mode="node-to-client")):
            client = await connect_unix(path, PeerConfig())
            assert client.refusal is not None and client.refusal.fields["reason"]["kind"] == "VersionMismatch"

    run(main())


def test_query_mode_replies_with_our_version_table_then_closes() -> None:
    async def main() -> None:
        async with await node(peer_sharing=1) as server:
            client = await connect("127.0.0.1", server.port, PeerConfig(query=True))
            assert client.negotiated is None and client.query_reply is not None
            table = client.query_reply.fields["versions"]
            assert sorted(table) == [14, 15, 16]
            assert all(data["peer_sharing"] == 1 and data["query"] is False for data in table.values())
            assert await client.wait_closed(5) is not None
            accepted = await server_side(server)
            assert (await accepted.wait_closed(5)) is not None and accepted.violations == []

    run(main())


def test_keep_alive_both_roles_echo_fresh_cookies() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await connect("127.0.0.1", server.port, PeerConfig(behaviours=fast_keep_alive(rounds=3)))
            behaviour = client.behaviours["keep-alive", "initiator"]
            assert isinstance(behaviour, KeepAliveClient)
            assert await until(lambda: ("keep-alive", "initiator") in client.finished)
            assert behaviour.answers == 3 and client.finished["keep-alive", "initiator"] == "done"
            accepted = await server_side(server)
            echo = accepted.behaviours["keep-alive", "responder"]
            assert isinstance(echo, KeepAliveServer) and echo.requests == 3
            answers = [e.fields["cookie"] for e in client.transcript if e.name == "MsgKeepAliveResponse"]
            assert answers == behaviour.cookies
            assert client.violations == [] and accepted.violations == []
            await client.close()

    run(main())


def test_keep_alive_client_sends_every_interval_until_told_to_stop() -> None:
    async def main() -> None:
        async with await node() as server:
            config = PeerConfig(behaviours={("keep-alive", "initiator"): keep_alive.client(10)}, time_scale=0.01)
            client = await connect("127.0.0.1", server.port, config)
            behaviour = client.behaviours["keep-alive", "initiator"]
            assert isinstance(behaviour, KeepAliveClient)
            assert await until(lambda: behaviour.answers >= 3)  # 10 s scaled to 0.1 s
            await client.close()
            assert client.violations == []

    run(main())


PEERS = [peer_sharing.address(f"10.0.0.{i}", 3000 + i) for i in range(1, 13)]


@pytest.mark.parametrize(("amount", "expected"), [(5, 5), (0, 0), (30, 10)])
def test_peer_sharing_answers_at_most_the_amount_and_the_node_maximum(amount: int, expected: int) -> None:
    async def main() -> None:
        behaviours = {("peer-sharing", "responder"): peer_sharing.server(PEERS)}
        async with await node(peer_sharing=1, behaviours=behaviours) as server:
            config = PeerConfig(peer_sharing=1, behaviours={("peer-sharing", "initiator"): peer_sharing.client(amount)})
            client = await connect("127.0.0.1", server.port, config)
            assert client.negotiated is not None and client.negotiated.version_data["peer_sharing"] == 1
            key = ("peer-sharing", "initiator")
            assert await until(lambda: key in client.finished)
            behaviour = client.behaviours[key]
            assert isinstance(behaviour, PeerSharingClient)
            assert behaviour.received == PEERS[:expected]
            accepted = await server_side(server)
            assert await until(lambda: ("peer-sharing", "responder") in accepted.finished)  # MsgDone arrived
            assert client.violations == [] and accepted.violations == []
            await client.close()

    run(main())


def test_peer_sharing_off_means_mini_protocol_10_is_unknown() -> None:
    async def main() -> None:
        async with await node(peer_sharing=1) as server:
            client = await scripted(server, peer_sharing=0)
            assert client.negotiated is not None and client.negotiated.version_data["peer_sharing"] == 0
            assert ("peer-sharing", "responder") not in (await server_side(server)).behaviours
            request = Message("peer-sharing", "MsgShareRequest", {"amount": 3})
            await client.send("peer-sharing", request, check=False)
            accepted = await server_side(server)
            info = await accepted.wait_closed(5)
            assert info is not None and info.by == "local"
            assert [v.requirement for v in accepted.violations] == ["PS-NEG-01"]

    run(main())


def test_duplex_runs_both_directions_of_keep_alive_on_one_connection() -> None:
    async def main() -> None:
        async with await node(time_scale=0.01) as server:
            config = PeerConfig(behaviours={**fast_keep_alive(), ("keep-alive", "responder"): keep_alive.server()})
            client = await connect("127.0.0.1", server.port, config)
            accepted = await server_side(server)
            assert client.duplex and accepted.duplex
            theirs = accepted.behaviours["keep-alive", "initiator"]
            ours = client.behaviours["keep-alive", "initiator"]
            assert isinstance(theirs, KeepAliveClient) and isinstance(ours, KeepAliveClient)
            assert await until(lambda: theirs.answers >= 2 and ours.answers >= 2)
            sent_modes = {e.mode for e in client.transcript if e.kind == "sdu" and e.protocol == "keep-alive"}
            assert sent_modes == {0, 1}  # our requests (initiator) and our answers (responder)
            await client.close()
            assert client.violations == [] and accepted.violations == []

    run(main())


def test_initiator_only_is_honoured_by_the_responder() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await connect(
                "127.0.0.1", server.port, PeerConfig(initiator_only=True, behaviours=fast_keep_alive(2))
            )
            accepted = await server_side(server)
            assert client.negotiated is not None and client.negotiated.version_data["initiator_only"] is True
            assert not accepted.duplex
            assert {side for _, side in accepted.behaviours} == {"responder"}
            assert await until(lambda: ("keep-alive", "initiator") in client.finished)
            await client.close()
            assert accepted.violations == []

    run(main())


def test_scripted_send_and_receive() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await scripted(server, initiator_only=True)
            for cookie in (0, 1, 0xFFFF):
                await keep_alive_round(client, cookie)
            await client.send("keep-alive", Message("keep-alive", "MsgDone", {}))
            with pytest.raises(asyncio.TimeoutError):
                await client.receive("keep-alive", timeout=0.05)
            await client.close()
            with pytest.raises(ConnectionClosed):
                await client.receive("keep-alive", timeout=1)
            assert (await server_side(server)).violations == []

    run(main())


def test_our_session_refuses_what_we_must_not_send_unless_the_rule_is_switched_off() -> None:
    async def main() -> None:
        async with await node() as server:
            client = await scripted(server, initiator_only=True)
            answer = Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 7})
            with pytest.raises(OwnViolation) as refused:
                await client.send("keep-alive", answer)
            assert refused.value.violation.requirement == "KA-RESP-01"
            await keep_alive_round(client, 1)  # nothing was sent: the connection goes on
            faulty = await scripted(server, initiator_only=True, disabled_rules=frozenset({"KA-RESP-01"}))
            await faulty.send("keep-alive", answer)
            accepted = await server_side(server, count=2)
            info = await accepted.wait_closed(5)
            assert info is not None and info.by == "local"
            assert [v.requirement for v in accepted.violations] == ["KA-RESP-01"]
            assert (await faulty.wait_closed(5)) is not None
            await keep_alive_round(client, 2)  # the other connection is still served
            assert server.connections[0].violations == []

    run(main())


def test_max_conns_closes_connections_beyond_the_limit() -> None:
    async def main() -> None:
        async with await node(max_conns=2) as server:
            first, second = await scripted(server), await scripted(server)
            third = await connect("127.0.0.1", server.port, PeerConfig(behaviours={}))
            assert third.negotiated is None and (await third.wait_closed(5)) is not None
            assert server.refused == 1 and len(server.open_connections) == 2
            await keep_alive_round(first, 1)
            await first.close()
            assert await until(lambda: len(server.open_connections) == 1)
            fourth = await scripted(server)  # room again
            await keep_alive_round(fourth, 2)
            await keep_alive_round(second, 3)

    run(main())


class Broken:
    """A behaviour with a bug: it raises on the first message."""

    protocol = "keep-alive"
    side = "responder"

    def start(self) -> list[object]:
        return []

    def on_message(self, message: Message) -> list[object]:
        raise RuntimeError("bug")

    def on_timer(self, token: str) -> list[object]:
        return []


def test_a_behaviour_that_raises_closes_its_connection_only() -> None:
    async def main() -> None:
        behaviours = {("keep-alive", "responder"): lambda negotiated: Broken()}
        async with await node(behaviours=behaviours) as server:
            bystander = await scripted(server)
            client = await scripted(server)
            await client.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": 1}))
            info = await server.connections[1].wait_closed(5)
            assert info is not None and info.by == "local" and isinstance(info.error, RuntimeError)
            assert not bystander.is_closed and not server.connections[0].is_closed

    run(main())


def test_scripted_duplex_tells_the_two_instances_apart() -> None:
    async def main() -> None:
        async with await node(time_scale=0.01) as server:  # the server's keep-alive client asks every 0.1 s
            client = await scripted(server, initiator_only=False)
            assert client.duplex
            theirs = await client.receive("keep-alive", timeout=5, side="responder")
            assert theirs.name == "MsgKeepAlive"
            echo = Message("keep-alive", "MsgKeepAliveResponse", {"cookie": theirs.fields["cookie"]})
            await client.send("keep-alive", echo)  # the table says the responder sends it: mode bit 1
            await client.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": 4242}))
            ours = await client.receive("keep-alive", timeout=5, side="initiator")
            assert ours.name == "MsgKeepAliveResponse" and ours.fields["cookie"] == 4242
            sent = [e for e in client.transcript if e.kind == "message" and e.direction == "sent" and e.mode == 1]
            assert [e.name for e in sent] == ["MsgKeepAliveResponse"]
            assert client.violations == [] and (await server_side(server)).violations == []
            await client.close()

    run(main())
