"""The runner against the real reference peer over loopback TCP (test_scenario_loopback.served): real SDUs,
codecs, sessions and node-like behaviours on both ends."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from pathlib import Path
from typing import Any

from conformance.peer.connection import CloseInfo, ConnectionClosed
from conformance.peer.scenario import ScenarioResult, command, load, loads, run
from conformance.peer.scenario.dial import open_peer

from .test_scenario_loopback import closing_listener, needs_responder, opener_for, served

SCENARIOS = Path(__file__).resolve().parents[2] / "peers" / "scenarios"


def run_against(
    scenario_text_or_file: str | Path, *, close_on_refuse: bool = False, **node_options: Any
) -> ScenarioResult:
    """Run a scenario against the reference peer (`served`), or against a remote that closes instead of
    answering (`close_on_refuse`)."""
    if isinstance(scenario_text_or_file, Path):
        scenario = load(scenario_text_or_file)
    else:
        scenario = loads(scenario_text_or_file, "test.yaml")

    async def go() -> ScenarioResult:
        if close_on_refuse:
            async with closing_listener() as port:
                return await run(scenario, opener_for(port))
        async with served(**node_options) as server:
            return await run(scenario, opener_for(server.port))

    return asyncio.run(asyncio.wait_for(go(), 120))


def statuses(result: ScenarioResult) -> list[tuple[str, str]]:
    return [(step.path, step.status) for step in result.steps]


def test_handshake_accept_scenario_passes_and_captures_the_version() -> None:
    result = run_against(SCENARIOS / "handshake-accept.yaml")
    assert result.verdict == "pass", result.summary()
    assert result.variables["version"] == 16
    assert result.negotiated is not None and result.negotiated["version"] == 16
    assert result.exit_code == 0


def test_handshake_refuse_scenario_passes_on_msg_refuse() -> None:
    result = run_against(SCENARIOS / "handshake-refuse-wrong-magic.yaml")
    assert result.verdict == "pass", result.summary()
    assert result.steps[1].detail == ""  # the MsgRefuse alternative, not the close


def test_handshake_refuse_scenario_passes_on_close_too() -> None:
    result = run_against(SCENARIOS / "handshake-refuse-wrong-magic.yaml", close_on_refuse=True)
    assert result.verdict == "pass", result.summary()
    assert result.steps[1].detail.startswith("closed")


def test_handshake_accept_fails_when_the_node_refuses_our_magic() -> None:
    result = run_against(SCENARIOS / "handshake-accept.yaml", magic=1)
    assert statuses(result) == [("1", "passed"), ("2", "failed")]
    assert "got MsgRefuse" in result.steps[1].detail and "expected MsgAcceptVersion" in result.steps[1].detail
    assert result.exit_code == 1


def test_keep_alive_echo_runs_every_round_with_the_captured_cookie() -> None:
    result = run_against(SCENARIOS / "keep-alive-echo.yaml")
    assert result.verdict == "pass", result.summary()
    assert [s.path for s in result.steps] == ["1", "2", "3.1#1", "3.2#1", "3.1#2", "3.2#2", "3.1#3", "3.2#3"]
    assert result.variables["cookie"] == 4242
    assert result.violations == []


def test_a_lying_node_fails_the_expectation_and_its_violation_is_reported() -> None:
    result = run_against(SCENARIOS / "keep-alive-echo.yaml", lie_about_cookie=True)
    assert statuses(result)[:3] == [("1", "passed"), ("2", "failed"), ("3", "skipped")]
    assert "KA-COOKIE-01" in result.steps[1].detail  # the peer closed on the violation, as a node does
    assert result.violation_ids == ["KA-COOKIE-01"]
    assert result.verdict == "fail" and result.exit_code == 1


def test_hostile_malformed_keep_alive_ends_in_a_close() -> None:
    result = run_against(SCENARIOS / "hostile-keep-alive-malformed.yaml")
    assert result.verdict == "pass", result.summary()


def test_chain_sync_at_origin_scenario_passes() -> None:
    needs_responder("chain-sync")
    result = run_against(SCENARIOS / "chain-sync-intersect-origin.yaml")
    assert result.verdict == "pass", result.summary()
    assert set(result.variables["tip"]) == {"point", "block_no"}


HEADER = "name: t\nsteps:\n"


def test_our_own_check_refuses_a_rule_break_unless_the_scenario_disables_it() -> None:
    steps = """  - send: {protocol: keep-alive, message: MsgKeepAliveResponse, fields: {cookie: 1}}
  - expect_close: {within: 5}
