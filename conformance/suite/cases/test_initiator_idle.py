"""The tested initiator keeps its connection in use: it starts a mini-protocol within the node's protocol
idle timeout of its handshake (5 s node-to-node), because the node's connection manager closes an inbound
connection on which no mini-protocol runs that long (MUX-IDLE-01). Our side runs a node's responders with
that timer on; when it fires, the reference peer records the SHOULD finding (how long nothing ran) and
closes, as the node would."""

from __future__ import annotations

import pytest

from conformance.peer.connection import idle_limit
from conformance.suite.case import N2N, Case

from .serving import grace, node_side

pytestmark = pytest.mark.role("initiator")


@pytest.mark.requirement("MUX-IDLE-01")
@pytest.mark.area("connection")
def test_initiator_starts_a_mini_protocol_within_the_idle_timeout(case: Case) -> None:
    """Watched for the idle timeout and a grace after it: the initiator must have started at least one
    mini-protocol (and not finished them all) by then. A close of its own in the meantime is its business."""

    async def body() -> None:
        limit = idle_limit(N2N, case.target.time_scale)
        connection = await case.accept(behaviours=node_side(), idle_timeout=True)
        await connection.wait_closed(limit + grace(limit))  # our idle timer's finding is the verdict

    case.run(body)
