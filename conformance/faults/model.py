"""A faulty peer, as data: which requirement it breaks, in which role, and how.

A fault is the reference peer with one thing changed, never a second implementation:
- `rewrites`: a message a behaviour sends is changed on its way out (fields set, replaced, dropped,
  delayed, repeated, its bytes mutated: tamper.py);
- `egress`: the bytes of the socket are changed after the handshake (mode bit, mini-protocol number, an
  SDU cut short or the connection closed mid-message: egress.py);
- `chain`: the chain it serves has one broken block (`conformance.peer.chain.ChainFault`);
- `switches`: a fault switch of a reference behaviour (tx-submission2's `reply_too_many`, ...);
- `config`: PeerConfig fields (versions, magic, peer sharing, initiator-only).
Our own sending side's rules that would refuse the fault are switched off (`disable`, which always holds
the requirement the fault breaks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rewrite:
    """Change the `nth` (1-based; empty: every) `message` that our `side` sends on `protocol`."""

    protocol: str
    message: str
    side: str | None = None
    nth: tuple[int, ...] = ()
    set: Mapping[str, Any] = field(default_factory=dict)  # field -> value, or {"add": n} for an integer
    replace: tuple[str, Mapping[str, Any]] | None = None  # another message (name, fields) in its place
    drop: bool = False
    delay: float = 0.0  # protocol seconds (scaled by the connection's time scale)
    repeat: int = 0  # extra copies sent after it
    append: bytes = b""  # bytes after the message's own (trailing bytes)
    truncate: int | None = None  # keep only the first n bytes of the message
    flip: tuple[int, int] | None = None  # (offset, mask): XOR one byte of the message
    raw: bytes | None = None  # the message's bytes replaced by these (a value no declaration can encode)
    reencode: str | None = None  # "definite-lists": indefinite lists written definite

    def matches(self, protocol: str, side: str, name: str, count: int) -> bool:
        return (
            protocol == self.protocol
            and name == self.message
            and (self.side is None or side == self.side)
            and (not self.nth or count in self.nth)
        )


@dataclass(frozen=True)
class Egress:
    """Change the nth SDU (1-based, counted after the handshake) of mini-protocol `protocol` we write."""

    protocol: str
    kind: str  # "mode-bit", "protocol-number", "zero-length", "cut-and-close", "cut-and-wait", "length"
    nth: int = 1
    value: int = 0  # the new protocol number or length; bytes kept for the cut kinds


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: str  # the requirement id the suite must report
    role: str  # the role of the faulty peer: "responder" (serve) or "initiator" (connect)
    mode: str
    description: str
    cases: str  # the suite's -k expression of the cases that must catch it
    rewrites: tuple[Rewrite, ...] = ()
    egress: tuple[Egress, ...] = ()
    chain: tuple[str, int] | None = None  # (ChainFault kind, block index)
    switches: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # "protocol/side" -> options
    config: Mapping[str, Any] = field(default_factory=dict)
    disable: frozenset[str] = frozenset()
    tolerate: frozenset[str] = frozenset()  # the remote's violations of these are not enforced (no close)
    file: str = ""
