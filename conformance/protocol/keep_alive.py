"""KeepAlive (node-to-node mini-protocol 8): the server echoes the client's cookie.

Sources: `Ouroboros.Network.Protocol.KeepAlive.{Type,Codec}`, `Ouroboros.Network.KeepAlive`
(PROTOCOLS.md section 8).
"""

from __future__ import annotations

from collections.abc import Iterator

from .fields import fields_of
from .limits import LONG_WAIT, SMALL_BYTE_LIMIT, bytes_, seconds
from .rules import Move, Rules
from .table import INITIATOR, NOBODY, RESPONDER, CodecRule, ProtocolTable, State, Transition
from .violations import Violation

SERVER_IDLE_TIMEOUT = 97.0
"""How long the node's server waits for the next MsgKeepAlive."""


class KeepAliveRules(Rules):
    """Each response echoes the request's cookie (that a cookie is a word16 the wire declaration checks:
    KA-COOKIE-02 is named by the table's codec rules)."""

    requirements = ("KA-COOKIE-01",)

    def __init__(self, version: int | None = None) -> None:
        super().__init__(version)
        self.cookie: int | None = None

    def check(self, move: Move) -> Iterator[Violation]:
        if move.name == "MsgKeepAliveResponse":
            cookie = fields_of(move).get("cookie")
            if cookie != self.cookie:
                yield move.violation("KA-COOKIE-01", f"response cookie {cookie} does not echo {self.cookie}")

    def commit(self, move: Move) -> None:
        if move.name == "MsgKeepAlive":
            self.cookie = fields_of(move).get("cookie")


KEEP_ALIVE = ProtocolTable(
    name="keep-alive",
    title="KeepAlive",
    prefix="KA",
    mode="node-to-node",
    initial="StClient",
    states=(
        State("StClient", INITIATOR, bytes_(SMALL_BYTE_LIMIT), seconds(SERVER_IDLE_TIMEOUT)),
        State(
            "StServer",
            RESPONDER,
            bytes_(SMALL_BYTE_LIMIT),
            seconds(LONG_WAIT, note='a TODO in the code says it "should be 10s"'),
        ),
        State("StDone", NOBODY),
    ),
    transitions=(
        Transition("MsgKeepAlive", "StClient", "StServer"),
        Transition("MsgKeepAliveResponse", "StServer", "StClient"),
        Transition("MsgDone", "StClient", "StDone"),
    ),
    illegal={("StClient", "MsgKeepAliveResponse"): "KA-RESP-01"},
    codec_rules=(
        CodecRule("MsgKeepAlive", "$.cookie", "KA-COOKIE-02"),
        CodecRule("MsgKeepAliveResponse", "$.cookie", "KA-COOKIE-02"),
    ),
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/KeepAlive/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/KeepAlive/Codec.hs",
        "network spec: miniprotocols.tex, Keep-Alive",
        "CDDL: keep-alive.cddl",
    ),
    note="The node's client sends every 10 s and picks a random cookie each time.",
    rules=KeepAliveRules,
)
