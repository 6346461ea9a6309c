"""Scenarios: conversations with a remote peer, written in YAML and read top to bottom.

`load(path)` validates a file (errors name FILE:LINE), `run(scenario, opener)` runs it over a scripted
connection (surface.py) and returns a `ScenarioResult`. The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

from .errors import ScenarioError, ScenarioFormatError, StepError
from .loader import load, loads
from .model import Scenario
from .result import ScenarioResult, StepOutcome
from .runner import run, run_on, spec_for
from .surface import CLOSED, ConnectionClosed, ConnectionSpec, Opener, ScriptedConnection

__all__ = [
    "CLOSED",
    "ConnectionClosed",
    "ConnectionSpec",
    "Opener",
    "Scenario",
    "ScenarioError",
    "ScenarioFormatError",
    "ScenarioResult",
    "ScriptedConnection",
    "StepError",
    "StepOutcome",
    "load",
    "loads",
    "run",
    "run_on",
    "spec_for",
]