"""
    refused = run_against(HEADER + steps)
    assert statuses(refused) == [("1", "failed"), ("2", "skipped")]
    assert "our own check refused" in refused.steps[0].detail and "KA-RESP-01" in refused.steps[0].detail
    allowed = run_against("name: t\ndisable: [KA-RESP-01]\nsteps:\n" + steps)
    assert allowed.verdict == "pass", allowed.summary()


def test_an_expectation_that_times_out_fails_with_what_was_waited_for() -> None:
    result = run_against(HEADER + "  - expect: {protocol: keep-alive, message: MsgKeepAliveResponse, within: 0.2}\n")
    assert statuses(result) == [("1", "failed")]
    assert result.steps[0].detail == "nothing arrived on keep-alive within 0.2 s"


def test_expect_close_fails_while_the_connection_stays_open() -> None:
    result = run_against(HEADER + "  - wait: 0.05\n  - expect_close: {within: 0.2}\n")
    assert statuses(result) == [("1", "passed"), ("2", "failed")]
    assert "still open" in result.steps[1].detail


def test_field_matchers_and_variables_in_a_regex() -> None:
    steps = """  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: 258}}
  - expect:
      protocol: keep-alive
      message: MsgKeepAliveResponse
      fields: {cookie: {any_of: [{range: [0, 10]}, {regex: "^25"}]}}
      capture: {c: cookie}
  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: "${c}"}}
  - expect:
      protocol: keep-alive
      message: MsgKeepAliveResponse
      fields: {cookie: {range: [257, 259]}}
"""
    result = run_against(HEADER + steps)
    assert statuses(result) == [("1", "passed"), ("2", "failed"), ("3", "skipped"), ("4", "skipped")]
    assert "is not text" in result.steps[1].detail  # a regex matches text; the cookie is a number


def test_a_runtime_field_error_fails_the_step_not_the_run() -> None:
    steps = """  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: 1}}
  - expect: {protocol: keep-alive, message: MsgKeepAliveResponse, capture: {c: cookie}}
  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: "x${c}"}}
"""
    result = run_against(HEADER + steps)
    assert statuses(result) == [("1", "passed"), ("2", "passed"), ("3", "failed")]
    assert "cannot be built" in result.steps[2].detail


def test_resplit_sends_one_byte_sdus_that_the_node_reassembles() -> None:
    steps = """  - send:
      protocol: keep-alive
      message: MsgKeepAlive
      fields: {cookie: 513}
      mutate: [{resplit: {sizes: [1]}}]
  - expect: {protocol: keep-alive, message: MsgKeepAliveResponse, fields: {cookie: 513}}
