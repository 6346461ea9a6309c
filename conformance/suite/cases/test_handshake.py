"""Handshake (node-to-node), the tested peer as responder: we propose, it accepts, refuses or answers a query.

Every proposal is scripted (`handshake=False`) so the case sees the peer's answer itself; our handshake
Session still judges that answer (accepted version proposed, refusal names a proposed version, the
negotiated data follows OR/AND). What only the case can know is checked here: the peer's own version table,
learnt from a query first, decides the highest common version and the expected negotiated flags.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.peer import handshake as hs
from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import Message
from conformance.wire.cbor import encode_item
from conformance.wire.handshake import N2N_VERSION_DATA, N2N_VERSIONS, PEER_SHARING_AND_SINCE
from conformance.wire.schema import RawCbor

HS = "handshake"
HANDSHAKE_LIMIT = 10.0  # StConfirm: the responder answers within 10 s (HS-TIME-01)
QUERY_SHUTDOWN = 20.0  # the node closes 20 s after MsgQueryReply (handshake_QUERY_SHUTDOWN_DELAY)
REPLIES = ("MsgAcceptVersion", "MsgRefuse", "MsgQueryReply")
PERAS_SINCE = 16  # the first N2N version whose data carries perasSupport
UNKNOWN_VERSIONS = (1, 2, 6, 1000)
"""Version numbers no current node knows (v1-v6 are long gone, 1000 is yet to come)."""


def grace(limit: float) -> float:
    """A wait for something due within `limit`: room for scheduling on a loaded machine."""
    return limit + max(0.5, limit * 0.5)


def version_data(version: int, magic: int, **flags: Any) -> dict[str, Any]:
    """Our data for an N2N `version`: exactly the fields its wire declaration has."""
    data = hs.version_data(hs.N2N, version, magic=magic, **flags)
    names = [name for name, _ in N2N_VERSION_DATA[version].fields]
    return {name: data.get(name, False) for name in names}


def proposal_table(case: Case, versions: tuple[int, ...] = N2N_VERSIONS, **flags: Any) -> dict[int, Any]:
    magic = flags.pop("magic", case.target.magic)
    return {v: version_data(v, magic, **flags) for v in sorted(versions)}


async def propose(case: Case, table: dict[int, Any], **overrides: Any) -> tuple[Connection, Message]:
    """A new connection that proposes `table` and the peer's answer to it."""
    connection = await case.connect(handshake=False, **overrides)
    await connection.send(HS, Message(HS, "MsgProposeVersions", {"versions": table}))
    reply = await case.expect(
        connection, HS, REPLIES, within=grace(case.limit(HANDSHAKE_LIMIT)), requirement="HS-TIME-01"
    )
    return connection, reply


async def peer_table(case: Case) -> dict[int, Any] | None:
    """The peer's own version table, from a query over every version we know (None when it will not say)."""
    connection, reply = await propose(case, proposal_table(case, query=True))
    await connection.close()
    if reply.name != "MsgQueryReply":
        return None
    return dict(reply.fields["versions"])


def profile_versions(case: Case) -> tuple[int, ...]:
    return case.target.profile.versions.get(hs.N2N, ())


def refusal(reply: Message) -> tuple[str, Any]:
    reason = reply.fields.get("reason") or {}
    return str(reason.get("kind")), reason


@pytest.mark.requirement("HS-ACCEPT-01", "HS-NEG-01", "HS-VDATA-01", "HS-TIME-01", "HS-REFUSE-01")
@pytest.mark.area("StConfirm")
@pytest.mark.parametrize("version", N2N_VERSIONS, ids=[f"v{v}" for v in N2N_VERSIONS])
def test_each_version_alone(case: Case, version: int) -> None:
    """A proposal of one version is accepted with that version, or refused with VersionMismatch when the
    peer does not offer it (graded unsupported unless its profile says it does)."""

    async def body() -> None:
        _, reply = await propose(case, proposal_table(case, (version,)))
        if reply.name == "MsgAcceptVersion":
            case.check("HS-ACCEPT-01", reply.fields["version"] == version, f"accepted {reply.fields['version']}")
            return
        kind, reason = refusal(reply) if reply.name == "MsgRefuse" else (reply.name, {})
        if kind == "VersionMismatch":
            if version in profile_versions(case):
                case.fail(
                    "HS-REFUSE-01",
                    f"VersionMismatch {list(reason.get('versions') or [])} for v{version}, which the profile lists",
                )
            case.unsupported(
                f"the peer does not offer node-to-node v{version} (its versions: {list(reason.get('versions') or [])})"
            )
        case.fail("HS-NEG-01", f"v{version} with our magic was answered {reply.name} {reason}")

    case.run(body)


