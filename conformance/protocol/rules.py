"""The rules beyond the state table: one small checker class per protocol.

The engine calls a checker in two steps so that a violation leaves the session as it was: `check`
yields the violations a move would cause and changes nothing; `commit` records the move once it is
accepted. `check_sent` sees a pipelined message when it is sent, before its turn comes.

`commit` must not raise: violations come from `check`. One observe may commit several moves (a reply,
then the pipelined request it uncovers), and a later one may be refused; so before such a commit the
engine takes a `snapshot` and, if anything after it fails, puts it back with `restore`. The default
snapshot copies the attributes and, one level deep, the containers they hold: `commit` may rebind
attributes and add to or take from those containers, and must never change a value inside one in place
(a checker with deeper state overrides both methods). Its cost grows with the state kept, so a checker
keeps only what the protocol bounds.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from .violations import RuleViolation, Violation


@dataclass(frozen=True)
class Move:
    """One message, the state it is sent in (the return state for a pipelined one) and where it leads."""

    protocol: str
    state: str
    target: str
    agency: str
    sender: str
    message: Any
    size: int | None = None
    pipelined: bool = False

    @property
    def name(self) -> str:
        return self.message.name

    @property
    def fields(self) -> dict[str, Any]:
        return self.message.fields

    def violation(self, requirement: str, detail: str, cls: type[Violation] = RuleViolation, **extra: Any) -> Violation:
        """A violation of `requirement` by this move's sender, located at this move."""
        return cls(
            requirement,
            detail,
            protocol=self.protocol,
            state=self.state,
            sender=self.sender,
            message=self.message,
            agency=self.agency,
            **extra,
        )


class Rules:
    """A protocol without rules beyond its table. Subclasses list every id they can raise."""

    requirements: ClassVar[tuple[str, ...]] = ()

    def __init__(self, version: int | None = None, **options: Any) -> None:
        if options:
            raise TypeError(f"{type(self).__name__} takes no option {', '.join(sorted(options))}")
        self.version = version

    def check_sent(self, move: Move) -> Iterable[Violation]:
        """Violations visible as soon as a pipelined message is sent."""
        return ()

    def check(self, move: Move) -> Iterable[Violation]:
        """Violations of this move, taken in protocol order; must not change the checker."""
        return ()

    def commit(self, move: Move) -> None:
        """Record an accepted move."""

    def snapshot(self) -> Any:
        """The checker's state, enough for `restore` to undo any commits made after it was taken."""
        return {key: copy.copy(value) if isinstance(value, _CONTAINERS) else value for key, value in vars(self).items()}

    def restore(self, saved: Any) -> None:
        """Put back the state that `snapshot` returned (once: the snapshot becomes the live state)."""
        state = vars(self)
        state.clear()
        state.update(saved)


_CONTAINERS = (list, dict, set, deque, bytearray)


def is_word(value: Any, bits: int) -> bool:
    """An unsigned integer that fits in `bits` bits (bool is not an integer here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (1 << bits)


def indefinite(value: Any) -> bool | None:
    """Whether a decoded list was indefinite-length; None when the wire layer did not say."""
    flag = getattr(value, "indefinite", None)
    return None if flag is None else bool(flag)
