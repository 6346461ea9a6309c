"""Every shipped scenario (peers/scenarios/*.yaml) against the real reference peer, node-like.

In-process: `conformance.peer.node.serve` on 127.0.0.1 port 0 with the default behaviours, and the
scenario run through the command line's opener; a `role: responder` scenario listens and the peer's
`connect` dials it. As processes: `ouroboros-conformance serve --port 0` and `script FILE --peer`, and
`script FILE --listen` dialed by `connect`. The reference peer is conformant, so every scenario must pass:
one that expects conformant behaviour gets it, one that sends hostile input sees the remote close, for the
rule it names. A failure here is a false alarm of a scenario (or a fault of the peer), never acceptable.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import selectors
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.peer.defaults import default_behaviours
from conformance.peer.node import Connection, PeerConfig, connect
from conformance.peer.scenario import Scenario, ScenarioResult, load, run
from conformance.peer.scenario.dial import open_peer
from conformance.peer.scenario.model import Expect, ExpectAny, Repeat, Send, Step

from .test_scenario_loopback import needs_responder, opener_for, served

SCENARIOS = Path(__file__).resolve().parents[2] / "peers" / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))
TIMEOUT = 150.0


@dataclass(frozen=True)
class Verdict:
    """What the conformant peer must produce: the verdict, and for hostile input the rule the node (our
    responder) names when it closes."""

    verdict: str = "pass"
    node_closes_for: str | None = None


EXPECTED = {
    "chain-sync-intersect-origin": Verdict(),
    "handshake-accept": Verdict(),
    "handshake-refuse-wrong-magic": Verdict(),  # MsgRefuse Refused (the node's answer to another magic)
    "hostile-keep-alive-malformed": Verdict(node_closes_for="KA-CODEC-01"),
    "keep-alive-answer-the-dialer": Verdict(),
    "keep-alive-echo": Verdict(),
    "tx-submission2-empty-nonblocking": Verdict(node_closes_for="TX-REPLY-01"),
    "tx-submission2-init": Verdict(),
}


def _protocols(steps: tuple[Step, ...]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        if isinstance(step, (Send, Expect)):
            found.add(step.protocol)
        elif isinstance(step, ExpectAny):
            found.update(e.protocol for e in step.messages)
        elif isinstance(step, Repeat):
            found |= _protocols(step.steps)
    return found - {"handshake", "n2c-handshake"}


def test_every_shipped_scenario_has_its_expected_verdict() -> None:
    assert {load(f).name for f in FILES} == set(EXPECTED)
    assert any(load(f).role == "responder" for f in FILES)  # the --listen role is exercised too


async def _initiator_run(scenario: Scenario) -> tuple[ScenarioResult, Connection]:
    async with served() as server:
        result = await run(scenario, opener_for(server.port))
        assert len(server.connections) == 1
        return result, server.connections[0]


async def _responder_run(scenario: Scenario) -> tuple[ScenarioResult, Connection]:
    """The script listens (port 0: the line it prints names the port) and our node-like peer dials it."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        running = asyncio.ensure_future(run(scenario, open_peer, address=("127.0.0.1", 0)))
        for _ in range(1000):
            if printed.getvalue() or running.done():
                break
            await asyncio.sleep(0.01)
    port = json.loads(printed.getvalue().splitlines()[0])["listening"]["port"]
    node = await connect("127.0.0.1", port, PeerConfig(behaviours=default_behaviours("node-to-node", "initiator")))
    result = await running
    await node.close()
    return result, node


@pytest.mark.parametrize("file", FILES, ids=[f.stem for f in FILES])
def test_the_scenario_against_the_reference_peer(file: Path) -> None:
    scenario = load(file)
    expected = EXPECTED[scenario.name]
    if scenario.role == "initiator":
        needs_responder(*_protocols(scenario.steps))
        go = _initiator_run(scenario)
    else:
        go = _responder_run(scenario)
    result, node = asyncio.run(asyncio.wait_for(go, TIMEOUT))
    assert result.verdict == expected.verdict, result.summary()
    assert result.violations == [], result.summary()  # our side found no fault in the conformant node
    node_rules = [v.requirement for v in node.violations]
    if expected.node_closes_for is None:
        assert node_rules == [], node.violations  # nor did the node in what the script sent
    else:
        last = result.steps[-1]
        assert last.kind == "expect_close" and last.detail.startswith("closed:"), result.summary()
        assert node_rules == [expected.node_closes_for], node.violations
        assert expected.node_closes_for in scenario.requirements  # the scenario names the rule it breaks


def test_the_refusal_is_the_msg_refuse_alternative() -> None:
    scenario = load(SCENARIOS / "handshake-refuse-wrong-magic.yaml")
    result, _ = asyncio.run(asyncio.wait_for(_initiator_run(scenario), TIMEOUT))
    assert result.verdict == "pass" and result.steps[1].detail == ""  # MsgRefuse arrived before the close


# -- as processes: the command line end to end --------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "conformance.cli", *args]


def _first_line(process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    """The JSON line a listening command prints first (bounded wait)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            raise AssertionError("no listening line")
    line = process.stdout.readline()
    document: dict[str, Any] = json.loads(line)
    return document


@contextlib.contextmanager
def _process(*args: str) -> Any:
    process = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=30)


def test_script_against_the_serve_command() -> None:
    names = ["keep-alive-echo", "handshake-accept", "handshake-refuse-wrong-magic", "hostile-keep-alive-malformed"]
    with _process("serve", "--port", "0") as serve:
        port = _first_line(serve)["listening"]["port"]
        for name in names:
            done = subprocess.run(
                _cli("script", str(SCENARIOS / f"{name}.yaml"), "--peer", f"127.0.0.1:{port}"),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (name, done.stdout, done.stderr)
            assert done.stdout.rstrip().endswith("verdict: pass"), done.stdout
        serve.terminate()
        _, errors = serve.communicate(timeout=30)
    assert serve.returncode == 1  # serve reports the one rule the hostile scenario broke, and only it
    assert [line.split()[1] for line in errors.splitlines() if line.startswith("violation:")] == ["KA-CODEC-01"]


def test_a_listening_script_dialed_by_the_connect_command() -> None:
    file = SCENARIOS / "keep-alive-answer-the-dialer.yaml"
    with _process("script", str(file), "--listen", "127.0.0.1:0") as script:
        port = _first_line(script)["listening"]["port"]
        dialed = subprocess.run(
            _cli("connect", f"127.0.0.1:{port}"), capture_output=True, text=True, timeout=120, check=False
        )
        out, errors = script.communicate(timeout=60)
    assert dialed.returncode == 0, (dialed.stdout, dialed.stderr)
    summary = json.loads(dialed.stdout)
    assert summary["violations"] == [] and summary["closed"]["by"] == "local"
    assert script.returncode == 0, (out, errors)
    assert out.rstrip().endswith("verdict: pass")