@pytest.mark.requirement("HS-ACCEPT-02", "HS-ACCEPT-01", "HS-QUERY-01", "MUX-HS-01")  # MUX-HS-01: judged on the answer
@pytest.mark.area("StConfirm")
def test_all_versions_accepts_the_highest_common(case: Case) -> None:
    async def body() -> None:
        theirs = await peer_table(case)
        _, reply = await propose(case, proposal_table(case))
        if reply.name != "MsgAcceptVersion":
            case.fail("HS-ACCEPT-02", f"every version we know ({list(N2N_VERSIONS)}) was answered {reply.fields}")
        offered = set(theirs or ()) or set(profile_versions(case))
        common = sorted(offered & set(N2N_VERSIONS))
        if not common:
            case.note("HS-ACCEPT-02", "the peer's versions are unknown (no query reply, no profile): not compared")
            return
        case.check(
            "HS-ACCEPT-02",
            reply.fields["version"] == common[-1],
            f"accepted v{reply.fields['version']}; the highest common version is v{common[-1]} of {common}",
        )

    case.run(body)


@pytest.mark.requirement("HS-PROPOSE-01", "HS-ACCEPT-01")
@pytest.mark.area("StPropose")
def test_unknown_versions_beside_known_ones_are_skipped(case: Case) -> None:
    """Keys of versions the responder does not know are skipped wherever they stand, not fatal."""

    async def body() -> None:
        table: dict[int, Any] = {1: RawCbor(encode_item([case.target.magic, False]))}
        table.update(proposal_table(case))
        table[1000] = RawCbor(encode_item([case.target.magic, False, 0, False]))
        _, reply = await propose(case, table)
        if reply.name != "MsgAcceptVersion":
            case.fail("HS-PROPOSE-01", f"a proposal with unknown keys 1 and 1000 was answered {reply.fields}")

    case.run(body)


@pytest.mark.requirement("HS-REFUSE-01", "HS-REFUSE-04")
@pytest.mark.area("StConfirm")
def test_unknown_versions_only_are_refused_with_the_version_list(case: Case) -> None:
    async def body() -> None:
        theirs = await peer_table(case)
        table = {v: RawCbor(encode_item([case.target.magic, False])) for v in UNKNOWN_VERSIONS}
        _, reply = await propose(case, table)
        kind, reason = refusal(reply) if reply.name == "MsgRefuse" else (reply.name, {})
        if kind != "VersionMismatch":
            case.fail("HS-REFUSE-01", f"versions {list(UNKNOWN_VERSIONS)} only were answered {reply.name} {reason}")
        listed = list(reason.get("versions") or [])
        case.check("HS-REFUSE-01", bool(listed), "VersionMismatch lists no version at all")
        expected = sorted(theirs) if theirs else sorted(profile_versions(case))
        if expected:
            case.check(
                "HS-REFUSE-01",
                sorted(listed) == expected,
                f"VersionMismatch lists {listed}; the peer's versions are {expected}",
            )

    case.run(body)


@pytest.mark.requirement("HS-NEG-01", "HS-REFUSE-03")
@pytest.mark.area("StConfirm")
def test_wrong_magic_is_refused(case: Case) -> None:
    async def body() -> None:
        wrong = (case.target.magic + 1) % 2**32
        _, reply = await propose(case, proposal_table(case, magic=wrong))
        kind, reason = refusal(reply) if reply.name == "MsgRefuse" else (reply.name, {})
        if kind == "VersionMismatch":
            case.unsupported(f"the peer offers none of {list(N2N_VERSIONS)}")
        case.check(
            "HS-NEG-01",
            kind == "Refused",
            f"network magic {wrong} (ours is {case.target.magic}) was answered {reply.name} {reason or reply.fields}",
        )

    case.run(body)


@pytest.mark.requirement("HS-NEG-04", "HS-QUERY-01", "HS-QUERY-02", "HS-VDATA-01")
@pytest.mark.area("StConfirm")
def test_query_gets_the_version_table_then_close(case: Case) -> None:
    async def body() -> None:
        connection, reply = await propose(case, proposal_table(case, query=True))
        if reply.name == "MsgRefuse" and refusal(reply)[0] == "VersionMismatch":
            case.unsupported(f"the peer offers none of {list(N2N_VERSIONS)}")
        if reply.name != "MsgQueryReply":
            case.fail("HS-NEG-04", f"a proposal with query = true was answered {reply.name} {reply.fields}")
        table = dict(reply.fields["versions"])
        case.check("HS-QUERY-01", bool(table), "MsgQueryReply carries an empty version table")
        listed = profile_versions(case)
        if listed:
            case.check("HS-QUERY-01", sorted(table) == sorted(listed), f"table {sorted(table)}; profile {list(listed)}")
        wait = grace(case.limit(QUERY_SHUTDOWN))
        if await connection.wait_closed(wait) is None:
            case.note("HS-NEG-04", f"the connection stayed open {wait:g} s after MsgQueryReply")

    case.run(body)


MALFORMED = {
    "wrong-type": lambda values: [values[0], "yes", *values[2:]],  # initiatorOnly as text, not a bool
    "extra-field": lambda values: [*values, 0],
    "missing-field": lambda values: values[:-1],
}


