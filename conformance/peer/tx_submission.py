"""TxSubmission2 in both roles, obeying the window, ack and blocking rules exactly (PROTOCOLS.md section 7).

Roles are inverted: the connection's initiator is the outbound side (it holds the transactions, sends
MsgInit first, then answers); the responder is the inbound side (it pulls, and has agency in StIdle).

Outbound (`TxSubmissionOutbound`), as the node's `txSubmissionOutbound`: it keeps the FIFO of ids it
announced and not yet acknowledged, and announces the mempool's transactions after the last one it
announced. A non-blocking MsgRequestTxIds is answered at once, with an empty list when there is nothing
new; a blocking one is held until a transaction arrives (`offer(tx)`, or a poll of the shared mempool on a
timer) or until `stop()`, which answers it with MsgDone. A request that breaks a rule ends the behaviour
with the node's error name (the connection's Session has normally refused it before).

Inbound (`TxSubmissionInbound`): one request at a time (the node pipelines; not pipelining is allowed).
It asks for ids while the window has room and the last reply was not empty (non-blocking, since ids stay
unacknowledged), then for the bodies of the announced ids it does not have (`max_txs` per request), adds
them to its mempool, acknowledges every id it is done with, and asks with a blocking request (acking all)
only when nothing stays unacknowledged. Defaults are the node's V1 logic: window 10, 3 ids and 2 txs per
request. Like the node, it ends on more ids than it asked for (ProtocolErrorTxIdsNotRequested) and on a
transaction it did not ask for (ProtocolErrorTxNotRequested).

Fault switches, for the fault zoo: constructor options, default off, each used once at its first chance.
Inbound: `ack_too_many` (TX-ACK-01), `over_window` (TX-WINDOW-01), `blocking_with_unacked` (TX-BLOCK-01),
`nonblocking_when_idle` (TX-BLOCK-02), `request_unannounced` (TX-REQTX-01). Outbound: `reply_too_many`
(TX-REPLY-02: one id more than requested), `send_unrequested` (TX-REPLYTX-01: a transaction nobody asked
for), `wrong_size` (TX-SIZE-01, a SHOULD: an announced size 96 bytes off).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .agent import Action, After, BehaviourFactory, Finish, Negotiated, Send
from .mempool import Identified, MalformedTx, Mempool, MempoolTx, TxKey, identify, txid_key
from .txwire import MAX_TX_SIZE_DISCREPANCY, MAX_UNACKED, Message, encode_item

PROTOCOL = "tx-submission2"
NODE_MAX_IDS = 3
"""Ids the node's inbound V1 logic asks for at a time (`maxTxIdsToRequest`)."""
NODE_MAX_TXS = 2
"""Transactions the node's inbound V1 logic asks for at a time (`maxTxToRequest`)."""
POLL_SECONDS = 1.0
"""How often a held blocking request looks at the shared mempool again (before the time scale)."""


def _switched(**switches: bool) -> set[str]:
    """The names of the fault switches that are on."""
    return {name for name, on in switches.items() if on}


def _message(name: str, **fields: Any) -> Message:
    return Message(PROTOCOL, name, fields)


def _scale(negotiated: Negotiated | None) -> float:
    return negotiated.time_scale if negotiated is not None else 1.0


