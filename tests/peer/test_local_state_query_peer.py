"""LocalStateQuery: acquire at points on and off the chain, the tips, the era-independent queries."""

from __future__ import annotations

import pytest

from conformance.peer.agent import Finish, Negotiated
from conformance.peer.local_client import ScriptedClient
from conformance.peer.local_state_query import LocalStateQueryServer, system_start_result
from conformance.vectors import load_vectors
from conformance.wire.cardano import ChainPoint, block_info
from conformance.wire.cbor import decode_item
from conformance.wire.message import Message

from .txlocal_loop import Loop

VECTORS = load_vectors()
V16, V20 = 0x8000 | 16, 0x8000 | 20
K = 3


class GoldenChain:
    """A chain view over the golden blocks' points, ordered by slot, numbered by position."""

    def __init__(self, k: int = K) -> None:
        infos = sorted(
            {b.slot: b for b in (block_info(v.data) for v in VECTORS if v.payload == "block-content")}.values(),
            key=lambda b: b.slot,
        )
        self.points = [ChainPoint(b.slot, b.hash) for b in infos]
        self.k = k

    def tip(self) -> tuple[ChainPoint | None, int | None]:
        return (self.points[-1], len(self.points) - 1) if self.points else (None, None)

    def immutable_tip(self) -> tuple[ChainPoint | None, int | None]:
        index = len(self.points) - 1 - self.k
        return (self.points[index], index) if index >= 0 else (None, None)

    def block_no_at(self, point: ChainPoint) -> int | None:
        return self.points.index(point) if point in self.points else None


CHAIN = GoldenChain()


def lsq(name: str, **fields: object) -> Message:
    return Message("local-state-query", name, dict(fields))


def at(point: ChainPoint | None) -> dict[str, object] | None:
    return None if point is None else {"slot": point.slot, "hash": point.hash}


GET_SYSTEM_START, GET_BLOCK_NO, GET_POINT = bytes.fromhex("8101"), bytes.fromhex("8102"), bytes.fromhex("8103")


def run(
    requests: list[Message], version: int = V16, chain: object = CHAIN, **options: object
) -> tuple[Loop, ScriptedClient]:
    negotiated = Negotiated("node-to-client", version)
    client = ScriptedClient("local-state-query", requests, negotiated)
    server = LocalStateQueryServer(chain, negotiated, **options)  # type: ignore[arg-type]
    return Loop("local-state-query", client, server, version).start(), client


def results(client: ScriptedClient) -> list[object]:
    return [decode_item(bytes(r.fields["result"]))[0] if r.name == "MsgResult" else r.name for r in client.replies]


def test_acquire_a_point_on_the_chain_then_query_it() -> None:
    point = CHAIN.points[-2]
    loop, client = run(
        [
            lsq("MsgAcquire", point=at(point)),
            lsq("MsgQuery", query=GET_POINT),
            lsq("MsgQuery", query=GET_BLOCK_NO),
            lsq("MsgRelease"),
        ]
    )
    assert results(client) == ["MsgAcquired", [point.slot, point.hash], [1, len(CHAIN.points) - 2]]
    assert loop.names[-2:] == ["MsgRelease", "MsgDone"] and loop.session.done
    loop.assert_clean()


def test_points_off_the_chain_and_too_old_fail_with_their_reason() -> None:
    off = ChainPoint(CHAIN.points[-1].slot, bytes(32))
    old = CHAIN.points[0]
    loop, client = run(
        [lsq("MsgAcquire", point=at(off)), lsq("MsgAcquire", point=at(old)), lsq("MsgAcquire", point=None)]
    )
    assert [r.fields.get("failure") for r in client.replies] == [1, 0, 0]
    loop.assert_clean()


