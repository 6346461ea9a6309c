"""What a scenario run found: one outcome per step run, the remote's violations, and a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class StepOutcome:
    """One step as run: where it is written, what it expected, what happened, when and for how long."""

    path: str  # "3", or "4.2#1" for step 2 of the repeat at step 4, in its round 1 (rounds count from 1)
    line: int
    kind: str
    expectation: str
    status: str
    detail: str = ""  # what arrived instead, or why the step could not run
    started: float = 0.0  # seconds since the scenario started
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ScenarioResult:
    """The outcome of one run. `error` is set when the run could not start (no connection)."""

    scenario: str
    file: str
    steps: list[StepOutcome] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    violation_ids: list[str] = field(default_factory=list)
    negotiated: dict[str, Any] | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed_steps(self) -> list[StepOutcome]:
        return [step for step in self.steps if step.status == FAILED]

    @property
    def passed(self) -> bool:
        """Every step passed and the remote broke no rule."""
        return self.error is None and not self.failed_steps and not self.violations

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "error"
        return "pass" if self.passed else "fail"

    @property
    def exit_code(self) -> int:
        """0 pass; 1 an expectation failed or the remote broke a rule; 2 the run could not start."""
        return {"pass": 0, "fail": 1}.get(self.verdict, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "file": self.file,
            "verdict": self.verdict,
            "error": self.error,
            "negotiated": self.negotiated,
            "violations": self.violations,
            "violation_ids": self.violation_ids,
            "variables": self.variables,
            "steps": [step.as_dict() for step in self.steps],
        }

    def summary(self) -> str:
        """A few lines for a terminal: each step, the violations, the verdict."""
        lines = [f"scenario {self.scenario} ({self.file})"]
        if self.error is not None:
            lines.append(f"  error: {self.error}")
        for step in self.steps:
            mark = {PASSED: "ok  ", FAILED: "FAIL", SKIPPED: "skip"}[step.status]
            text = f"  {mark} {step.path:>6} line {step.line:<4} {step.expectation} ({step.elapsed:.3f} s)"
            lines.append(text + (f"\n         -> {step.detail}" if step.detail and step.status != PASSED else ""))
        for violation in self.violations:
            lines.append(f"  remote violation: {violation}")
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)
