"""LocalTxSubmission server (node-to-client 6) into the peer's mempool, and a minimal client.

MsgSubmitTx adds the transaction to the mempool: MsgAcceptTx when it is admitted, MsgRejectTx otherwise.
The node's reject reason is the era's ApplyTxErr in ledger CBOR, which this peer (having no ledger) cannot
produce. It sends a documented placeholder of the node's shape instead, `[[era, [reason]]]`: the
HardFork combinator's "right era" wrapper (a one-element list) around the NS pair of the era index (that
of the submitted GenTx; 0 when it cannot be read) and a list of one text, the mempool's reason
("duplicate", "malformed", "over-capacity", "unsupported"). The wire declaration keeps reasons as any
well-formed CBOR, so it accepts it; a client that decodes ledger failures will not understand it, which is
the honest answer. `reject_reason` replaces it, e.g. with a golden ApplyTxErr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .agent import Action, BehaviourFactory, Finish, Negotiated, Send
from .local_client import ScriptedClient
from .mempool import Admission, Mempool
from .txwire import Message, encode_item

PROTOCOL = "local-tx-submission"

RejectReasonFor = Callable[[bytes, Admission], bytes]


def placeholder_reason(tx: bytes, admission: Admission) -> bytes:
    """`[[era, [reason text]]]`: see the module docstring."""
    era = admission.era if admission.era is not None else 0
    reason = admission.reason.value if admission.reason is not None else "rejected"
    return encode_item([[era, [reason]]])


class LocalTxSubmissionServer:
    """Admits submitted transactions to the mempool (see the module docstring)."""

    protocol = PROTOCOL
    side = "responder"

    def __init__(
        self,
        mempool: Mempool,
        negotiated: Negotiated | None = None,
        *,
        reject_reason: RejectReasonFor = placeholder_reason,
    ) -> None:
        self.mempool = mempool
        self.reject_reason = reject_reason
        self.accepted = 0
        self.rejected = 0

    def start(self) -> Sequence[Action]:
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        return []

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name == "MsgDone":
            return [Finish("done")]
        if message.name != "MsgSubmitTx":
            return [Finish(f"unexpected {message.name} in the local-tx-submission server")]
        tx = bytes(message.fields["tx"])
        admission = self.mempool.add(tx)
        if admission.accepted:
            self.accepted += 1
            return [Send(Message(PROTOCOL, "MsgAcceptTx", {}))]
        self.rejected += 1
        return [Send(Message(PROTOCOL, "MsgRejectTx", {"reason": self.reject_reason(tx, admission)}))]


def submit(txs: Iterable[bytes], negotiated: Negotiated | None = None) -> ScriptedClient:
    """A client that submits `txs` one after the other, then sends MsgDone; answers in `replies`."""
    requests = [Message(PROTOCOL, "MsgSubmitTx", {"tx": bytes(tx)}) for tx in txs]
    return ScriptedClient(PROTOCOL, requests, negotiated)


def server(mempool: Mempool, **options: object) -> BehaviourFactory:
    """A factory of servers over one shared mempool."""
    return lambda negotiated: LocalTxSubmissionServer(mempool, negotiated, **options)  # type: ignore[arg-type]
