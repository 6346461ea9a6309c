"""Block-fetch, the tested peer as initiator (the client): it fetches the blocks of the headers it followed
over chain-sync. Our Session judges its requests: each range names two points, the first not after the
second (BF-RANGE-01, a SHOULD), ranges are the only pipelined message and MsgClientDone comes only when
every batch is done (BF-PIPE-01), at most 100 ranges in flight (BF-PIPE-02)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from conformance.peer.agent import Action, Send
from conformance.peer.block_fetch import BlockFetchServer
from conformance.peer.chain import ChainStore
from conformance.peer.connection import Connection
from conformance.suite.case import Case
from conformance.wire import Message

from .serving import active, closed_by_initiator, node_side, patience, quiet, responder, settle, until

pytestmark = pytest.mark.role("initiator")
BF = "block-fetch"


def _ranges(connection: Connection) -> int:
    server = responder(connection, BF)
    return 0 if server is None else server.batches + server.refused + int((BF, "responder") in connection.finished)


async def _fetching(case: Case, connection: Connection) -> bool:
    """Whether the client asked for a range within `patience` (noted when not: a node fetches from hot peers)."""
    if await until(lambda: _ranges(connection) > 0 or not active(connection), patience(case)):
        return _ranges(connection) > 0
    case.note("BF-AGENCY-01", f"the initiator fetched no block on this connection within {patience(case):g} s")
    return False


@pytest.mark.requirement("BF-RANGE-01", "BF-PIPE-01", "BF-PIPE-02", "BF-AGENCY-01", "BF-MSG-01", "BF-CODEC-01")
@pytest.mark.area("BFIdle")
def test_client_requests_well_formed_ranges(case: Case) -> None:
    """The client fetches the blocks of the headers it followed; every range and its end are judged."""

    async def body() -> None:
        connection = await case.accept(behaviours=node_side())
        case.require(BF)
        if not await _fetching(case, connection):
            return
        await settle(lambda: _ranges(connection), quiet=quiet(case), within=patience(case))
        if closed_by_initiator(connection):  # a node drops a peer whose blocks it rejects
            case.note("BF-AGENCY-01", "the initiator closed the connection while fetching the blocks we served")

    case.run(body)


class _NoBlocks(BlockFetchServer):
    """A server that has none of the blocks asked for (allowed: the chain may have moved on)."""

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name == "MsgRequestRange":
            self.refused += 1
            return [Send(Message(BF, "MsgNoBlocks"))]
        return super().on_message(message)


@pytest.mark.requirement("BF-AGENCY-01", "BF-MSG-01", "BF-PIPE-01")
@pytest.mark.area("BFBusy")
def test_client_takes_msg_no_blocks(case: Case) -> None:
    """Every range is answered with MsgNoBlocks (a server that no longer has those blocks may say so): the
    client goes back to BFIdle and may ask again or stop; it must not break agency or pipelining."""

    async def body() -> None:
        chain = ChainStore.synthetic(30)
        behaviours = node_side(chain, without=(BF,))
        behaviours[(BF, "responder")] = lambda negotiated: _NoBlocks(chain, negotiated)
        connection = await case.accept(behaviours=behaviours)
        case.require(BF)
        if not await _fetching(case, connection):
            return
        await settle(lambda: _ranges(connection), quiet=quiet(case), within=patience(case))
        if closed_by_initiator(connection):  # a node may drop a peer that lacks what it announced
            case.note("BF-MSG-01", "the initiator closed the connection after MsgNoBlocks (a valid answer)")

    case.run(body)
