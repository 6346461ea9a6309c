"""Handshake, the tested peer as initiator: its proposal is well-formed, it goes on with the version we
accept (the highest common one, as a node answers), and it takes a refusal: it closes the connection,
sends nothing more on it, and comes back on a new one.

Our Session judges the proposal (HS-PROPOSE-01 key order, HS-VDATA-01 data shapes, HS-BYTES-01,
HS-TIME-01); the cases check what only a conversation shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.suite.case import Case
from conformance.wire import Message
from conformance.wire.handshake import N2N_VERSIONS

from .serving import (
    MINI_PROTOCOLS,
    accept_scripted,
    active,
    closed_by_initiator,
    count,
    grace,
    node_side,
    patience,
    received,
    until,
)

pytestmark = pytest.mark.role("initiator")
HS = "handshake"
HANDSHAKE_LIMIT = 10.0  # StPropose / StConfirm (HS-TIME-01)
UNOFFERED = 10
"""The one version a refusing responder says it has: removed from nodes since 2024, proposed by none."""


def _proposed(proposal: Message) -> dict[Any, Any]:
    return dict(proposal.fields.get("versions") or {})


@pytest.mark.requirement(
    "HS-PROPOSE-01", "HS-VDATA-01", "HS-MSG-01", "HS-CODEC-01", "HS-BYTES-01", "HS-TIME-01", "HS-NEG-01"
)
@pytest.mark.area("StPropose")
def test_proposal_is_well_formed(case: Case) -> None:
    """The initiator proposes within 10 s of connecting, a definite map of ascending versions whose data
    have their declared shapes (judged by our Session); it proposes the run's network magic."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side())
        proposal = received(connection, HS, "MsgProposeVersions")
        if proposal is None:
            return  # it did not decode: our Session's violation is the finding
        versions = _proposed(proposal)
        magics = {d.get("network_magic") for d in versions.values() if isinstance(d, dict)}
        case.check(
            "HS-NEG-01",
            magics <= {case.target.magic},
            f"the initiator proposed network magic {sorted(m for m in magics if m is not None)};"
            f" the run's --magic is {case.target.magic}",
        )
        if any(isinstance(d, dict) and d.get("query") for d in versions.values()):
            case.note("HS-QUERY-02", "the initiator asked for the version table (query = true), not a connection")

    case.run(body)


@pytest.mark.requirement("HS-ACCEPT-01", "HS-NEG-01")
@pytest.mark.area("StConfirm")
def test_initiator_goes_on_with_the_version_we_accept(case: Case) -> None:
    """We answer as a node does: MsgAcceptVersion of the highest common version with the negotiated data.
    The initiator re-checks it (the node: `acceptableVersion`) and then runs its mini-protocols on the
    connection; closing at once instead means it refused a valid acceptance."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side())
        proposal = received(connection, HS, "MsgProposeVersions")
        if connection.negotiated is None:
            refusal = connection.refusal.fields.get("reason") if connection.refusal is not None else None
            if proposal is not None and refusal is not None and refusal.get("kind") == "VersionMismatch":
                case.unsupported(f"the initiator proposes {sorted(_proposed(proposal))}, none of ours {refusal}")
            if refusal is not None:
                case.fail("HS-NEG-01", f"we had to refuse the initiator's proposal: {refusal}")
            if connection.query_reply is not None:
                case.unsupported("the initiator asked for the version table (query), not for a connection")
            return  # it broke a rule our Session reported, or closed: nothing to go on with
        version, data = connection.negotiated.version, dict(connection.negotiated.version_data)
        started = await until(
            lambda: any(count(connection, p) for p in MINI_PROTOCOLS) or not active(connection),
            patience(case),
        )
        if closed_by_initiator(connection) and not any(count(connection, p) for p in MINI_PROTOCOLS):
            case.fail(
                "HS-ACCEPT-01",
                f"the initiator closed the connection after our MsgAcceptVersion of version {version} (the"
                f" highest version both sides have, with the negotiated data {data})"
                " without running any mini-protocol: it did not take a valid acceptance",
            )
        if not started:
            case.note(
                "HS-ACCEPT-01", f"the initiator kept the connection but ran no mini-protocol for {patience(case):g} s"
            )

    case.run(body)


@pytest.mark.requirement("HS-AGENCY-01", "HS-MSG-01", "HS-TIME-01")
@pytest.mark.area("StDone")
@pytest.mark.parametrize("reason", ["VersionMismatch", "Refused"])
def test_refusal_ends_the_connection(case: Case, reason: str) -> None:
    """We refuse the proposal (no common version, or Refused naming its highest version). The handshake is
    over (StDone): the initiator sends nothing more and closes the connection, as the node does on a
    refusal; it may then connect again (the next case takes that connection)."""

    async def body() -> None:
        connection, proposal = await accept_scripted(case, versions=(UNOFFERED,))
        proposed = sorted(k for k in _proposed(proposal) if isinstance(k, int))
        if reason == "VersionMismatch":
            if UNOFFERED in proposed:
                case.unsupported(f"the initiator proposes version {UNOFFERED}; this case refuses with it")
            refuse: dict[str, Any] = {"kind": "VersionMismatch", "versions": [UNOFFERED]}
        else:
            known = [k for k in proposed if k in N2N_VERSIONS]
            if not known:
                case.unsupported(f"the initiator proposes no version this suite knows: {proposed}")
            refuse = {"kind": "Refused", "version": known[-1], "message": "refused by the conformance suite"}
        await connection.send(HS, Message(HS, "MsgRefuse", {"reason": refuse}))
        within = case.limit(HANDSHAKE_LIMIT) + grace(case.limit(HANDSHAKE_LIMIT))
        await case.expect_close(
            connection,
            within=within,
            requirement="HS-AGENCY-01",
            why=f"our MsgRefuse {reason}: the handshake is over (StDone) and a refused initiator closes"
            " the connection, as the node does",
        )
        extra = count(connection, HS) - 1
        case.check("HS-AGENCY-01", extra == 0, f"the initiator sent {extra} handshake messages after MsgRefuse")

    case.run(body)
