"""The node-to-client handshake, the tested peer as responder on its local socket.

Node-to-client version numbers carry bit 15 on the wire (v16 = 32784); a key the node does not know (a
future version, or a node-to-node number without bit 15) is skipped, so a proposal of only such keys is
refused with VersionMismatch and the node's whole list. Another network magic is Refused; query = true
is answered with MsgQueryReply. The node-to-client handshake has no time limit, so answers are awaited for
ANSWER_WITHIN seconds (a bound, not a protocol limit).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.peer.connection import Connection
from conformance.peer.handshake import N2C_DEFAULT_VERSIONS, wire_key
from conformance.suite.case import N2C, Case
from conformance.wire import Message
from conformance.wire.cbor import encode_item

HS = "n2c-handshake"
ANSWER_WITHIN = 10.0
FUTURE_VERSIONS = (100, 101)
N2N_KEYS = (14, 15)


def data(case: Case, *, magic: int | None = None, query: bool = False) -> dict[str, Any]:
    return {"network_magic": case.target.magic if magic is None else magic, "query": query}


def offered(case: Case) -> tuple[int, ...]:
    """The versions the profile says the peer offers, else every version we know."""
    return tuple(case.target.profile.versions.get(N2C) or N2C_DEFAULT_VERSIONS)


async def propose(case: Case, versions: dict[int, Any], *, requirement: str) -> tuple[Connection, Message]:
    """A scripted proposal (keys as on the wire) and the peer's answer."""
    connection = await case.connect(N2C, handshake=False)
    await connection.send(HS, Message(HS, "MsgProposeVersions", {"versions": versions}))
    reply = await case.expect(
        connection,
        HS,
        ("MsgAcceptVersion", "MsgRefuse", "MsgQueryReply"),
        within=ANSWER_WITHIN,
        requirement=requirement,
    )
    return connection, reply


@pytest.mark.requirement("HS-ACCEPT-01", "HS-NEG-01", "HS-VDATA-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StConfirm")
@pytest.mark.parametrize("version", N2C_DEFAULT_VERSIONS, ids=lambda v: f"v{v}")
def test_each_version_alone_is_accepted(case: Case, version: int) -> None:
    async def body() -> None:
        if version not in offered(case):
            case.unsupported(f"the peer profile does not offer node-to-client v{version}")
        key = wire_key(N2C, version)
        _, reply = await propose(case, {key: data(case)}, requirement="HS-NEG-01")
        if reply.name == "MsgRefuse" and reply.fields["reason"]["kind"] == "VersionMismatch":
            case.unsupported(f"the peer does not offer node-to-client v{version}")
        if reply.name != "MsgAcceptVersion":
            case.fail("HS-NEG-01", f"v{version} with our magic was answered {reply.name} {reply.fields}")
        case.check("HS-ACCEPT-01", reply.fields["version"] == key, f"accepted {reply.fields['version']}, not {key}")
        agreed = reply.fields["version_data"]
        case.check("HS-NEG-01", agreed["network_magic"] == case.target.magic, f"accepted data {agreed}")

    case.run(body)


@pytest.mark.requirement("HS-ACCEPT-02", "HS-QUERY-01", "HS-NEG-04")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StConfirm")
def test_all_versions_negotiate_the_highest_common_one(case: Case) -> None:
    """A query tells the peer's versions; a proposal of all ours then gets the highest common one."""

    async def body() -> None:
        query = await case.connect(N2C, query=True)
        if query.query_reply is None:
            case.fail("HS-NEG-04", f"a query was answered {query.refusal or 'with nothing'}")
        theirs = set(query.query_reply.fields["versions"])
        ours = {wire_key(N2C, v) for v in N2C_DEFAULT_VERSIONS}
        connection = await case.connect(N2C, versions=N2C_DEFAULT_VERSIONS)
        assert connection.negotiated is not None  # connect fails the case otherwise
        common = ours & theirs
        expected = max(common) if common else None
        version = wire_key(N2C, connection.negotiated.version)
        case.check("HS-ACCEPT-02", version == expected, f"negotiated {version}; the highest common is {expected}")

    case.run(body)


@pytest.mark.requirement("HS-REFUSE-01", "HS-N2C-01")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StConfirm")
@pytest.mark.parametrize("which", ["future-versions", "node-to-node-numbers"])
def test_only_unknown_versions_are_refused_with_the_version_list(case: Case, which: str) -> None:
    """Keys the peer does not know are skipped: MsgRefuse VersionMismatch listing the peer's versions."""

    async def body() -> None:
        if which == "future-versions":
            versions = {wire_key(N2C, v): encode_item([case.target.magic, False]) for v in FUTURE_VERSIONS}
        else:
            versions = {k: encode_item([case.target.magic, True, 0, False]) for k in N2N_KEYS}
        _, reply = await propose(case, versions, requirement="HS-REFUSE-01")
        reason = reply.fields.get("reason") or {}
        if reply.name != "MsgRefuse" or reason.get("kind") != "VersionMismatch":
            case.fail("HS-REFUSE-01", f"unknown versions {sorted(versions)} were answered {reply.name} {reply.fields}")
        listed = list(reason["versions"])
        case.check("HS-REFUSE-01", bool(listed), "VersionMismatch lists no version")
        case.check(
            "HS-N2C-01", all(v & 0x8000 for v in listed), f"listed versions without bit 15: {[v for v in listed]}"
        )

    case.run(body)


@pytest.mark.requirement("HS-NEG-01", "HS-REFUSE-03")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StConfirm")
def test_another_network_magic_is_refused(case: Case) -> None:
    async def body() -> None:
        wrong = (case.target.magic + 1) & 0xFFFFFFFF
        versions = {wire_key(N2C, v): data(case, magic=wrong) for v in offered(case)}
        _, reply = await propose(case, versions, requirement="HS-NEG-01")
        reason = reply.fields.get("reason") or {}
        if reply.name != "MsgRefuse" or reason.get("kind") != "Refused":
            case.fail("HS-NEG-01", f"magic {wrong} (the peer's is {case.target.magic}) was answered {reply.fields}")

    case.run(body)


@pytest.mark.requirement("HS-NEG-04", "HS-QUERY-01", "HS-QUERY-02")
@pytest.mark.mode("node-to-client")
@pytest.mark.area("StConfirm")
def test_a_query_is_answered_with_the_version_table(case: Case) -> None:
    async def body() -> None:
        connection = await case.connect(N2C, query=True)
        if connection.query_reply is None:
            why = connection.refusal.fields if connection.refusal is not None else "nothing"
            case.fail("HS-NEG-04", f"a proposal with query = true was answered {why}")
        versions = connection.query_reply.fields["versions"]
        case.check("HS-QUERY-01", bool(versions), "MsgQueryReply lists no version")

    case.run(body)
