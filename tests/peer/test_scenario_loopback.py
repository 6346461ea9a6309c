"""A loopback stand-in for the reference peer's scripted connection, and a tiny node to talk to.

Both ends run real protocol logic over TCP on 127.0.0.1: SDUs from `wire.mux`, demultiplexing from
`protocol.mux.demultiplexer_for`, messages from `wire.encode`/`wire.decode`, and a `protocol.Session` per
mini-protocol that judges every message in both directions (the node closes on a violation, as the
Haskell node does). `LoopbackConnection` implements exactly the surface in
`conformance/peer/scenario/surface.py`; at merge the real peer (`conformance.peer.node`) replaces it.
The tests at the bottom check the fixture itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from conformance import wire
from conformance.peer.agent import Negotiated
from conformance.peer.scenario.surface import ConnectionClosed, ConnectionSpec
from conformance.protocol import MINI_PROTOCOLS, Session, Violation
from conformance.protocol.mux import demultiplexer_for
from conformance.wire.mux import SDU, segment

NAMES = {p.number: p.name for p in MINI_PROTOCOLS["node-to-node"]}
NUMBERS = {name: number for number, name in NAMES.items()}
_CLOSED = object()


def version_data(version: int, magic: int, initiator_only: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"network_magic": magic, "initiator_only": initiator_only, "peer_sharing": 0, "query": False}
    if version == 16:
        data["peras_support"] = False
    return data


def sdus(protocol: str, payload: bytes, mode: int) -> bytes:
    return b"".join(sdu.encode() for sdu in segment(payload, protocol=NUMBERS[protocol], mode=mode))


class _Endpoint:
    """One side of a connection: SDU framing, demultiplexing and one Session per mini-protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, side: str) -> None:
        self.reader, self.writer, self.side = reader, writer, side
        self.remote_side = "responder" if side == "initiator" else "initiator"
        self.mode = 0 if side == "initiator" else 1
        self.demux = demultiplexer_for("node-to-node")
        self.sessions: dict[str, Session] = {}
        self.version: int | None = None

    def session(self, protocol: str) -> Session:
        if protocol not in self.sessions:
            self.sessions[protocol] = Session(protocol, self.version, on_violation="record")
        return self.sessions[protocol]

    def observe(self, protocol: str, sender: str, data: bytes) -> tuple[wire.Message | None, list[Violation]]:
        """Judge one message; return it decoded (None when refused) and the violations it caused."""
        session = self.session(protocol)
        before, seen = len(session.violations), len(session.history)
        session.observe(sender, data)
        found = session.violations[before:]
        message = session.history[-1].message if len(session.history) > seen else None
        if message is not None and protocol == "handshake" and message.name == "MsgAcceptVersion":
            self.version = message.fields["version"]
            self.demux = demultiplexer_for("node-to-node", message.fields["version_data"])
        return message, list(found)

    async def write(self, protocol: str, payload: bytes) -> None:
        self.writer.write(sdus(protocol, payload, self.mode))
        await self.writer.drain()

    def abort(self) -> None:
        self.writer.close()