@pytest.mark.requirement("HS-REFUSE-02")
@pytest.mark.area("StConfirm")
@pytest.mark.parametrize("fault", list(MALFORMED))
def test_malformed_version_data_is_refused_with_a_decode_error(case: Case, fault: str) -> None:
    """Every proposed version carries data its declaration does not decode, so whatever the highest common
    version is, the node answers MsgRefuse HandshakeDecodeError naming it."""

    async def body() -> None:
        table = {
            v: RawCbor(encode_item(MALFORMED[fault](list(data.values())))) for v, data in proposal_table(case).items()
        }
        _, reply = await propose(case, table, disabled_rules=frozenset({"HS-VDATA-01"}))
        kind, reason = refusal(reply) if reply.name == "MsgRefuse" else (reply.name, {})
        if kind == "VersionMismatch":
            case.unsupported(f"the peer offers none of {list(N2N_VERSIONS)}")
        case.check(
            "HS-REFUSE-02",
            kind == "HandshakeDecodeError",
            f"version data with a {fault} was answered {reply.name} {reason or reply.fields}",
        )

    case.run(body)


@pytest.mark.requirement("HS-NEG-02")
@pytest.mark.area("negotiation")
@pytest.mark.parametrize("initiator_only", [True, False], ids=["initiator-only", "duplex"])
def test_initiator_only_is_the_or_of_both_sides(case: Case, initiator_only: bool) -> None:
    async def body() -> None:
        theirs = await peer_table(case) or {}
        _, reply = await propose(case, proposal_table(case, initiator_only=initiator_only))
        if reply.name != "MsgAcceptVersion":
            case.fail("HS-NEG-02", f"our proposal was answered {reply.fields}")
        version, data = reply.fields["version"], reply.fields["version_data"]
        own = theirs.get(version)
        if not isinstance(own, dict):
            case.note("HS-NEG-02", f"the peer's own data for v{version} is unknown: only our side is compared")
            if not initiator_only:
                return
            own = {}
        expected = initiator_only or bool(own.get("initiator_only"))
        case.check(
            "HS-NEG-02",
            data.get("initiator_only") == expected,
            f"negotiated initiator_only {data.get('initiator_only')} for ours {initiator_only} and the peer's "
            f"{own.get('initiator_only')}",
        )

    case.run(body)


@pytest.mark.requirement("HS-NEG-03")
@pytest.mark.area("negotiation")
@pytest.mark.parametrize("peer_sharing", [0, 1], ids=["ours-off", "ours-on"])
def test_peer_sharing_is_the_and_of_both_sides(case: Case, peer_sharing: int) -> None:
    async def body() -> None:
        theirs = await peer_table(case) or {}
        _, reply = await propose(case, proposal_table(case, peer_sharing=peer_sharing))
        if reply.name != "MsgAcceptVersion":
            case.fail("HS-NEG-03", f"our proposal was answered {reply.fields}")
        version, data = reply.fields["version"], reply.fields["version_data"]
        if version < PEER_SHARING_AND_SINCE:
            case.unsupported(f"peer sharing negotiates as AND only from v{PEER_SHARING_AND_SINCE}; v{version} accepted")
        own = theirs.get(version)
        if not isinstance(own, dict):
            case.note("HS-NEG-03", f"the peer's own data for v{version} is unknown: only our side is compared")
            if peer_sharing == 1:
                return
            own = {}
        expected = 1 if peer_sharing == 1 and own.get("peer_sharing") == 1 else 0
        case.check(
            "HS-NEG-03",
            data.get("peer_sharing") == expected,
            f"negotiated peer_sharing {data.get('peer_sharing')} for ours {peer_sharing} and the peer's "
            f"{own.get('peer_sharing')}",
        )

    case.run(body)


@pytest.mark.requirement("HS-NEG-05")
@pytest.mark.area("negotiation")
def test_peras_support_is_the_and_of_both_sides(case: Case) -> None:
    """We propose v16 alone, supporting Peras: the negotiated perasSupport is the peer's own flag."""

    async def body() -> None:
        theirs = await peer_table(case) or {}
        table = proposal_table(case, (PERAS_SINCE,))
        table[PERAS_SINCE]["peras_support"] = True
        _, reply = await propose(case, table)
        if reply.name == "MsgRefuse" and refusal(reply)[0] == "VersionMismatch":
            case.unsupported(f"the peer does not offer node-to-node v{PERAS_SINCE}")
        if reply.name != "MsgAcceptVersion":
            case.fail("HS-NEG-05", f"our proposal was answered {reply.fields}")
        version, data = reply.fields["version"], reply.fields["version_data"]
        own = theirs.get(version)
        if not isinstance(own, dict):
            case.note("HS-NEG-05", f"the peer's own data for v{version} is unknown: not compared")
            return
        expected = bool(own.get("peras_support"))
        case.check(
            "HS-NEG-05",
            data.get("peras_support") == expected,
            f"negotiated peras_support {data.get('peras_support')} for ours True and the peer's {expected}",
        )

    case.run(body)
