"""Loading and validating scenarios: every shipped scenario loads; every mistake names FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import wire
from conformance.peer.scenario import ScenarioFormatError, load, loads
from conformance.peer.scenario.matchers import AnyOf, Equals, Present, Range
from conformance.peer.scenario.model import Expect, ExpectAny, Repeat, Send

SCENARIOS = Path(__file__).resolve().parents[2] / "peers" / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


def test_the_shipped_scenarios_are_there() -> None:
    names = {f.stem for f in FILES}
    assert {
        "handshake-accept",
        "handshake-refuse-wrong-magic",
        "keep-alive-echo",
        "chain-sync-intersect-origin",
        "hostile-keep-alive-malformed",
        "tx-submission2-init",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_shipped_scenario_loads(path: Path) -> None:
    scenario = load(path)
    assert scenario.name == path.stem
    assert scenario.steps and scenario.requirements


def test_a_loaded_scenario_has_its_header_and_steps() -> None:
    scenario = load(SCENARIOS / "keep-alive-echo.yaml")
    assert (scenario.mode, scenario.role, scenario.handshake, scenario.versions) == (
        "node-to-node",
        "initiator",
        "auto",
        (14, 15, 16),
    )
    first, second, third = scenario.steps
    assert isinstance(first, Send) and (first.protocol, first.message, first.fields) == (
        "keep-alive",
        "MsgKeepAlive",
        {"cookie": 4242},
    )
    assert isinstance(second, Expect) and second.capture == (("cookie", "cookie"),)
    assert second.fields == (("cookie", Equals(4242)),) and second.line == 13
    assert isinstance(third, Repeat) and third.times == 3 and len(third.steps) == 2


def test_a_send_built_from_fields_gives_the_wire_layers_bytes() -> None:
    scenario = load(SCENARIOS / "handshake-refuse-wrong-magic.yaml")
    send = scenario.steps[0]
    assert isinstance(send, Send)
    codec = wire.codec("handshake")
    message = codec.from_json({"message": send.message, "fields": send.fields})
    decoded = wire.decode("handshake", wire.encode(message), state="StPropose")
    assert sorted(decoded.fields["versions"]) == [14, 15, 16]
    assert decoded.fields["versions"][16]["network_magic"] == 42


def test_matchers_and_alternatives_are_built() -> None:
    scenario = load(SCENARIOS / "handshake-accept.yaml")
    expect = scenario.steps[1]
    assert isinstance(expect, Expect)
    assert dict(expect.fields) == {
        "version": AnyOf((Equals(14), Equals(15), Equals(16))),
        "version_data.network_magic": Equals("${magic}"),
        "version_data.initiator_only": Equals(True),
    }
    refuse = load(SCENARIOS / "handshake-refuse-wrong-magic.yaml").steps[1]
    assert isinstance(refuse, ExpectAny) and refuse.close and [e.message for e in refuse.messages] == ["MsgRefuse"]
    origin = load(SCENARIOS / "chain-sync-intersect-origin.yaml").steps[1]
    assert isinstance(origin, Expect) and dict(origin.fields)["tip"] == Present(True)
    tx = load(SCENARIOS / "tx-submission2-init.yaml").steps[1]
    assert isinstance(tx, Expect) and dict(tx.fields)["req"] == Range(1, 10)


OK_SEND = "  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: 1}}\n"

# (scenario text, line of the fault, words the message must contain)
MALFORMED = [
    ("name: x\nsteps:\n  - send: {protocol: keep-alive, message: [\n", 4, "not valid YAML"),
    ("", 1, "empty"),
    ("- just a list\n", 1, "must be a mapping"),
    ("steps:\n" + OK_SEND, 1, "missing key 'name'"),
    ("name: x\nsteps: []\n", 2, "at least one step"),
    ("name: x\ncolour: red\nsteps:\n" + OK_SEND, 2, "unknown key 'colour'"),
    ("name: x\nname: y\nsteps:\n" + OK_SEND, 2, "appears twice"),
    ("name: x\nmode: node-to-peer\nsteps:\n" + OK_SEND, 2, "mode must be one of"),
    ("name: x\nversions: [14, 99]\nsteps:\n" + OK_SEND, 2, "version 99 is not one of 7..16"),
    ("name: x\nmagic: -1\nsteps:\n" + OK_SEND, 2, "magic must be within"),
    ("name: x\ndisable: [KA-NOPE-01]\nsteps:\n" + OK_SEND, 2, "not a requirement id"),
    ("name: x\nrequirements: [KA-COOKIE-1]\nsteps:\n" + OK_SEND, 2, "not a requirement id"),
    ("name: x\nsteps:\n" + OK_SEND + "  - shout: loud\n", 4, "exactly one of send"),
    (
        "name: x\nsteps:\n  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: 1}}\n    wait: 1\n",
        3,
        "got send, wait",
    ),
    (
        "name: x\nsteps:\n  - send: {protocol: keepalive, message: MsgKeepAlive}\n",
        3,
        "'keepalive' is not a node-to-node",
    ),
    (
        "name: x\nsteps:\n  - send: {protocol: local-tx-monitor, message: MsgDone}\n",
        3,
        "not a node-to-node mini-protocol",
    ),
    (
        "name: x\nsteps:\n  - send: {protocol: keep-alive, message: MsgKeepAlivee}\n",
        3,
        "keep-alive has no message 'MsgKeepAlivee'",
    ),
    (
        "name: x\nsteps:\n  - send:\n      protocol: keep-alive\n"
        "      message: MsgKeepAlive\n      fields: {cokie: 1}\n",
        6,
        "MsgKeepAlive has no field 'cokie'",
    ),
    (
        "name: x\nsteps:\n  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: 70000}}\n",
        3,
        "does not fit its declaration",
    ),
    ("name: x\nsteps:\n  - send: {protocol: keep-alive, message: MsgKeepAlive}\n", 3, "needs field 'cookie'"),
    ("name: x\nsteps:\n  - send: {protocol: keep-alive, hex: '8200zz'}\n", 3, "hex digits"),
    (
        "name: x\nsteps:\n  - send: {protocol: keep-alive, hex: '820001', message: MsgDone}\n",
        3,
        "exactly one of the two",
    ),
    (
        "name: x\nsteps:\n  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: '${c}'}}\n",
        3,
        "${c} is used before any step captures it",
    ),
    (
        "name: x\nsteps:\n  - send:\n      protocol: keep-alive\n      hex: '8200'\n      mutate:\n"
        "        - resplit: {sizes: [1]}\n        - truncate: {length: 1}\n",
        7,
        "must be the last mutation",
    ),
    (
        "name: x\nsteps:\n  - send:\n      protocol: keep-alive\n      hex: '8200'\n      mutate: [{shred: {}}]\n",
        6,
        "unknown mutation 'shred'",
    ),
    (
        "name: x\nsteps:\n  - send:\n      protocol: keep-alive\n      hex: '8200'\n"
        "      mutate: [{flip: {at: 0, mask: 300}}]\n",
        6,
        "flip.mask must be within 0..255",
    ),
    (
        "name: x\nsteps:\n  - expect: {protocol: keep-alive, message: MsgKeepAliveResponse, fields: {cookey: 1}}\n",
        3,
        "has no field 'cookey'",
    ),
    (
        "name: x\nsteps:\n  - expect:\n      protocol: keep-alive\n      message: MsgKeepAliveResponse\n"
        "      fields: {cookie: {regex: '('}}\n",
        6,
        "not a regular expression",
    ),
    (
        "name: x\nsteps:\n  - expect:\n      protocol: keep-alive\n      message: MsgKeepAliveResponse\n"
        "      fields: {cookie: {range: [1]}}\n",
        6,
        "range is [LOW, HIGH]",
    ),
    (
        "name: x\nsteps:\n  - expect:\n      protocol: keep-alive\n      message: MsgKeepAliveResponse\n"
        "      capture: {magic: cookie}\n",
        6,
        "predefined",
    ),
    (
        "name: x\nsteps:\n  - expect: {protocol: keep-alive, message: MsgKeepAliveResponse, within: -1}\n",
        3,
        "seconds within",
    ),
    (
        "name: x\nsteps:\n  - expect_any:\n      of:\n"
        "        - expect: {protocol: keep-alive, message: MsgKeepAliveResponse}\n"
        "        - expect: {protocol: chain-sync, message: MsgAwaitReply}\n",
        5,
        "all be on one mini-protocol",
    ),
    ("name: x\nsteps:\n  - expect_any:\n      of:\n        - expect_close:\n", 5, "at least two alternatives"),
    ("name: x\nsteps:\n  - repeat: {times: 1001, steps: [{wait: 0}]}\n", 3, "repeat.times must be within 1..1000"),
    (
        "name: x\nsteps:\n  - repeat:\n      times: 1000\n      steps:\n"
        "        - repeat: {times: 1000, steps: [{wait: 0}]}\n",
        3,
        "at most 100000",
    ),
    ("name: x\nsteps:\n  - wait: forever\n", 3, "wait must be a number of seconds"),
]


@pytest.mark.parametrize(("text", "line", "words"), MALFORMED, ids=[w for _, _, w in MALFORMED])
def test_a_malformed_scenario_names_its_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioFormatError) as caught:
        loads(text, "bad.yaml")
    error = caught.value
    assert (error.file, error.line) == ("bad.yaml", line), str(error)
    assert words in error.detail
    assert str(error).startswith(f"bad.yaml:{line}")


def test_a_value_outside_its_declaration_loads_when_the_check_is_off() -> None:
    text = (
        "name: x\nsteps:\n"
        "  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: 70000}, check: false}\n"
    )
    send = loads(text).steps[0]
    assert isinstance(send, Send) and send.fields == {"cookie": 70000} and not send.check


def test_a_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFormatError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_variables_captured_earlier_may_be_used_later_and_in_repeats() -> None:
    text = """name: ok
steps:
  - expect:
      protocol: keep-alive
      message: MsgKeepAliveResponse
      capture: {c: cookie}
  - repeat:
      times: 2
      steps:
        - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cookie: "${c}"}}
        - send: {protocol: keep-alive, hex: "8200${c}", check: false}
"""
    scenario = loads(text)
    assert isinstance(scenario.steps[1], Repeat)


def test_node_to_client_names_its_own_protocols_and_versions() -> None:
    text = """name: n2c
mode: node-to-client
versions: [16, 23]
steps:
  - send: {protocol: local-tx-monitor, message: MsgDone}
"""
    assert loads(text).versions == (16, 23)
    with pytest.raises(ScenarioFormatError, match="not a node-to-client mini-protocol"):
        loads(text.replace("local-tx-monitor", "keep-alive").replace("MsgDone", "MsgKeepAlive"))