class LoopbackNode:
    """The remote under test: answers the handshake, keep-alive and chain-sync at the origin.

    `lie_about_cookie` echoes cookie + 1 (a KA-COOKIE-01 fault); `close_on_refuse` closes at once
    instead of answering MsgRefuse.
    """

    def __init__(self, magic: int = 764824073, versions: tuple[int, ...] = (14, 15, 16), **faults: bool) -> None:
        self.magic = magic
        self.versions = versions
        self.faults = faults
        self.server: asyncio.Server | None = None
        self.closed_by_us: list[str] = []
        self._handlers: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> LoopbackNode:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        if self._handlers:  # each ends when its client closes; a bounded wait, then cancel the rest
            _, pending = await asyncio.wait(self._handlers, timeout=5.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        end = _Endpoint(reader, writer, "responder")
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while data := await reader.read(65536):
                for item in end.demux.feed(data):
                    protocol = NAMES[item.protocol]
                    message, found = end.observe(protocol, "initiator", item.data)
                    if found or message is None:
                        self.closed_by_us.append(f"violation: {found[0] if found else 'refused'}")
                        return
                    for reply in self.answer(message):
                        payload = wire.encode(reply)
                        end.observe(protocol, "responder", payload)
                        await end.write(protocol, payload)
                        if reply.name == "MsgRefuse":
                            return
                    if (
                        message.name == "MsgProposeVersions"
                        and self.faults.get("close_on_refuse")
                        and end.version is None
                    ):
                        return
        except wire.DecodeError as exc:  # malformed bytes: the node closes the connection
            self.closed_by_us.append(f"decode: {type(exc).__name__}")
        except ConnectionError:
            pass
        finally:
            end.abort()

    def answer(self, message: wire.Message) -> list[wire.Message]:
        codec = wire.codec(message.protocol)
        if message.name == "MsgProposeVersions":
            proposed = message.fields["versions"]
            common = sorted(set(proposed) & set(self.versions))
            if not common:
                reason = {"kind": "VersionMismatch", "versions": list(self.versions)}
            elif proposed[common[-1]].get("network_magic") != self.magic:
                reason = {"kind": "Refused", "version": common[-1], "message": "network magic mismatch"}
            else:
                data = version_data(common[-1], self.magic, bool(proposed[common[-1]].get("initiator_only")))
                return [
                    codec.from_json(
                        {"message": "MsgAcceptVersion", "fields": {"version": common[-1], "version_data": data}}
                    )
                ]
            if self.faults.get("close_on_refuse"):
                return []
            return [codec.from_json({"message": "MsgRefuse", "fields": {"reason": reason}})]
        if message.name == "MsgKeepAlive":
            cookie = (message.fields["cookie"] + (1 if self.faults.get("lie_about_cookie") else 0)) & 0xFFFF
            return [wire.Message("keep-alive", "MsgKeepAliveResponse", {"cookie": cookie})]
        origin_tip = {"point": None, "block_no": 0}
        if message.name == "MsgFindIntersect":
            if None in message.fields["points"]:
                return [codec.from_json({"message": "MsgIntersectFound", "fields": {"point": None, "tip": origin_tip}})]
            return [codec.from_json({"message": "MsgIntersectNotFound", "fields": {"tip": origin_tip}})]
        if message.name == "MsgRequestNext":
            return [codec.from_json({"message": "MsgRollBackward", "fields": {"point": None, "tip": origin_tip}})]
        return []


class LoopbackConnection:
    """Our side: exactly the scripted surface (send, send_sdu, receive, wait_closed, close, violations,
    negotiated). `disabled_rules` lets a send break those rules of our own sending side."""

    def __init__(self, end: _Endpoint, spec: ConnectionSpec) -> None:
        self._end = end
        self._spec = spec
        self.negotiated: Negotiated | None = None
        self.violations: list[Violation] = []
        self._queues: defaultdict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        self._outgoing = demultiplexer_for("node-to-node", {"peer_sharing": 0})

    @classmethod
    async def open(cls, spec: ConnectionSpec) -> LoopbackConnection:
        assert spec.address is not None
        reader, writer = await asyncio.open_connection(*spec.address)
        connection = cls(_Endpoint(reader, writer, "initiator"), spec)
        if spec.handshake == "auto":
            table = {v: version_data(v, spec.magic, True) for v in spec.versions}
            propose = wire.codec("handshake").from_json(
                {"message": "MsgProposeVersions", "fields": {"versions": table}}
            )
            await connection.send("handshake", propose)
            reply = await connection.receive("handshake", 5.0)
            if reply.name != "MsgAcceptVersion":
                await connection.close()
                raise ConnectionClosed(f"handshake refused: {reply.fields}")
        return connection

    async def _read(self) -> None:
        end, why = self._end, "the remote closed the connection"
        try:
            while data := await end.reader.read(65536):
                for item in end.demux.feed(data):
                    protocol = NAMES[item.protocol]
                    message, found = end.observe(protocol, "responder", item.data)
                    self.violations.extend(found)
                    if found:
                        why = f"we closed: remote violation {found[0].requirement}"
                        return
                    if message is not None:
                        if message.name == "MsgAcceptVersion":
                            self.negotiated = Negotiated(
                                "node-to-node", message.fields["version"], message.fields["version_data"]
                            )
                        self._queues[protocol].put_nowait(message)
        except (wire.DecodeError, ConnectionError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        finally:
            end.abort()
            if not self._closed.done():
                self._closed.set_result(why)
            for queue in self._queues.values():
                queue.put_nowait(_CLOSED)

    async def send(self, protocol: str, message: wire.Message | bytes, *, check: bool = True) -> None:
        if self._closed.done():
            raise ConnectionClosed(self._closed.result())
        payload = wire.encode(message) if isinstance(message, wire.Message) else bytes(message)
        session = self._end.session(protocol)
        before = len(session.violations)
        self._end.observe(protocol, "initiator", payload)
        refused = [v for v in session.violations[before:] if v.requirement not in self._spec.disabled_rules]
        if check and refused:
            raise refused[0]
        await self._end.write(protocol, payload)

    async def send_sdu(self, raw: bytes) -> None:
        """Raw bytes go out as they are; whole messages in them are shown to our own sessions (unchecked),
        so that the replies to a message re-cut across SDUs are judged in the right state."""
        with contextlib.suppress(wire.DecodeError, KeyError):  # hostile bytes: nothing more to follow
            for item in self._outgoing.feed(raw):
                self._end.observe(NAMES[item.protocol], "initiator", item.data)
        self._end.writer.write(raw)
        await self._end.writer.drain()

    async def receive(self, protocol: str, timeout: float) -> wire.Message:
        queue = self._queues[protocol]
        if queue.empty() and self._closed.done():
            raise ConnectionClosed(self._closed.result())
        item = await asyncio.wait_for(queue.get(), timeout)
        if item is _CLOSED:
            raise ConnectionClosed(self._closed.result())
        return item  # type: ignore[no-any-return]

    async def wait_closed(self, timeout: float) -> str | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self._closed), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self._end.abort()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._reader
        if not self._closed.done():
            self._closed.set_result("we closed the connection")


def opener_for(node: LoopbackNode) -> Callable[[ConnectionSpec], Any]:
    async def open_loopback(spec: ConnectionSpec) -> LoopbackConnection:
        from dataclasses import replace

        return await LoopbackConnection.open(replace(spec, address=("127.0.0.1", node.port)))

    return open_loopback


# -- the fixture's own tests ----------------------------------------------------------------------------


def _spec(**changes: Any) -> ConnectionSpec:
    base: dict[str, Any] = dict(
        mode="node-to-node", role="initiator", handshake="auto", versions=(14, 15, 16), magic=764824073
    )
    base.update(changes)
    return ConnectionSpec(**base)


def test_fixture_handshake_then_keep_alive_echo() -> None:
    async def scenario() -> None:
        async with LoopbackNode() as node:
            connection = await opener_for(node)(_spec())
            assert connection.negotiated is not None and connection.negotiated.version == 16
            await connection.send("keep-alive", wire.Message("keep-alive", "MsgKeepAlive", {"cookie": 9}))
            reply = await connection.receive("keep-alive", 5.0)
            assert (reply.name, reply.fields["cookie"]) == ("MsgKeepAliveResponse", 9)
            assert connection.violations == []
            await connection.close()

    asyncio.run(scenario())


def test_fixture_records_a_remote_violation_and_closes() -> None:
    async def scenario() -> None:
        async with LoopbackNode(lie_about_cookie=True) as node:
            connection = await opener_for(node)(_spec())
            await connection.send("keep-alive", wire.Message("keep-alive", "MsgKeepAlive", {"cookie": 9}))
            with pytest.raises(ConnectionClosed):
                await connection.receive("keep-alive", 5.0)
            assert [v.requirement for v in connection.violations] == ["KA-COOKIE-01"]
            await connection.close()

    asyncio.run(scenario())


def test_fixture_refuses_our_own_rule_break_unless_disabled() -> None:
    async def scenario() -> None:
        async with LoopbackNode() as node:
            response = wire.Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 1})
            connection = await opener_for(node)(_spec())
            with pytest.raises(Violation):
                await connection.send("keep-alive", response)
            await connection.close()
            connection = await opener_for(node)(_spec(disabled_rules=frozenset({"KA-RESP-01"})))
            await connection.send("keep-alive", response)
            assert await connection.wait_closed(5.0) is not None  # the node closes on the agency violation
            await connection.close()

    asyncio.run(scenario())


def test_fixture_sdu_bytes_are_the_wire_layers() -> None:
    payload = wire.encode(wire.Message("keep-alive", "MsgKeepAlive", {"cookie": 1}))
    assert sdus("keep-alive", payload, 0) == SDU(0, 0, 8, payload).encode()
