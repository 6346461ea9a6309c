"""The node-to-client request/response protocols: LocalTxSubmission (6), LocalStateQuery (7) and
LocalTxMonitor (9). Node-to-client runs with no byte or time limits.

Sources: `Ouroboros.Network.Protocol.{LocalTxSubmission,LocalStateQuery,LocalTxMonitor}.{Type,Codec}`
(PROTOCOLS.md sections 10-12).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .fields import fields_of
from .rules import Move, Rules
from .table import INITIATOR, NOBODY, RESPONDER, CodecRule, ProtocolTable, State, Transition
from .violations import Violation


class LocalTxMonitorRules(Rules):
    """No transaction twice within one snapshot. Word32 sizes, a word64 slot and the messages a version
    has are the wire declaration's to check: the table's codec rules name LTM-SIZES-01, LTM-ACQUIRED-01
    and LTM-VERSION-01."""

    requirements = ("LTM-NEXT-01",)

    def __init__(self, version: int | None = None) -> None:
        super().__init__(version)
        self.seen: set[bytes] = set()

    def check(self, move: Move) -> Iterator[Violation]:
        if move.name == "MsgReplyNextTx" and _tx_key(fields_of(move).get("tx")) in self.seen:
            yield move.violation("LTM-NEXT-01", "the same transaction returned twice for one snapshot")

    def commit(self, move: Move) -> None:
        if move.name == "MsgAcquired":
            self.seen = set()
        key = _tx_key(fields_of(move).get("tx")) if move.name == "MsgReplyNextTx" else None
        if key is not None:
            self.seen.add(key)


def _tx_key(tx: Any) -> bytes | None:
    return bytes(tx) if isinstance(tx, (bytes, bytearray)) else None


_LOCAL_NOTE = "node-to-client: no byte or time limits (OC NodeToClient uses plain runPeer)"

LOCAL_TX_SUBMISSION = ProtocolTable(
    name="local-tx-submission",
    title="LocalTxSubmission",
    prefix="LTX",
    mode="node-to-client",
    initial="StIdle",
    states=(State("StIdle", INITIATOR), State("StBusy", RESPONDER), State("StDone", NOBODY)),
    transitions=(
        Transition("MsgSubmitTx", "StIdle", "StBusy"),
        Transition("MsgAcceptTx", "StBusy", "StIdle"),
        Transition("MsgRejectTx", "StBusy", "StIdle", "reason: the era's ApplyTxErr"),
        Transition("MsgDone", "StIdle", "StDone"),
    ),
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/LocalTxSubmission/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/LocalTxSubmission/Codec.hs",
        "network spec: miniprotocols.tex, Local Tx-Submission",
        "CDDL: local-tx-submission.cddl",
    ),
    note=_LOCAL_NOTE,
)

LOCAL_STATE_QUERY = ProtocolTable(
    name="local-state-query",
    title="LocalStateQuery",
    prefix="LSQ",
    mode="node-to-client",
    initial="StIdle",
    states=(
        State("StIdle", INITIATOR),
        State("StAcquiring", RESPONDER),
        State("StAcquired", INITIATOR),
        State("StQuerying", RESPONDER),
        State("StDone", NOBODY),
    ),
    transitions=(
        Transition("MsgAcquire", "StIdle", "StAcquiring", "SpecificPoint"),
        Transition("MsgAcquireVolatileTip", "StIdle", "StAcquiring"),
        Transition("MsgAcquireImmutableTip", "StIdle", "StAcquiring"),
        Transition("MsgAcquired", "StAcquiring", "StAcquired"),
        Transition("MsgFailure", "StAcquiring", "StIdle", "0 = PointTooOld, 1 = PointNotOnChain"),
        Transition("MsgQuery", "StAcquired", "StQuerying"),
        Transition("MsgResult", "StQuerying", "StAcquired", "decoded by the outstanding query"),
        Transition("MsgRelease", "StAcquired", "StIdle"),
        Transition("MsgReAcquire", "StAcquired", "StAcquiring", "SpecificPoint"),
        Transition("MsgReAcquireVolatileTip", "StAcquired", "StAcquiring"),
        Transition("MsgReAcquireImmutableTip", "StAcquired", "StAcquiring"),
        Transition("MsgDone", "StIdle", "StDone"),
    ),
    codec_rules=(
        CodecRule("MsgFailure", "$.failure", "LSQ-FAILURE-01"),
        CodecRule("MsgAcquireImmutableTip", "$[0]", "LSQ-VERSION-01", refusal="NotInVersion"),
        CodecRule("MsgReAcquireImmutableTip", "$[0]", "LSQ-VERSION-01", refusal="NotInVersion"),
    ),
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/LocalStateQuery/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/LocalStateQuery/Codec.hs",
        "network spec: miniprotocols.tex, Local State Query",
        "CDDL: local-state-query.cddl",
    ),
    note=_LOCAL_NOTE + ". A failed MsgReAcquire leaves the client in StIdle.",
)

LOCAL_TX_MONITOR = ProtocolTable(
    name="local-tx-monitor",
    title="LocalTxMonitor",
    prefix="LTM",
    mode="node-to-client",
    initial="StIdle",
    states=(
        State("StIdle", INITIATOR),
        State("StAcquiring", RESPONDER),
        State("StAcquired", INITIATOR),
        State("StBusyNextTx", RESPONDER, note="StBusy NextTx"),
        State("StBusyHasTx", RESPONDER, note="StBusy HasTx"),
        State("StBusyGetSizes", RESPONDER, note="StBusy GetSizes"),
        State("StBusyGetMeasures", RESPONDER, note="StBusy GetMeasures"),
        State("StDone", NOBODY),
    ),
    transitions=(
        Transition("MsgDone", "StIdle", "StDone"),
        Transition("MsgAcquire", "StIdle", "StAcquiring"),
        Transition("MsgAwaitAcquire", "StAcquired", "StAcquiring", "same tag as MsgAcquire"),
        Transition("MsgAcquired", "StAcquiring", "StAcquired"),
        Transition("MsgRelease", "StAcquired", "StIdle"),
        Transition("MsgNextTx", "StAcquired", "StBusyNextTx"),
        Transition("MsgReplyNextTx", "StBusyNextTx", "StAcquired"),
        Transition("MsgHasTx", "StAcquired", "StBusyHasTx"),
        Transition("MsgReplyHasTx", "StBusyHasTx", "StAcquired", "the spec's table says MsgReplyNextTx"),
        Transition("MsgGetSizes", "StAcquired", "StBusyGetSizes"),
        Transition("MsgReplyGetSizes", "StBusyGetSizes", "StAcquired"),
        Transition("MsgGetMeasures", "StAcquired", "StBusyGetMeasures"),
        Transition("MsgReplyGetMeasures", "StBusyGetMeasures", "StAcquired"),
    ),
    codec_rules=(
        CodecRule("MsgAcquired", "$.slot", "LTM-ACQUIRED-01"),
        CodecRule("MsgReplyGetSizes", "$.sizes", "LTM-SIZES-01", prefix=True),
        CodecRule("MsgGetMeasures", "$[0]", "LTM-VERSION-01", refusal="NotInVersion"),
        CodecRule("MsgReplyGetMeasures", "$[0]", "LTM-VERSION-01", refusal="NotInVersion"),
    ),
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/LocalTxMonitor/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/LocalTxMonitor/Codec.hs",
        "network spec: miniprotocols.tex, Local Tx-Monitor",
        "CDDL: local-tx-monitor.cddl",
    ),
    note=_LOCAL_NOTE,
    rules=LocalTxMonitorRules,
)
