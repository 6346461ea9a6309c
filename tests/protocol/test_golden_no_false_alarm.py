"""No rule fires on real bytes: every golden message, observed in a state where it is legal.

Each valid golden message vector (every protocol, every version the vectors hold) and every message of
the stream vectors is observed by a `Session` that a prelude of legal messages has brought to a state
where the golden message is allowed; the prelude's bytes are `wire.encode` output chosen to agree with
the golden message (the intersection it reports was requested, the cookie it echoes was sent, ...).
Neither the prelude nor the golden bytes may raise a violation or leave a warning.

`test_the_rules_evaluated_on_golden_bytes` names which rules ran on golden bytes: a rule counts when a
golden message of the protocol and kind that its breaker (test_requirements.BREAKERS) breaks it with was
observed, so the list follows the code and the vectors rather than a hand-kept table.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance import wire
from conformance.golden import abbreviate
from conformance.protocol import TABLES, DecodeViolation, FakeClock, Session, Violation
from conformance.protocol.cardano_facts import block_info, tx_id, tx_size
from conformance.vectors import load_vectors
from conformance.wire import cbor
from conformance.wire.handshake import N2C_VERSIONS
from conformance.wire.message import Message
from conformance.wire.mux import StreamReassembler

from .moves import CHAIN, TXS, encode, version_data

INI, RES = "initiator", "responder"
N2C_LATEST = N2C_VERSIONS[-1]
Prelude = list[tuple[str, bytes]]


# -- the golden messages ------------------------------------------------------------------------------


def golden_messages() -> Iterator[tuple[str, str, list[bytes]]]:
    """(id, protocol, [bytes...]): one message per message vector, every message of a stream vector."""
    for vector in load_vectors():
        if vector.kind == "message" and vector.valid:
            yield vector.id, vector.protocol, [vector.data]
        elif vector.kind == "stream":
            yield vector.id, vector.protocol, list(StreamReassembler(vector.protocol).feed(vector.data))


GOLDEN = list(golden_messages())


def test_the_golden_vectors_are_loaded() -> None:
    """An empty list would make every test below pass without checking anything."""
    assert len(GOLDEN) >= 100
    assert {protocol for _, protocol, _ in GOLDEN} == set(TABLES)


# -- preludes: legal bytes that bring a session to where the golden message is allowed ---------------


def _e(protocol: str, name: str, **fields: Any) -> bytes:
    return encode(protocol, name, **fields)


def handshake(message: Message) -> Prelude:
    protocol, fields = message.protocol, message.fields
    n2c = protocol == "n2c-handshake"
    rnd = random.Random(0)
    name = message.name
    if name == "MsgProposeVersions":
        return []
    if name == "MsgAcceptVersion":
        proposal = {fields["version"]: dict(fields["version_data"])}
    elif name == "MsgQueryReply":
        key = next(iter(fields["versions"]))
        proposal = {key: {**version_data(n2c, key, rnd), "query": True}}
    elif name == "MsgRefuse" and fields["reason"]["kind"] != "VersionMismatch":
        key = fields["reason"]["version"]
        proposal = {key: version_data(n2c, key, rnd)}
    else:  # MsgReplyVersions, a VersionMismatch refusal: a proposal sharing no version
        proposal = {}
    return [(INI, _e(protocol, "MsgProposeVersions", versions=proposal))]


def chain_sync(message: Message) -> Prelude:
    protocol, name = message.protocol, message.name
    if name in ("MsgRequestNext", "MsgFindIntersect", "MsgDone"):
        return []
    if name == "MsgIntersectFound":
        return [(INI, _e(protocol, "MsgFindIntersect", points=[message.fields["point"]]))]
    if name == "MsgIntersectNotFound":
        return [(INI, _e(protocol, "MsgFindIntersect", points=[]))]
    return [(INI, _e(protocol, "MsgRequestNext"))]  # MsgAwaitReply, MsgRollForward, MsgRollBackward


def block_fetch(message: Message) -> Prelude:
    name = message.name
    if name in ("MsgRequestRange", "MsgClientDone"):
        return []
    if name == "MsgBlock":
        found = block_info(message.fields["block"])
        point = {"slot": found.slot, "hash": found.hash} if found is not None else CHAIN[0][0]
        return [_range(point, point), (RES, _e("block-fetch", "MsgStartBatch"))]
    if name == "MsgBatchDone":
        return [
            _range(CHAIN[0][0], CHAIN[0][0]),
            (RES, _e("block-fetch", "MsgStartBatch")),
            (RES, _e("block-fetch", "MsgBlock", block=CHAIN[0][1])),
        ]
    return [_range(CHAIN[0][0], CHAIN[1][0])]  # MsgStartBatch, MsgNoBlocks


def _range(low: Any, high: Any) -> tuple[str, bytes]:
    return (INI, _e("block-fetch", "MsgRequestRange", from_point=low, to_point=high))


def block_fetch_stream(messages: list[Message]) -> Prelude:
    """A whole batch: request exactly the range its blocks span."""
    points = [block_info(m.fields["block"]) for m in messages if m.name == "MsgBlock"]
    low, high = points[0], points[-1]
    assert low is not None and high is not None
    return [_range({"slot": low.slot, "hash": low.hash}, {"slot": high.slot, "hash": high.hash})]


def _announce(count: int, sizes: list[int] | None = None, ids: list[bytes] | None = None) -> Prelude:
    """MsgInit, a blocking request for `count` ids and a reply that announces them."""
    ids = ids or [TXS[i][0] for i in range(count)]
    sizes = sizes or [TXS[i][2] for i in range(count)]
    prelude = [(INI, _e("tx-submission2", "MsgInit"))]
    if count:
        prelude.append((RES, _e("tx-submission2", "MsgRequestTxIds", blocking=True, ack=0, req=count)))
        txids = [{"txid": t, "size": s} for t, s in zip(ids, sizes, strict=True)]
        prelude.append((INI, _e("tx-submission2", "MsgReplyTxIds", txids=txids)))
    return prelude


def tx_submission(message: Message) -> Prelude:
    name, fields = message.name, message.fields
    if name == "MsgInit":
        return []
    if name == "MsgRequestTxIds":
        outstanding = fields["ack"] if fields["blocking"] else fields["ack"] + 1
        return _announce(outstanding)
    if name == "MsgReplyTxIds":
        count = max(len(fields["txids"]), 1)
        blocking = [(RES, _e("tx-submission2", "MsgRequestTxIds", blocking=True, ack=0, req=count))]
        if fields["txids"]:
            return [(INI, _e("tx-submission2", "MsgInit")), *blocking]
        request = _e("tx-submission2", "MsgRequestTxIds", blocking=False, ack=0, req=1)
        return [*_announce(1), (RES, request)]  # an empty reply answers only a non-blocking request
    if name == "MsgRequestTxs":
        ids = [bytes(t) for t in fields["txids"]]
        return _announce(len(ids), ids=ids, sizes=[100] * len(ids))
    if name == "MsgReplyTxs":
        ids, sizes = [], []
        for index, tx in enumerate(fields["txs"]):
            key = tx_id(tx)
            ids.append(cbor.encode_item([key[0], key[1]]) if key else TXS[index][0])
            sizes.append(tx_size(tx) or 100)
        asked = _e("tx-submission2", "MsgRequestTxs", txids=ids)
        return [*_announce(len(ids), ids=ids, sizes=sizes), (RES, asked)]
    blocking = _e("tx-submission2", "MsgRequestTxIds", blocking=True, ack=0, req=1)
    return [(INI, _e("tx-submission2", "MsgInit")), (RES, blocking)]  # MsgDone


def keep_alive(message: Message) -> Prelude:
    if message.name == "MsgKeepAliveResponse":
        return [(INI, _e("keep-alive", "MsgKeepAlive", cookie=message.fields["cookie"]))]
    return []


def peer_sharing(message: Message) -> Prelude:
    if message.name == "MsgSharePeers":
        return [(INI, _e("peer-sharing", "MsgShareRequest", amount=max(len(message.fields["peers"]), 1)))]
    return []


def local_tx_submission(message: Message) -> Prelude:
    if message.name in ("MsgAcceptTx", "MsgRejectTx"):
        return [(INI, _e("local-tx-submission", "MsgSubmitTx", tx=TXS[0][1]))]
    return []


_LSQ_ACQUIRED = ("MsgQuery", "MsgRelease", "MsgReAcquire", "MsgReAcquireVolatileTip", "MsgReAcquireImmutableTip")


def local_state_query(message: Message) -> Prelude:
    name = message.name
    acquire = (INI, _e("local-state-query", "MsgAcquireVolatileTip"))
    acquired = (RES, _e("local-state-query", "MsgAcquired"))
    if name in ("MsgAcquired", "MsgFailure"):
        return [acquire]
    if name in _LSQ_ACQUIRED:
        return [acquire, acquired]
    if name == "MsgResult":
        return [acquire, acquired, (INI, _e("local-state-query", "MsgQuery"))]
    return []


_LTM_REQUESTS = {
    "MsgReplyNextTx": "MsgNextTx",
    "MsgReplyHasTx": "MsgHasTx",
    "MsgReplyGetSizes": "MsgGetSizes",
    "MsgReplyGetMeasures": "MsgGetMeasures",
}


def local_tx_monitor(message: Message) -> Prelude:
    name = message.name
    acquire = (INI, _e("local-tx-monitor", "MsgAcquire"))
    acquired = (RES, _e("local-tx-monitor", "MsgAcquired", slot=1))
    if name in ("MsgAcquire", "MsgDone"):
        return []
    if name == "MsgAcquired":
        return [acquire]
    if name in _LTM_REQUESTS:
        return [acquire, acquired, (INI, _e("local-tx-monitor", _LTM_REQUESTS[name]))]
    return [acquire, acquired]


PRELUDES: dict[str, Callable[[Message], Prelude]] = {
    "handshake": handshake,
    "n2c-handshake": handshake,
    "chain-sync": chain_sync,
    "local-chain-sync": chain_sync,
    "block-fetch": block_fetch,
    "tx-submission2": tx_submission,
    "keep-alive": keep_alive,
    "peer-sharing": peer_sharing,
    "local-tx-submission": local_tx_submission,
    "local-state-query": local_state_query,
    "local-tx-monitor": local_tx_monitor,
}

N2C_PROTOCOLS = ("local-chain-sync", "local-tx-submission", "local-state-query", "local-tx-monitor")


def session_for(protocol: str, messages: list[Message]) -> Session:
    """A session with the options the golden messages need to be legal: the newest N2C version (so the
    version-gated rules run), and a tx window wide enough for the largest golden request."""
    options: dict[str, Any] = {}
    if protocol in N2C_PROTOCOLS:
        options["version"] = N2C_LATEST
    if protocol == "tx-submission2":
        asked = [m.fields["ack"] + m.fields["req"] for m in messages if m.name == "MsgRequestTxIds"]
        options["window"] = max([10, *asked])
    return Session(protocol, clock=FakeClock(), **options)


@pytest.mark.parametrize("vector_id, protocol, datas", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_a_golden_message_in_a_state_where_it_is_legal_fires_no_rule(
    vector_id: str, protocol: str, datas: list[bytes]
) -> None:
    messages = [wire.decode(protocol, data) for data in datas]
    if len(messages) > 1:
        prelude = block_fetch_stream(messages)
    else:
        prelude = PRELUDES[protocol](messages[0])
    session = session_for(protocol, messages)
    for sender, data in prelude:
        session.observe(sender, data)
    for message, data in zip(messages, datas, strict=True):
        sender = session.table.sender_of(message.name)
        session.observe(sender, data)
        assert session.history[-1].message == message
    assert session.warnings == [], abbreviate([str(w) for w in session.warnings])


# -- the bytes the issue quotes: each a false alarm before ----------------------------------------------


def _observe_all(protocol: str, *moves: tuple[str, str], **options: Any) -> Session:
    session = Session(protocol, clock=FakeClock(), **options)
    for sender, hexed in moves:
        session.observe(sender, bytes.fromhex(hexed))
    return session


def test_a_real_reply_get_sizes_fires_no_rule_and_the_session_moves_on() -> None:
    session = _observe_all(
        "local-tx-monitor",
        (INI, "8101"),
        (RES, "82021a00010000"),
        (INI, "8109"),
        (RES, "820a831a0002c000185b01"),
        (INI, "8103"),
    )
    assert session.state == "StIdle" and session.warnings == []


def test_node_to_node_v10_accepted_fires_no_rule() -> None:
    session = _observe_all("handshake", (INI, "8200a10a821a2d964a09f4"), (RES, "83010a821a2d964a09f4"))
    assert session.done and session.warnings == []


@pytest.mark.parametrize("version", [11, 12])
@pytest.mark.parametrize("peer_sharing", [0, 1, 2])
def test_node_to_node_v11_and_v12_accept_peer_sharing_up_to_2(version: int, peer_sharing: int) -> None:
    data = f"841a2d964a09f4{peer_sharing:02x}f4"
    session = _observe_all("handshake", (INI, f"8200a1{version:02x}{data}"), (RES, f"8301{version:02x}{data}"))
    assert session.done and session.warnings == []


def test_unknown_version_keys_out_of_order_are_skipped_as_the_node_skips_them() -> None:
    # keys 6 (unknown), 14, 5 (unknown), 15: the known keys ascend, the unknown ones stand anywhere
    proposal = "8200a4" + "06f6" + "0e841a2d964a09f401f4" + "05f6" + "0f841a2d964a09f401f4"
    session = _observe_all("handshake", (INI, proposal))
    assert session.state == "StConfirm" and session.warnings == []


def test_known_version_keys_out_of_order_name_the_proposal_rule() -> None:
    proposal = "8200a2" + "0f841a2d964a09f401f4" + "0e841a2d964a09f401f4"
    with pytest.raises(DecodeViolation) as caught:
        _observe_all("handshake", (INI, proposal))
    assert caught.value.requirement == "HS-PROPOSE-01"


def test_a_node_to_client_proposal_with_a_key_without_bit_15_is_accepted_with_v23() -> None:
    session = _observe_all(
        "n2c-handshake",
        (INI, "8200a20e841a2d964a09f400f4198017821a2d964a09f4"),
        (RES, "8301198017821a2d964a09f4"),
    )
    assert session.done
    assert [(w.requirement, w.severity) for w in session.warnings] == [("HS-N2C-01", "SHOULD")]


def test_a_block_whose_list_head_is_written_long_fires_no_rule() -> None:
    long_head = bytes.fromhex("9802") + cbor.encode_item(7) + cbor.encode_item([[], [], {}, {}, []])
    forward = encode("local-chain-sync", "MsgRollForward", block=long_head, tip={"point": None, "block_no": 1})
    session = Session("local-chain-sync", clock=FakeClock())
    session.observe(INI, encode("local-chain-sync", "MsgRequestNext"))
    session.observe(RES, forward)
    assert session.state == "StIdle" and session.warnings == []


# -- which rules ran on golden bytes ----------------------------------------------------------------


def breaking_messages() -> dict[str, tuple[str, str]]:
    """Rule id -> (protocol, message name) of the message its breaker breaks it with."""
    from .test_requirements import BREAKERS

    found: dict[str, tuple[str, str]] = {}
    for requirement, breaker in BREAKERS.items():
        if requirement.startswith("MUX"):
            continue
        try:
            breaker()
        except Violation as violation:
            found[requirement] = (violation.protocol or "", _name_of(violation))
    return found


def _name_of(violation: Violation) -> str:
    message = violation.message
    if isinstance(message, (bytes, bytearray)):
        table = TABLES[violation.protocol or ""]
        rows = [row for row in table.codec_rules if row.requirement == violation.requirement]
        return rows[0].message if rows else ""
    return str(getattr(message, "name", ""))


def rules_evaluated_on_golden_bytes() -> tuple[set[str], set[str]]:
    """(covered, not covered): rules beyond the tables whose breaking message kind a golden vector has."""
    observed = {(p, wire.decode(p, d).name) for _, p, datas in GOLDEN for d in datas}
    breaking = breaking_messages()
    covered = {rid for rid, where in breaking.items() if where in observed}
    return covered, set(breaking) - covered


def test_the_rules_evaluated_on_golden_bytes() -> None:
    covered, missing = rules_evaluated_on_golden_bytes()
    print(f"\nrules evaluated on golden bytes ({len(covered)}): {', '.join(sorted(covered))}")
    print(f"rules without a golden message of their kind ({len(missing)}): {', '.join(sorted(missing))}")
    # the false alarms issue 6 found must stay covered by real bytes
    assert {"LTM-SIZES-01", "HS-VDATA-01", "HS-PROPOSE-01", "HS-N2C-01", "CS-BLOCK-01"} <= covered


@pytest.mark.parametrize("mode", [1, 2])
def test_peer_sharing_runs_after_v11_or_v12_negotiated_private_or_public_sharing(mode: int) -> None:
    accepted = wire.decode("handshake", bytes.fromhex(f"83010c841a2d964a09f4{mode:02x}f4"))
    session = Session("peer-sharing", clock=FakeClock(), version_data=accepted.fields["version_data"])
    session.observe(INI, encode("peer-sharing", "MsgShareRequest", amount=1))
    assert session.state == "StBusy" and session.warnings == []
