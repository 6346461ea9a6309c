"""The scenario errors: a malformed file (found at load time) and a step that cannot be carried out.

A `ScenarioFormatError` names the file and line (and column) of the YAML node at fault, as PyYAML's node
marks give them, so an author goes straight to the mistake. It is a usage error (exit code 2).
"""

from __future__ import annotations


class ScenarioError(Exception):
    """Anything wrong with a scenario, as opposed to with the remote peer."""


class ScenarioFormatError(ScenarioError):
    """A scenario file that does not follow the format: `file:line:column: what is wrong`."""

    def __init__(self, detail: str, *, file: str = "<scenario>", line: int | None = None, column: int | None = None):
        self.detail = detail
        self.file = file
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        return f"{where}: {self.detail}"


class StepError(ScenarioError):
    """A step that could not be carried out as written (an unset variable, fields that do not encode)."""
