"""Protocol state machines, sans-I/O: (state, message, sender) -> next state, or a typed Violation.

Every mini-protocol is a table (`TABLES`); one engine (`Session`) runs all of them, a small checker per
protocol adds the rules beyond the table, and `MuxChecker` follows the SDUs of a bearer. Each violation
names its requirement id from `conformance/requirements.yaml`.
"""

from __future__ import annotations

from .catalogue import Requirement
from .catalogue import load as load_catalogue
from .clock import Clock, FakeClock, MonotonicClock
from .engine import ON_VIOLATION, Observed, Session
from .limits import Limit
from .mux import MINI_PROTOCOLS, MiniProtocol, MuxChecker
from .registry import TABLES
from .table import Pipelining, ProtocolTable, State, Transition
from .violations import (
    AgencyViolation,
    ByteLimitExceeded,
    DecodeViolation,
    IllTypedMessage,
    IngressQueueOverrun,
    LimitViolation,
    MuxViolation,
    PipeliningDepthExceeded,
    PipeliningViolation,
    RuleViolation,
    TimeLimitExceeded,
    UnexpectedMessage,
    Violation,
)

__all__ = [
    "MINI_PROTOCOLS",
    "ON_VIOLATION",
    "TABLES",
    "AgencyViolation",
    "ByteLimitExceeded",
    "Clock",
    "DecodeViolation",
    "FakeClock",
    "IllTypedMessage",
    "IngressQueueOverrun",
    "Limit",
    "LimitViolation",
    "MiniProtocol",
    "MonotonicClock",
    "MuxChecker",
    "MuxViolation",
    "Observed",
    "Pipelining",
    "PipeliningDepthExceeded",
    "PipeliningViolation",
    "ProtocolTable",
    "Requirement",
    "RuleViolation",
    "Session",
    "State",
    "TimeLimitExceeded",
    "Transition",
    "UnexpectedMessage",
    "Violation",
    "load_catalogue",
]