class TxSubmissionOutbound:
    """The tx sender (initiator): see the module docstring."""

    protocol = PROTOCOL
    side = "initiator"

    def __init__(
        self,
        mempool: Mempool,
        negotiated: Negotiated | None = None,
        *,
        window: int = MAX_UNACKED,
        poll_interval: float = POLL_SECONDS,
        reply_too_many: bool = False,
        wrong_size: bool = False,
        send_unrequested: bool = False,
    ) -> None:
        self.mempool = mempool
        self.faults = _switched(reply_too_many=reply_too_many, wrong_size=wrong_size, send_unrequested=send_unrequested)
        self.window = window
        self.poll_interval = poll_interval * _scale(negotiated)
        self.unacked: deque[MempoolTx] = deque()
        self.requestable: dict[TxKey, MempoolTx] = {}
        """Announced, unacknowledged and not yet requested: what MsgRequestTxs may name."""
        self.last_ticket = 0
        self.held: int | None = None
        """The `req` of a blocking request that waits for a transaction."""
        self.stopping = False
        self.done = False
        self.sent_txs = 0
        self._poll = 0

    def start(self) -> Sequence[Action]:
        return [Send(_message("MsgInit"))]

    def offer(self, gentx: bytes) -> Sequence[Action]:
        """Add a transaction to the mempool; answers a held blocking request with it."""
        self.mempool.add(gentx)
        return self._release()

    def stop(self) -> Sequence[Action]:
        """Finish: a held blocking request is answered with MsgDone, else the next blocking one is."""
        self.stopping = True
        if self.held is not None and not self.done:
            return self._done()
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        if token != f"poll-{self._poll}" or self.held is None:
            return []
        actions = self._release()
        return actions or [self._wait()]

    def on_message(self, message: Message) -> Sequence[Action]:
        if self.done:
            return []
        fields = message.fields
        if message.name == "MsgRequestTxIds":
            return self._request_ids(bool(fields.get("blocking")), fields.get("ack"), fields.get("req"))
        if message.name == "MsgRequestTxs":
            return self._request_txs(list(fields.get("txids") or []))
        return self._error(f"unexpected {message.name} in the outbound side")

    # -- the requests -----------------------------------------------------------------------------

    def _request_ids(self, blocking: bool, ack: Any, req: Any) -> Sequence[Action]:
        if self.held is not None:
            return self._error("MsgRequestTxIds while a blocking request is still held")
        if not isinstance(ack, int) or not isinstance(req, int):
            return self._error("ProtocolErrorRequestedNothing")
        if ack > len(self.unacked):
            return self._error("ProtocolErrorAckedTooManyTxids")
        if len(self.unacked) - ack + req > self.window:
            return self._error(f"ProtocolErrorRequestedTooManyTxids {req} {self.window}")
        for _ in range(ack):
            self.requestable.pop(self.unacked.popleft().key, None)
        if blocking:
            if req == 0:
                return self._error("ProtocolErrorRequestedNothing")
            if self.unacked:
                return self._error("ProtocolErrorRequestBlocking")
            if self.stopping:
                return self._done()
            self.held = req
            return self._release() or [self._wait()]
        if req == 0 and ack == 0:
            return self._error("ProtocolErrorRequestedNothing")
        if not self.unacked:
            return self._error("ProtocolErrorRequestNonBlocking")
        return [self._reply_ids(self._fresh(req))]

    def _request_txs(self, txids: list[Any]) -> Sequence[Action]:
        keys: list[TxKey] = []
        for txid in txids:
            try:
                key = txid_key(bytes(txid))
            except (TypeError, ValueError):
                return self._error("ProtocolErrorRequestedUnavailableTx")
            if key not in self.requestable:
                return self._error("ProtocolErrorRequestedUnavailableTx")
            keys.append(key)
        txs: list[bytes] = []
        for key in keys:  # an id named twice in one request is answered twice, as the node does
            held = self.mempool.get(self.requestable[key].txid)
            if held is not None:  # gone from the mempool: left out, as the node does
                txs.append(held.tx)
        for key in keys:
            self.requestable.pop(key, None)
        if "send_unrequested" in self.faults:
            extra = [t.tx for t in self.mempool.after(0) if t.key not in keys][:1]
            if extra:
                self.faults.discard("send_unrequested")
                txs += extra
        self.sent_txs += len(txs)
        return [Send(_message("MsgReplyTxs", txs=txs))]

    # -- replies ----------------------------------------------------------------------------------

    def _fresh(self, req: int) -> list[MempoolTx]:
        """The next `req` transactions to announce (one more, once, with `reply_too_many`)."""
        fresh = self.mempool.after(self.last_ticket, req + 1 if "reply_too_many" in self.faults else req)
        if len(fresh) > req:
            self.faults.discard("reply_too_many")
        return fresh

    def _reply_ids(self, fresh: list[MempoolTx]) -> Send:
        announced = []
        for entry in fresh:
            self.unacked.append(entry)
            self.requestable[entry.key] = entry
            self.last_ticket = entry.ticket
            size = entry.size
            if "wrong_size" in self.faults:
                self.faults.discard("wrong_size")
                size += 3 * MAX_TX_SIZE_DISCREPANCY  # well past the tolerance, whatever the size measures
            announced.append({"txid": entry.txid, "size": size})
        return Send(_message("MsgReplyTxIds", txids=announced))

    def _release(self) -> list[Action]:
        """Answer a held blocking request when the mempool has something new."""
        if self.held is None or self.done:
            return []
        fresh = self._fresh(self.held)
        if not fresh:
            return []
        self.held = None
        return [self._reply_ids(fresh)]

    def _wait(self) -> After:
        self._poll += 1
        return After(self.poll_interval, f"poll-{self._poll}")

    def _done(self) -> list[Action]:
        self.held = None
        self.done = True
        return [Send(_message("MsgDone")), Finish("done")]

    def _error(self, reason: str) -> list[Action]:
        self.held = None
        self.done = True
        return [Finish(reason)]


