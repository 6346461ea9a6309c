"""TxSubmission2 (node-to-node mini-protocol 4): table and the unacknowledged-window rules.

Roles are inverted: the client (initiator, "outbound") sends transactions, the server (responder,
"inbound") pulls them and has agency in StIdle. Sources: `Ouroboros.Network.Protocol.TxSubmission2.{Type,
Codec}`, `Ouroboros.Network.TxSubmission.Outbound`, `...Inbound.{V1,V2}` (PROTOCOLS.md section 7).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from .cardano_facts import tx_id, tx_size, txid_key
from .fields import fields_of
from .limits import LARGE_BYTE_LIMIT, SHORT_WAIT, SMALL_BYTE_LIMIT, bytes_, seconds
from .rules import Move, Rules
from .table import INITIATOR, NOBODY, RESPONDER, CodecRule, Pipelining, ProtocolTable, State, Transition
from .violations import Violation

MAX_UNACKED = 10
"""`maxUnacknowledgedTxIds` in cardano-node."""
MAX_TX_SIZE_DISCREPANCY = 32
"""`const_MAX_TX_SIZE_DISCREPANCY` of the V2 inbound logic."""

_LIST_FIELDS = {"MsgReplyTxIds": "txids", "MsgRequestTxs": "txids", "MsgReplyTxs": "txs"}


def _txid(entry: Any) -> bytes | None:
    value = entry.get("txid") if isinstance(entry, dict) else entry
    return bytes(value) if isinstance(value, (bytes, bytearray)) else None


class TxSubmissionRules(Rules):
    """The outbound side's checks on requests (the FIFO of unacknowledged ids) and the inbound side's
    checks on replies. `window` is the unacknowledged limit (10 in cardano-node)."""

    requirements = (
        "TX-ACK-01",
        "TX-WINDOW-01",
        "TX-REQ-01",
        "TX-REQ-02",
        "TX-BLOCK-01",
        "TX-BLOCK-02",
        "TX-BLOCK-03",
        "TX-REPLY-01",
        "TX-REPLY-02",
        "TX-REQTX-01",
        "TX-REQTX-02",
        "TX-REPLYTX-01",
        "TX-SIZE-01",
    )

    def __init__(self, version: int | None = None, *, window: int = MAX_UNACKED) -> None:
        super().__init__(version)
        self.window = window
        self.unacked: deque[tuple[bytes | None, int | None]] = deque()
        self.blocking = False
        self.req = 0
        self.asked: list[bytes] = []
        # Requested ids still in the window: once acknowledged, a request for one is TX-REQTX-01, so
        # TX-REQTX-02 needs no memory of it and the set stays within the window, however long the run.
        self.ever_asked: set[bytes] = set()

    @property
    def outstanding(self) -> int:
        return len(self.unacked)

    def check_sent(self, move: Move) -> Iterator[Violation]:
        if move.name == "MsgRequestTxIds" and fields_of(move).get("blocking"):
            yield move.violation("TX-BLOCK-03", "a blocking MsgRequestTxIds sent while replies are outstanding")

    def check(self, move: Move) -> Iterator[Violation]:
        name, fields = move.name, fields_of(move)
        if name == "MsgRequestTxIds":
            yield from self.request_ids_problems(
                move, bool(fields.get("blocking")), fields.get("ack"), fields.get("req")
            )
        elif name == "MsgReplyTxIds":
            txids = list(fields.get("txids") or [])
            if self.blocking and not txids:
                yield move.violation("TX-REPLY-01", "an empty reply to a blocking MsgRequestTxIds")
            if len(txids) > self.req:
                yield move.violation("TX-REPLY-02", f"{len(txids)} ids in reply to a request for {self.req}")
        elif name == "MsgRequestTxs":
            yield from self.request_txs_problems(move, [_txid(t) for t in fields.get("txids") or []])
        elif name == "MsgReplyTxs":
            yield from self.reply_txs_problems(move, list(fields.get("txs") or []))

    def request_ids_problems(self, move: Move, blocking: bool, ack: Any, req: Any) -> Iterator[Violation]:
        if not isinstance(ack, int) or not isinstance(req, int):
            yield move.violation("TX-REQ-02", f"ack {ack!r} and req {req!r} must be counts")
            return
        if ack > self.outstanding:
            yield move.violation("TX-ACK-01", f"acknowledges {ack} ids; only {self.outstanding} are outstanding")
            return
        remaining = self.outstanding - ack
        if remaining + req > self.window:
            yield move.violation(
                "TX-WINDOW-01",
                f"{remaining} unacknowledged + {req} requested exceeds the window {self.window}",
            )
        if blocking and req == 0:
            yield move.violation("TX-REQ-01", "a blocking request for zero ids")
        if not blocking and ack == 0 and req == 0:
            yield move.violation("TX-REQ-02", "a non-blocking request that neither acknowledges nor requests")
        if blocking and remaining > 0:
            yield move.violation("TX-BLOCK-01", f"a blocking request while {remaining} ids stay unacknowledged")
        if not blocking and remaining == 0:
            yield move.violation("TX-BLOCK-02", "a non-blocking request although no id stays unacknowledged")

    def request_txs_problems(self, move: Move, txids: list[bytes | None]) -> Iterator[Violation]:
        available = {txid for txid, _ in self.unacked}
        missing = [t for t in txids if t not in available]
        if missing:
            yield move.violation("TX-REQTX-01", f"{len(missing)} requested tx(s) were never announced or are acked")
        again = [t for t in txids if t in self.ever_asked]
        if again:
            yield move.violation("TX-REQTX-02", f"{len(again)} tx(s) requested a second time")

    def reply_txs_problems(self, move: Move, txs: list[Any]) -> Iterator[Violation]:
        if len(txs) > len(self.asked):
            yield move.violation("TX-REPLYTX-01", f"{len(txs)} txs in reply to a request for {len(self.asked)}")
            return
        asked = {txid_key(t): t for t in self.asked}
        sizes = {txid: size for txid, size in self.unacked}
        for tx in txs:
            key = tx_id(tx)
            if key is None:
                continue
            if key not in asked:
                yield move.violation("TX-REPLYTX-01", f"tx {key[1][:4].hex()} was not requested")
                continue
            advertised, actual = sizes.get(asked[key]), tx_size(tx)
            if advertised is not None and actual is not None and abs(advertised - actual) > MAX_TX_SIZE_DISCREPANCY:
                yield move.violation("TX-SIZE-01", f"tx of {actual} bytes was announced as {advertised}")

    def commit(self, move: Move) -> None:
        fields = fields_of(move)
        if move.name == "MsgRequestTxIds":
            for _ in range(min(fields.get("ack") or 0, len(self.unacked))):
                acked, _ = self.unacked.popleft()
                if acked is not None and all(txid != acked for txid, _ in self.unacked):
                    self.ever_asked.discard(acked)  # asking for it again is TX-REQTX-01 from now on
            self.blocking, self.req = bool(fields.get("blocking")), fields.get("req") or 0
        elif move.name == "MsgReplyTxIds":
            for entry in fields.get("txids") or []:
                size = entry.get("size") if isinstance(entry, dict) else None
                self.unacked.append((_txid(entry), size))
        elif move.name == "MsgRequestTxs":
            self.asked = [t for t in (_txid(x) for x in fields.get("txids") or []) if t is not None]
            self.ever_asked.update(self.asked)


TX_SUBMISSION2 = ProtocolTable(
    name="tx-submission2",
    title="TxSubmission2",
    prefix="TX",
    mode="node-to-node",
    initial="StInit",
    states=(
        State("StInit", INITIATOR, bytes_(SMALL_BYTE_LIMIT, spec=5760)),
        State("StIdle", RESPONDER, bytes_(SMALL_BYTE_LIMIT, spec=5760), note="the server has agency"),
        State("StTxIdsBlocking", INITIATOR, bytes_(LARGE_BYTE_LIMIT), note="StTxIds StBlocking"),
        State(
            "StTxIdsNonBlocking",
            INITIATOR,
            bytes_(LARGE_BYTE_LIMIT),
            seconds(SHORT_WAIT),
            "StTxIds StNonBlocking",
        ),
        State("StTxs", INITIATOR, bytes_(LARGE_BYTE_LIMIT), seconds(SHORT_WAIT)),
        State("StDone", NOBODY),
    ),
    transitions=(
        Transition("MsgInit", "StInit", "StIdle", "the first message, from the client"),
        Transition("MsgRequestTxIds", "StIdle", "StTxIdsBlocking", when=("blocking", True)),
        Transition("MsgReplyTxIds", "StTxIdsBlocking", "StIdle"),
        Transition("MsgDone", "StTxIdsBlocking", "StDone", "only in the blocking state"),
        Transition("MsgRequestTxIds", "StIdle", "StTxIdsNonBlocking", when=("blocking", False)),
        Transition("MsgReplyTxIds", "StTxIdsNonBlocking", "StIdle"),
        Transition("MsgRequestTxs", "StIdle", "StTxs"),
        Transition("MsgReplyTxs", "StTxs", "StIdle"),
    ),
    pipelining=Pipelining(
        side=RESPONDER,
        messages=frozenset({"MsgRequestTxIds", "MsgRequestTxs"}),
        return_state="StIdle",
        busy_states=frozenset({"StTxIdsNonBlocking", "StTxs"}),
        max_depth=None,
        note="the server pipelines non-blocking MsgRequestTxIds and MsgRequestTxs, bounded by the window",
    ),
    codec_rules=tuple(CodecRule(name, f"$.{field}", "TX-LIST-01") for name, field in _LIST_FIELDS.items()),
    illegal={
        ("StInit", "MsgReplyTxIds"): "TX-INIT-01",
        ("StInit", "MsgReplyTxs"): "TX-INIT-01",
        ("StInit", "MsgDone"): "TX-INIT-01",
        ("StInit", "MsgRequestTxIds"): "TX-INIT-01",
        ("StInit", "MsgRequestTxs"): "TX-INIT-01",
        ("StIdle", "MsgInit"): "TX-INIT-01",
        ("StIdle", "MsgDone"): "TX-DONE-01",
        ("StTxIdsNonBlocking", "MsgDone"): "TX-DONE-01",
        ("StTxs", "MsgDone"): "TX-DONE-01",
    },
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/TxSubmission2/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/TxSubmission2/Codec.hs",
        "ON:ouroboros-network/lib/Ouroboros/Network/TxSubmission/Outbound.hs",
        "network spec: miniprotocols.tex, Tx-Submission",
        "CDDL: tx-submission2.cddl",
    ),
    note="MsgRequestTxIds leads to StTxIdsBlocking or StTxIdsNonBlocking by its blocking flag.",
    rules=TxSubmissionRules,
)