def test_origin_is_acquired_on_a_chain_that_has_not_left_it() -> None:
    young = GoldenChain(k=len(CHAIN.points))
    loop, client = run(
        [
            lsq("MsgAcquire", point=None),
            lsq("MsgQuery", query=GET_POINT),
            lsq("MsgQuery", query=GET_BLOCK_NO),
            lsq("MsgRelease"),
        ],
        chain=young,
    )
    assert results(client) == ["MsgAcquired", [], [0]]
    loop.assert_clean()


def test_tips_reacquire_and_the_acquired_state_stays_fixed() -> None:
    chain = GoldenChain()
    tip, tip_no = chain.tip()
    immutable, immutable_no = chain.immutable_tip()
    requests = [
        lsq("MsgAcquireVolatileTip"),
        lsq("MsgQuery", query=GET_POINT),
        lsq("MsgReAcquireImmutableTip"),
        lsq("MsgQuery", query=GET_BLOCK_NO),
        lsq("MsgReAcquire", point=at(chain.points[1])),
        lsq("MsgAcquireImmutableTip"),
        lsq("MsgQuery", query=GET_POINT),
        lsq("MsgReAcquireVolatileTip"),
        lsq("MsgQuery", query=GET_SYSTEM_START),
        lsq("MsgRelease"),
    ]
    loop, client = run(requests, chain=chain)
    assert results(client) == [
        "MsgAcquired",
        [tip.slot, tip.hash],  # type: ignore[union-attr]
        "MsgAcquired",
        [1, immutable_no],
        "MsgFailure",  # too old: a failed re-acquire leaves the client idle
        "MsgAcquired",
        [immutable.slot, immutable.hash],  # type: ignore[union-attr]
        "MsgAcquired",
        [2017, 266, 78_291 * 10**12],
    ]
    loop.assert_clean()


def test_system_start_is_the_utctime_encoding() -> None:
    golden = next(v for v in VECTORS if v.id == "lsq-blueprint-getsystemstart-query")
    query = decode_item(golden.data)[0][1]
    assert query == [1]
    from datetime import UTC, datetime

    assert decode_item(system_start_result(datetime(2022, 6, 1, 0, 0, 1, 5, tzinfo=UTC)))[0] == [
        2022,
        152,
        10**12 + 5 * 10**6,
    ]


def test_golden_answers_are_given_back_for_block_queries() -> None:
    query = next(v.data for v in VECTORS if v.id == "lsq-consensus-query-conway-getepochno")
    result = next(v.data for v in VECTORS if v.id == "lsq-consensus-result-conway-epochno")
    loop, client = run(
        [lsq("MsgAcquireVolatileTip"), lsq("MsgQuery", query=query), lsq("MsgRelease")], answers={query: result}
    )
    assert bytes(client.replies[-1].fields["result"]) == result
    loop.assert_clean()


@pytest.mark.parametrize(
    ("query", "version", "why"),
    [
        ("820082068101", V20, "BlockQuery"),
        ("8104", V16, "requires at least QueryVersion3"),
        ("8104", V20, "needs a ledger"),
        ("8105", V20, "invalid size and tag (1, 5)"),
        ("820101", V20, "invalid size and tag (2, 1)"),
        ("a0", V20, "invalid size and tag"),
        ("81f5", V20, "invalid size and tag"),
    ],
)
def test_queries_the_node_could_not_decode_or_we_cannot_answer_end_the_behaviour_and_the_connection(
    query: str, version: int, why: str
) -> None:
    server = LocalStateQueryServer(CHAIN, Negotiated("node-to-client", version))
    server.on_message(lsq("MsgAcquireVolatileTip"))
    (finish,) = server.on_message(lsq("MsgQuery", query=bytes.fromhex(query)))
    assert isinstance(finish, Finish) and why in finish.reason and finish.close


def test_immutable_tip_is_refused_before_v16() -> None:
    server = LocalStateQueryServer(CHAIN, Negotiated("node-to-client", 0x8000 | 15))
    (finish,) = server.on_message(lsq("MsgAcquireImmutableTip"))
    assert isinstance(finish, Finish) and "v16" in finish.reason and finish.close
