"""A scenario as values: a header and a conversation of steps, read top to bottom.

Built only by the loader (loader.py), which has already checked every protocol, message and field name
against the wire declarations, so the runner never meets an unknown name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .matchers import Matcher
from .mutations import Mutation

MODES = ("node-to-node", "node-to-client")
ROLES = ("initiator", "responder")
HANDSHAKES = ("auto", "script")
MAX_REPEAT = 1000
"""The bound of one `repeat`; nested repeats multiply, so the loader also bounds the steps run in all."""
MAX_STEPS_RUN = 100_000


@dataclass(frozen=True)
class Send:
    """Send one message: built from `fields` (JSON form) or given as `hex`, then mutated in order."""

    line: int
    protocol: str
    message: str | None = None
    fields: Any = None
    hex: str | None = None
    mutations: tuple[Mutation, ...] = ()
    check: bool = True


@dataclass(frozen=True)
class SendSdu:
    """Send raw bytes straight to the socket: one or more whole SDUs (header included), or a broken one."""

    line: int
    hex: str


@dataclass(frozen=True)
class Expect:
    """Expect the next message on `protocol` to be `message`, its fields matching, within `within` s."""

    line: int
    protocol: str
    message: str
    within: float
    fields: tuple[tuple[str, Matcher], ...] = ()
    capture: tuple[tuple[str, str], ...] = ()  # (variable, field path)


@dataclass(frozen=True)
class ExpectClose:
    """Expect the remote to close the connection within `within` s."""

    line: int
    within: float


@dataclass(frozen=True)
class ExpectAny:
    """Expect one of several reactions: any of `messages` (all on one protocol), or the close (`close`)."""

    line: int
    within: float
    messages: tuple[Expect, ...] = ()
    close: bool = False


@dataclass(frozen=True)
class Wait:
    line: int
    seconds: float


@dataclass(frozen=True)
class Repeat:
    line: int
    times: int
    steps: tuple[Step, ...]


Step = Send | SendSdu | Expect | ExpectClose | ExpectAny | Wait | Repeat


@dataclass(frozen=True)
class Scenario:
    """The header and the steps of one scenario file."""

    name: str
    file: str
    steps: tuple[Step, ...]
    description: str = ""
    mode: str = "node-to-node"
    role: str = "initiator"
    handshake: str = "auto"
    versions: tuple[int, ...] = (14, 15, 16)
    magic: int = 764824073
    requirements: tuple[str, ...] = ()
    disable: frozenset[str] = field(default_factory=frozenset)
    within: float = 10.0
