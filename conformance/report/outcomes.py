"""Which outcome wins when several cases, or several runs, speak about one requirement.

A broken rule outweighs everything; a verdict (passed) outweighs a record without one (informational) and a
requirement the peer does not offer (unsupported); anything outweighs "not run". So one failing case marks
the requirement failed however many cases passed it, and one passing case is not hidden by an unsupported one.
"""

from __future__ import annotations

from collections.abc import Iterable

NOT_RUN = "not run"
RANK = ("failed", "non-strict", "xfail", "passed", "informational", "unsupported", NOT_RUN)
"""Worst first."""
PROBLEMS = ("failed", "non-strict", "xfail")
"""Outcomes the report explains one by one, with their evidence."""
EXERCISED = ("failed", "non-strict", "xfail", "passed", "informational")
"""Outcomes that mean the requirement was checked against the peer (unsupported means it could not be)."""


def worst(outcomes: Iterable[str]) -> str:
    """The outcome that wins among `outcomes`; NOT_RUN when there are none."""
    return min(outcomes, key=RANK.index, default=NOT_RUN)


def css_class(outcome: str) -> str:
    """A class name for a cell of this outcome ("not run" has a space)."""
    return "o-" + outcome.replace(" ", "-")
