"""LocalTxMonitor over mempool snapshots that change between acquisitions."""

from __future__ import annotations

from conformance.peer.agent import After, Negotiated
from conformance.peer.local_client import ScriptedClient
from conformance.peer.local_tx_monitor import LocalTxMonitorServer
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.wire.message import Message

from .txlocal_loop import Loop

GOLDEN = golden_transactions()
V16, V20 = 0x8000 | 16, 0x8000 | 20


def ltm(name: str, **fields: object) -> Message:
    return Message("local-tx-monitor", name, dict(fields))


def start(mempool: Mempool, version: int, requests: list[Message]) -> tuple[Loop, ScriptedClient, LocalTxMonitorServer]:
    negotiated = Negotiated("node-to-client", version, time_scale=0.5)
    client = ScriptedClient("local-tx-monitor", requests, negotiated, done=False)
    server = LocalTxMonitorServer(mempool, negotiated)
    return Loop("local-tx-monitor", client, server, version).start(), client, server


def test_next_tx_has_tx_and_sizes_over_one_snapshot() -> None:
    mempool = Mempool(GOLDEN[:3], slot=42)
    first = list(mempool)
    requests = [ltm("MsgAcquire"), ltm("MsgGetSizes"), *[ltm("MsgNextTx")] * 4, ltm("MsgHasTx", txid=first[1].txid)]
    loop, client, _ = start(mempool, V16, requests)
    # the mempool changes after the acquisition: the snapshot does not
    mempool.add(GOLDEN[3])
    mempool.remove(first[1].txid)
    loop.act("initiator", client.more([ltm("MsgHasTx", txid=list(mempool)[-1].txid), ltm("MsgGetSizes")]))
    replies = client.replies
    assert replies[0].name == "MsgAcquired" and replies[0].fields["slot"] == 42
    sizes = {"capacity": mempool.capacity, "size": sum(t.size for t in first), "count": 3}
    assert dict(replies[1].fields["sizes"]) == sizes
    assert [r.fields["tx"] for r in replies[2:6]] == [*GOLDEN[:3], None]
    assert [r.fields["has"] for r in replies[6:8]] == [True, False]
    assert dict(replies[8].fields["sizes"]) == sizes
    loop.assert_clean()


def test_a_new_acquisition_sees_the_changed_mempool() -> None:
    mempool = Mempool(GOLDEN[:2])
    loop, client, _ = start(mempool, V16, [ltm("MsgAcquire"), ltm("MsgNextTx"), ltm("MsgRelease")])
    mempool.add(GOLDEN[2])
    mempool.remove(list(mempool)[0].txid)
    loop.act("initiator", client.more([ltm("MsgAcquire"), ltm("MsgNextTx"), ltm("MsgNextTx"), ltm("MsgNextTx")]))
    assert [r.fields.get("tx") for r in client.replies if r.name == "MsgReplyNextTx"] == [
        GOLDEN[0],
        GOLDEN[1],
        GOLDEN[2],
        None,
    ]
    loop.act("initiator", client.more([ltm("MsgRelease")]))
    client.done = True
    loop.act("initiator", client.more([]))
    assert loop.names[-2:] == ["MsgRelease", "MsgDone"] and loop.session.done
    loop.assert_clean()


def test_await_acquire_waits_for_a_different_snapshot() -> None:
    mempool = Mempool(GOLDEN[:1], slot=5)
    loop, client, server = start(mempool, V16, [ltm("MsgAcquire"), ltm("MsgAwaitAcquire")])
    assert loop.names == ["MsgAcquire", "MsgAcquired", "MsgAwaitAcquire"]
    (timer,) = loop.timers["responder"]
    assert isinstance(timer, After) and timer.seconds == 0.5  # the poll, at the negotiated time scale
    loop.fire("responder")
    assert loop.names[-1] == "MsgAwaitAcquire" and len(loop.timers["responder"]) == 1
    mempool.advance(6)  # a new slot is a different snapshot, even with the same transactions
    loop.fire("responder")
    assert loop.names[-1] == "MsgAcquired" and client.replies[-1].fields["slot"] == 6
    assert server.on_timer("poll-1") == []
    loop.act("initiator", client.more([ltm("MsgAwaitAcquire")]))
    mempool.add(GOLDEN[1])
    loop.fire("responder")
    loop.act("initiator", client.more([ltm("MsgNextTx"), ltm("MsgNextTx")]))
    assert [r.fields.get("tx") for r in client.replies if r.name == "MsgReplyNextTx"] == GOLDEN[:2]
    loop.assert_clean()


def test_measures_count_what_is_not_yet_handed_out_from_v20() -> None:
    mempool = Mempool(GOLDEN[:3])
    sizes = [t.size for t in mempool]
    loop, client, _ = start(
        mempool, V20, [ltm("MsgAcquire"), ltm("MsgGetMeasures"), ltm("MsgNextTx"), ltm("MsgGetMeasures")]
    )
    first, second = (r.fields for r in client.replies if r.name == "MsgReplyGetMeasures")
    assert first["tx_count"] == 3 and second["tx_count"] == 2
    assert dict(first["measures"]["transaction_bytes"]) == {"size": sum(sizes), "capacity": mempool.capacity}
    assert dict(second["measures"]["transaction_bytes"])["size"] == sum(sizes[1:])
    assert set(first["measures"]) == {
        "transaction_bytes",
        "ex_units_memory",
        "ex_units_steps",
        "reference_scripts_bytes",
    }
    loop.assert_clean()


def test_measures_are_refused_before_v20() -> None:
    server = LocalTxMonitorServer(Mempool(), Negotiated("node-to-client", V16))
    server.on_message(ltm("MsgAcquire"))
    (finish,) = server.on_message(ltm("MsgGetMeasures"))
    assert "v20" in getattr(finish, "reason", "")
