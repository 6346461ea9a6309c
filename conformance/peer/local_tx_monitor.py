"""LocalTxMonitor server (node-to-client 9) over snapshots of the peer's mempool.

As the node's `localTxMonitorServer`: MsgAcquire takes a snapshot and answers MsgAcquired with its slot;
MsgNextTx hands out the snapshot's transactions in order, each once, then `[6]` (none left); MsgHasTx and
MsgGetSizes (capacity, bytes, count) look at the whole snapshot; MsgGetMeasures (N2C v20 and later)
measures the transactions not yet handed out, as the node does, under the names the node uses
(`transaction_bytes` from the mempool, the others reported as 0 of the configured capacities, since this
peer does not evaluate scripts). MsgAwaitAcquire waits for a snapshot that differs from the acquired one
(other tickets or another slot): the behaviour polls the mempool on a timer (`After`) until it does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from .agent import Action, After, BehaviourFactory, Finish, Negotiated, Send
from .mempool import Mempool, MempoolSnapshot, MempoolTx
from .txwire import MEASURES_SINCE, Message, plain_version

PROTOCOL = "local-tx-monitor"
POLL_SECONDS = 1.0
"""How often a held MsgAwaitAcquire looks at the mempool again (before the time scale)."""
DEFAULT_CAPACITIES: Mapping[str, int] = {
    "ex_units_memory": 2 * 62_000_000,
    "ex_units_steps": 2 * 20_000_000_000,
    "reference_scripts_bytes": 2 * 1024 * 1024,
}
"""Capacities of the measures this peer does not track: two blocks' worth of mainnet's maximum
execution units, and a placeholder for reference scripts (the node derives them from the ledger)."""


class LocalTxMonitorServer:
    """See the module docstring."""

    protocol = PROTOCOL
    side = "responder"

    def __init__(
        self,
        mempool: Mempool,
        negotiated: Negotiated | None = None,
        *,
        poll_interval: float = POLL_SECONDS,
        capacities: Mapping[str, int] = DEFAULT_CAPACITIES,
    ) -> None:
        self.mempool = mempool
        self.version = plain_version(negotiated.version) if negotiated is not None else None
        self.poll_interval = poll_interval * (negotiated.time_scale if negotiated is not None else 1.0)
        self.capacities = dict(capacities)
        self.snapshot: MempoolSnapshot | None = None
        self.remaining: deque[MempoolTx] = deque()
        self.awaiting = False
        self._poll = 0

    def start(self) -> Sequence[Action]:
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        if not self.awaiting or token != f"poll-{self._poll}":
            return []
        return self._await()

    def on_message(self, message: Message) -> Sequence[Action]:
        name = message.name
        if name == "MsgAcquire":
            return self._acquire(self.mempool.snapshot())
        if name == "MsgAwaitAcquire":
            self.awaiting = True
            return self._await()
        if name == "MsgDone":
            return [Finish("done")]
        snapshot = self.snapshot
        if snapshot is None:
            return [Finish(f"{name} with no snapshot acquired")]
        if name == "MsgNextTx":
            tx = self.remaining.popleft().tx if self.remaining else None
            return [self._send("MsgReplyNextTx", tx=tx)]
        if name == "MsgHasTx":
            return [self._send("MsgReplyHasTx", has=snapshot.has(bytes(message.fields["txid"])))]
        if name == "MsgGetSizes":
            sizes = {"capacity": snapshot.capacity, "size": snapshot.size, "count": snapshot.count}
            return [self._send("MsgReplyGetSizes", sizes=sizes)]
        if name == "MsgGetMeasures":
            if self.version is not None and self.version < MEASURES_SINCE:
                return [Finish(f"MsgGetMeasures before node-to-client v{MEASURES_SINCE}")]
            return [self._send("MsgReplyGetMeasures", **self.measures(snapshot))]
        if name == "MsgRelease":
            self.snapshot = None
            self.remaining.clear()
            return []
        return [Finish(f"unexpected {name} in the local-tx-monitor server")]

    def measures(self, snapshot: MempoolSnapshot) -> dict[str, Any]:
        """The fields of MsgReplyGetMeasures: the transactions not yet handed out, against capacities."""
        size = sum(t.size for t in self.remaining)
        measures = {"transaction_bytes": {"size": size, "capacity": snapshot.capacity}}
        for name, capacity in sorted(self.capacities.items()):
            measures[name] = {"size": 0, "capacity": capacity}
        return {"tx_count": len(self.remaining), "measures": dict(sorted(measures.items()))}

    def _acquire(self, snapshot: MempoolSnapshot) -> list[Action]:
        self.snapshot = snapshot
        self.remaining = deque(snapshot.txs)
        self.awaiting = False
        return [self._send("MsgAcquired", slot=snapshot.slot)]

    def _await(self) -> list[Action]:
        current = self.mempool.snapshot()
        if self.snapshot is None or not current.same_as(self.snapshot):
            return self._acquire(current)
        self._poll += 1
        return [After(self.poll_interval, f"poll-{self._poll}")]

    @staticmethod
    def _send(name: str, **fields: Any) -> Send:
        return Send(Message(PROTOCOL, name, fields))


def server(mempool: Mempool, **options: Any) -> BehaviourFactory:
    """A factory of servers over one shared mempool."""
    return lambda negotiated: LocalTxMonitorServer(mempool, negotiated, **options)
