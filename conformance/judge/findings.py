"""What the judge says about one connection: its findings (violations with the side at fault) and how it
ended. Plain values, so the terminal summary, judge.json and judge.md are three views of the same data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

INITIATOR, RESPONDER = "initiator", "responder"


def other(side: str) -> str:
    return RESPONDER if side == INITIATOR else INITIATOR


def endpoint(address: tuple[str, int]) -> str:
    """ "ip:port" ("[v6]:port" for IPv6, whose address the reader already bracketed)."""
    return f"{address[0]}:{address[1]}"


@dataclass(frozen=True)
class Finding:
    """One broken rule: which, how strongly, who broke it, when (seconds from the capture's first
    packet), in which protocol and state, and the exact bytes that broke it (hex, empty for silence)."""

    requirement: str
    severity: str
    side: str
    time: float
    protocol: str
    state: str | None
    message: str
    hex: str = ""

    def to_json(self, connection: list[str]) -> dict[str, Any]:
        return {
            "connection": connection,
            "protocol": self.protocol,
            "requirement": self.requirement,
            "severity": self.severity,
            "side": self.side,
            "time": round(self.time, 6),
            "message": self.message,
            "state": self.state,
            "hex": self.hex,
        }


@dataclass(frozen=True)
class Ending:
    """How the connection ended: "FIN", "RST" or "open" (the capture ended first), from which side, when,
    how long after the last whole message, and the most likely reason in the protocol's terms."""

    kind: str
    side: str | None
    time: float
    after_last_message: float | None
    reason: str

    def describe(self) -> str:
        if self.kind == "open":
            return f"still open when the capture ended ({self.time:.3f} s)"
        after = "" if self.after_last_message is None else f", {self.after_last_message:.3f} s after the last message"
        return f"{self.kind} from the {self.side} at {self.time:.3f} s{after}; {self.reason}"


@dataclass
class ConnectionReport:
    """Everything judged on one TCP connection."""

    initiator: tuple[str, int]
    responder: tuple[str, int]
    roles_from: str
    start: float
    mode: str | None = None
    version: int | None = None
    version_data: dict[str, Any] | None = None
    start_missed: bool = False
    notes: list[str] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    bytes_sent: dict[str, int] = field(default_factory=lambda: {INITIATOR: 0, RESPONDER: 0})
    findings: list[Finding] = field(default_factory=list)
    findings_dropped: int = 0
    ending: Ending | None = None

    @property
    def endpoints(self) -> list[str]:
        return [endpoint(self.initiator), endpoint(self.responder)]

    @property
    def must_broken(self) -> bool:
        return any(f.severity == "MUST" for f in self.findings)
