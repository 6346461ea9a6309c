"""KeepAlive (node-to-node mini-protocol 8): the server echoes the client's cookie.

Sources: `Ouroboros.Network.Protocol.KeepAlive.{Type,Codec}`, `Ouroboros.Network.KeepAlive`
(PROTOCOLS.md section 8).
"""

from __future__ import annotations

from collections.abc import Iterator

from .limits import LONG_WAIT, SMALL_BYTE_LIMIT, bytes_, seconds
from .rules import Move, Rules, is_word
from .table import INITIATOR, NOBODY, RESPONDER, ProtocolTable, State, Transition
from .violations import Violation

SERVER_IDLE_TIMEOUT = 97.0
"""How long the node's server waits for the next MsgKeepAlive."""


class KeepAliveRules(Rules):
    """Cookies are word16 values, and each response echoes the request's cookie."""

    requirements = ("KA-COOKIE-01", "KA-COOKIE-02")

    def __init__(self, version: int | None = None) -> None:
        super().__init__(version)
        self.cookie: int | None = None

    def check(self, move: Move) -> Iterator[Violation]:
        cookie = move.fields.get("cookie")
        if move.name in ("MsgKeepAlive", "MsgKeepAliveResponse") and not is_word(cookie, 16):
            yield move.violation("KA-COOKIE-02", f"cookie {cookie!r} is not a word16")
        elif move.name == "MsgKeepAliveResponse" and cookie != self.cookie:
            yield move.violation("KA-COOKIE-01", f"response cookie {cookie} does not echo {self.cookie}")

    def commit(self, move: Move) -> None:
        if move.name == "MsgKeepAlive":
            self.cookie = move.fields.get("cookie")


KEEP_ALIVE = ProtocolTable(
    name="keep-alive",
    title="KeepAlive",
    prefix="KA",
    mode="node-to-node",
    number=8,
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
    sources=(
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/KeepAlive/Type.hs",
        "ON:ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/KeepAlive/Codec.hs",
        "network spec: miniprotocols.tex, Keep-Alive",
        "CDDL: keep-alive.cddl",
    ),
    note="The node's client sends every 10 s and picks a random cookie each time.",
    rules=KeepAliveRules,
)