"""
    result = run_against(HEADER + steps)
    assert result.verdict == "pass", result.summary()


def test_raw_sdu_bytes_of_an_unknown_mini_protocol_end_in_a_close() -> None:
    # an SDU header for mini-protocol 99 (mode 0) carrying one byte: the node tears the connection down
    result = run_against(HEADER + '  - send_sdu: {hex: "00000000 0063 0001 00"}\n  - expect_close: {within: 5}\n')
    assert result.verdict == "pass", result.summary()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_connection_is_an_error_with_exit_code_2() -> None:
    scenario = load(SCENARIOS / "keep-alive-echo.yaml")

    async def go() -> ScenarioResult:
        return await run(scenario, open_peer, address=("127.0.0.1", _free_port()))

    result = asyncio.run(go())
    assert result.verdict == "error" and result.exit_code == 2
    assert result.error is not None and "could not open the connection" in result.error


def test_the_script_command_prints_the_result_and_returns_its_exit_code(tmp_path: Path) -> None:
    async def serve_and_run(file: Path, as_json: bool) -> tuple[int, str]:
        async with served() as server:
            out = io.StringIO()
            code = await asyncio.to_thread(
                command.script, file, peer=f"127.0.0.1:{server.port}", transcript=tmp_path, as_json=as_json, out=out
            )
            return code, out.getvalue()

    code, text = asyncio.run(serve_and_run(SCENARIOS / "keep-alive-echo.yaml", True))
    assert code == 0
    assert json.loads(text)["verdict"] == "pass"
    assert json.loads((tmp_path / "keep-alive-echo.result.json").read_text())["verdict"] == "pass"
    code, text = asyncio.run(serve_and_run(SCENARIOS / "handshake-accept.yaml", False))
    assert code == 0 and text.rstrip().endswith("verdict: pass")


def test_a_fault_of_the_connection_code_is_an_error_not_a_pass() -> None:
    class Broken:
        negotiated = None
        violations: list[Any] = []

        async def send(self, protocol: str, message: Any, *, check: bool = True) -> None:
            raise RuntimeError("bug in the peer")

        async def close(self) -> None:
            return None

    async def open_broken(spec: Any) -> Any:
        return Broken()

    result = asyncio.run(run(load(SCENARIOS / "keep-alive-echo.yaml"), open_broken))
    assert result.verdict == "error" and result.exit_code == 2
    assert result.error == "the run stopped: RuntimeError: bug in the peer"


class _ClosesMidway:
    """A connection whose remote closes after the first raw SDU of a re-split message."""

    negotiated = None
    violations: list[Any] = []

    def __init__(self, by: str) -> None:
        self.info = CloseInfo(by, "end of stream" if by == "remote" else "the remote broke KA-CODEC-01")
        self.sent = 0

    async def send_sdu(self, raw: bytes) -> None:
        if self.sent:
            raise ConnectionClosed(self.info)
        self.sent += 1

    async def wait_closed(self, timeout: float) -> CloseInfo:
        return self.info

    async def close(self) -> None:
        return None


RESPLIT_THEN_CLOSE = """name: t
disable: [KA-CODEC-01]
steps:
  - send:
      protocol: keep-alive
      message: MsgKeepAlive
      fields: {cookie: 7}
      check: false
      mutate: [{insert: {at: 1, byte: 0x1c}}, {resplit: {sizes: [1]}}]
  - expect_close: {within: 1}
"""


def test_a_remote_that_closes_midway_through_a_resplit_message_has_reacted() -> None:
    async def open_closing(spec: Any) -> Any:
        return _ClosesMidway("remote")

    result = asyncio.run(run(loads(RESPLIT_THEN_CLOSE, "t.yaml"), open_closing))
    assert result.verdict == "pass", result.summary()
    assert result.steps[0].detail == "the remote closed after 1 of 4 SDUs"


def test_an_expected_close_that_our_own_peer_made_fails() -> None:
    async def open_closing(spec: Any) -> Any:
        return _ClosesMidway("local")

    result = asyncio.run(run(loads(RESPLIT_THEN_CLOSE, "t.yaml"), open_closing))
    assert statuses(result) == [("1", "failed"), ("2", "skipped")]
    steps = "  - send_sdu: {hex: \"00000000 0063 0001 00\"}\n  - expect_close: {within: 1}\n"
    result = asyncio.run(run(loads(HEADER + steps, "t.yaml"), open_closing))
    assert statuses(result) == [("1", "passed"), ("2", "failed")]
    assert result.steps[1].detail.startswith("the connection was closed by us, not by the remote")


def test_an_automatic_handshake_the_node_refuses_is_an_error_naming_the_refusal() -> None:
    result = run_against(SCENARIOS / "keep-alive-echo.yaml", magic=1)
    assert result.verdict == "error" and result.exit_code == 2
    assert result.error is not None and "the handshake did not complete (refused:" in result.error
    assert "Refused" in result.error