@dataclass
class _Announced:
    """One id the inbound side was told of, until it acknowledges it."""

    txid: bytes
    key: TxKey | None
    size: int
    state: str  # "new" (to request), "asked" (requested), "done" (received, known, or not returned)


def _identified(tx: bytes) -> Identified | None:
    try:
        return identify(tx)
    except MalformedTx:
        return None


_UNANNOUNCED = encode_item([6, bytes(32)])
"""A GenTxId nobody announces (Conway, all-zero hash): what `request_unannounced` asks for."""


class TxSubmissionInbound:
    """The tx receiver (responder): see the module docstring."""

    protocol = PROTOCOL
    side = "responder"

    def __init__(
        self,
        mempool: Mempool,
        negotiated: Negotiated | None = None,
        *,
        window: int = MAX_UNACKED,
        max_ids: int = NODE_MAX_IDS,
        max_txs: int = NODE_MAX_TXS,
        ack_too_many: bool = False,
        over_window: bool = False,
        blocking_with_unacked: bool = False,
        nonblocking_when_idle: bool = False,
        request_unannounced: bool = False,
    ) -> None:
        if window < 1 or max_ids < 1 or max_txs < 1:
            raise ValueError("window, max_ids and max_txs must be at least 1")
        self.mempool = mempool
        self.window = window
        self.max_ids = max_ids
        self.max_txs = max_txs
        self.faults = _switched(
            ack_too_many=ack_too_many,
            over_window=over_window,
            blocking_with_unacked=blocking_with_unacked,
            nonblocking_when_idle=nonblocking_when_idle,
            request_unannounced=request_unannounced,
        )
        self.unacked: deque[_Announced] = deque()
        self.asked_ids = 0
        """The `req` of the last MsgRequestTxIds."""
        self.more_ids = False
        """The last MsgReplyTxIds was not empty: the outbound side may have more."""
        self.received = 0
        """Transactions received and admitted to the mempool."""
        self.refused = 0
        """Transactions received that the mempool refused (duplicates, over capacity, ...)."""

    def start(self) -> Sequence[Action]:
        return []  # the outbound side speaks first (MsgInit)

    def on_timer(self, token: str) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        fields = message.fields
        if message.name == "MsgInit":
            return self._next()
        if message.name == "MsgReplyTxIds":
            entries = list(fields.get("txids") or [])
            if len(entries) > self.asked_ids:
                return [Finish("ProtocolErrorTxIdsNotRequested")]
            for entry in entries:
                self._announce(bytes(entry["txid"]), int(entry["size"]))
            self.more_ids = bool(entries)
            return self._next()
        if message.name == "MsgReplyTxs":
            txs = [(bytes(tx), _identified(bytes(tx))) for tx in fields.get("txs") or []]
            asked = {a.key for a in self.unacked if a.state == "asked"}
            if any(found is None or found.key not in asked for _, found in txs):
                return [Finish("ProtocolErrorTxNotRequested")]
            for tx, found in txs:
                self._receive(tx, found)
            for announced in self.unacked:
                if announced.state == "asked":
                    announced.state = "done"  # not returned: the outbound side no longer has it
            return self._next()
        if message.name == "MsgDone":
            return [Finish("done")]
        return [Finish(f"unexpected {message.name} in the inbound side")]

    # -- bookkeeping --------------------------------------------------------------------------------

    def _known(self, key: TxKey | None) -> bool:
        if key is None:
            return True  # an id we cannot read is never requested
        return self.mempool.holds(key) or any(a.key == key and a.state != "done" for a in self.unacked)

    def _announce(self, txid: bytes, size: int) -> None:
        try:
            key: TxKey | None = txid_key(txid)
        except ValueError:
            key = None
        state = "done" if self._known(key) else "new"
        self.unacked.append(_Announced(txid, key, size, state))

    def _receive(self, tx: bytes, found: Identified | None) -> None:
        if self.mempool.add(tx, found).accepted:
            self.received += 1
        else:
            self.refused += 1

    def _done_prefix(self) -> int:
        count = 0
        for announced in self.unacked:
            if announced.state != "done":
                break
            count += 1
        return count

    # -- the next request ---------------------------------------------------------------------------

    def _fault(self, name: str) -> bool:
        if name in self.faults:
            self.faults.discard(name)
            return True
        return False

    def _next(self) -> list[Action]:
        ack = self._done_prefix()
        remaining = len(self.unacked) - ack
        room = self.window - remaining
        if remaining == 0:
            if self._fault("nonblocking_when_idle"):
                return self._request_ids(False, ack, min(self.max_ids, room))
            return self._request_ids(True, ack, min(self.max_ids, room))
        if self.more_ids and room > 0:
            if self._fault("blocking_with_unacked"):
                return self._request_ids(True, ack, min(self.max_ids, room))
            return self._request_ids(False, ack, min(self.max_ids, room))
        if self._fault("request_unannounced"):
            return [Send(_message("MsgRequestTxs", txids=[_UNANNOUNCED]))]
        wanted = [a for a in self.unacked if a.state == "new"][: self.max_txs]
        if not wanted:  # cannot happen: one request at a time leaves every requested id done
            return [Finish("inbound: ids stay unacknowledged with nothing to request")]
        for announced in wanted:
            announced.state = "asked"
        return [Send(_message("MsgRequestTxs", txids=[a.txid for a in wanted]))]

    def _request_ids(self, blocking: bool, ack: int, req: int) -> list[Action]:
        if self._fault("ack_too_many"):
            ack = len(self.unacked) + 1
        if self._fault("over_window"):
            req = self.window - (len(self.unacked) - min(ack, len(self.unacked))) + 1
        for _ in range(min(ack, len(self.unacked))):
            self.unacked.popleft()
        self.more_ids = False
        self.asked_ids = req
        return [Send(_message("MsgRequestTxIds", blocking=blocking, ack=ack, req=req))]


def outbound(mempool: Mempool, **options: Any) -> BehaviourFactory:
    """A factory of outbound sides over one shared mempool (options as the constructor's)."""
    return lambda negotiated: TxSubmissionOutbound(mempool, negotiated, **options)


def inbound(mempool: Mempool, **options: Any) -> BehaviourFactory:
    """A factory of inbound sides that add what they receive to one shared mempool."""
    return lambda negotiated: TxSubmissionInbound(mempool, negotiated, **options)
