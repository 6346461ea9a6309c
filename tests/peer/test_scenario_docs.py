"""docs/scenarios.md stays accurate: every YAML example loads, and the shown error is the real one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.peer.scenario import ScenarioFormatError, load, loads

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("example", EXAMPLES, ids=[re.search(r"name: (\S+)", e).group(1) for e in EXAMPLES])  # type: ignore[union-attr]
def test_every_yaml_example_is_a_valid_scenario(example: str) -> None:
    scenario = loads(example, "docs/scenarios.md")
    assert scenario.steps


def test_the_error_shown_on_the_page_is_what_the_loader_says(tmp_path: Path) -> None:
    source = (ROOT / "peers" / "scenarios" / "keep-alive-echo.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "keep-alive-echo.yaml"
    broken.write_text(source.replace('{cookie: "${cookie}"}', '{cokie: "${cookie}"}', 1), encoding="utf-8")
    with pytest.raises(ScenarioFormatError) as caught:
        load(broken)
    shown = str(caught.value).replace(str(tmp_path), "peers/scenarios")
    assert shown in DOC


def test_every_shipped_scenario_is_listed_on_the_page() -> None:
    for path in sorted((ROOT / "peers" / "scenarios").glob("*.yaml")):
        assert f"`{path.name}`" in DOC, path.name


RUNNABLE = [
    "keep-alive-once",
    "send-mutated",
    "unknown-mini-protocol",
    "intersect-and-capture",
    "refuse-or-close",
    "handshake-by-script",
    "response-without-request",
]


@pytest.mark.parametrize("name", RUNNABLE)
def test_the_page_examples_pass_against_the_reference_peer(name: str) -> None:
    from .test_scenario_loopback import needs_responder
    from .test_scenario_runner import run_against

    if name == "intersect-and-capture":
        needs_responder("chain-sync")

    (example,) = [e for e in EXAMPLES if f"name: {name}\n" in e]
    result = run_against(example)
    assert result.verdict == "pass", result.summary()
