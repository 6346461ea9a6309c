"""The keep-alive and peer-sharing behaviours on their own, sans-I/O: real bytes in, actions out."""

from __future__ import annotations

from conformance import wire
from conformance.peer import keep_alive, peer_sharing
from conformance.peer.agent import After, Finish, Negotiated, Send
from conformance.peer.handshake import respond, version_table
from conformance.wire import Message

NEGOTIATED = Negotiated("node-to-node", 15, {"network_magic": 1, "peer_sharing": 1}, time_scale=0.5)


def received(protocol: str, name: str, state: str, **fields: object) -> Message:
    """A message as the connection hands it over: decoded from its bytes."""
    return wire.decode(protocol, wire.encode(Message(protocol, name, dict(fields))), state=state)


def test_keep_alive_client_asks_at_once_then_after_each_answer_with_a_fresh_cookie() -> None:
    client = keep_alive.client(10, rounds=2)(NEGOTIATED)
    (first,) = client.start()
    assert isinstance(first, Send) and first.message.name == "MsgKeepAlive"
    cookie = first.message.fields["cookie"]
    assert 0 <= cookie <= 0xFFFF
    answer = received("keep-alive", "MsgKeepAliveResponse", "StServer", cookie=cookie)
    assert client.on_message(answer) == [After(5.0, "keep-alive")]  # 10 s at time scale 0.5
    (second,) = client.on_timer("keep-alive")
    assert isinstance(second, Send)
    last = received("keep-alive", "MsgKeepAliveResponse", "StServer", cookie=second.message.fields["cookie"])
    actions = client.on_message(last)
    assert [type(a) for a in actions] == [Send, Finish] and actions[0].message.name == "MsgDone"  # type: ignore[union-attr]


def test_keep_alive_client_finishes_on_a_cookie_mismatch() -> None:
    client = keep_alive.KeepAliveClient(seed=1)
    (first,) = client.start()
    assert isinstance(first, Send)
    wrong = (first.message.fields["cookie"] + 1) & 0xFFFF
    (finish,) = client.on_message(received("keep-alive", "MsgKeepAliveResponse", "StServer", cookie=wrong))
    assert isinstance(finish, Finish) and "KeepAliveCookieMissmatch" in finish.reason


def test_keep_alive_server_echoes() -> None:
    server = keep_alive.server()(NEGOTIATED)
    assert server.start() == []
    (echo,) = server.on_message(received("keep-alive", "MsgKeepAlive", "StClient", cookie=0xBEEF))
    assert isinstance(echo, Send) and wire.encode(echo.message) == bytes.fromhex("820119beef")
    assert server.on_message(received("keep-alive", "MsgDone", "StClient")) == [Finish("done")]


def test_peer_sharing_both_roles() -> None:
    peers = [peer_sharing.address("1.2.3.4", 3001), peer_sharing.address("::1", 3002)]
    server = peer_sharing.server(peers)(NEGOTIATED)
    client = peer_sharing.client(1)(NEGOTIATED)
    (request,) = client.start()
    assert isinstance(request, Send) and request.message.fields == {"amount": 1}
    (answer,) = server.on_message(wire.decode("peer-sharing", wire.encode(request.message), state="StIdle"))
    assert isinstance(answer, Send)
    data = wire.encode(answer.message)
    assert data == bytes.fromhex("82019f83001a04030201190bb9ff")  # 1.2.3.4:3001 as PROTOCOLS.md 9 shows
    done, finish = client.on_message(wire.decode("peer-sharing", data, state="StBusy"))
    assert isinstance(done, Send) and done.message.name == "MsgDone" and isinstance(finish, Finish)
    assert client.received == peers[:1]


def test_the_responder_answers_as_the_node_does() -> None:
    ours = version_table("node-to-node", (14, 15), magic=1)
    proposed = wire.decode("handshake", bytes.fromhex("8200a20e8401f400f40f8401f401f4"), state="StPropose")
    answer = respond("node-to-node", ours, proposed.fields["versions"])
    assert answer.version == 15 and wire.encode(answer.reply) == bytes.fromhex("83010f8401f400f4")
    other = wire.decode("handshake", bytes.fromhex("8200a10f8402f400f4"), state="StPropose")
    refused = respond("node-to-node", ours, other.fields["versions"]).reply
    assert refused.fields["reason"]["kind"] == "Refused" and refused.fields["reason"]["version"] == 15
    assert respond("node-to-node", ours, {16: {}}).reply.fields["reason"] == {
        "kind": "VersionMismatch",
        "versions": [14, 15],
    }
