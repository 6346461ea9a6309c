"""The fault zoo's parts on real bytes: every zoo file loads, bad files are refused by key, rewrites
change exactly what they say (checked by decoding what they produce), egress faults change the SDUs."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import faults, wire
from conformance.faults.egress import EgressTamper
from conformance.faults.model import Egress, Rewrite
from conformance.faults.tamper import Tampered
from conformance.peer.agent import After, Send
from conformance.peer.keep_alive import KeepAliveServer
from conformance.peer.mux_io import SduReader, header
from conformance.protocol.mux import MINI_PROTOCOLS
from conformance.wire import Message
from conformance.wire.mux import MuxError

NUMBERS = {p.name: p.number for p in MINI_PROTOCOLS["node-to-node"]}


def test_every_fault_of_the_zoo_loads_and_breaks_a_catalogue_requirement() -> None:
    zoo = faults.load_all()
    assert len(zoo) >= 10
    for fault in zoo:
        assert fault.breaks in fault.disable and fault.description and fault.cases, fault.name


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"breaks": "XX-01"}, "not in conformance/requirements.yaml"),
        ({"rewrite": [{"protocol": "keep-alive", "message": "MsgKeepAlives"}]}, "has no message 'MsgKeepAlives'"),
        ({"rewrite": [{"protocol": "keep-alive", "message": "MsgDone", "sett": {}}]}, "unknown keys"),
        ({"egress": [{"protocol": "keep-alive", "kind": "sideways"}]}, "a kind of"),
        ({"switches": {"keep-alive/responder": {}}}, "has none"),
        ({"chain": {"kind": "teleport"}}, "chain needs a kind"),
        ({"role": "both"}, "role is responder or initiator"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_a_bad_fault_file_is_refused_with_the_key_named(change: dict[str, Any], complaint: str) -> None:
    document = {"name": "x", "breaks": "KA-COOKIE-01", "role": "responder", "description": "d", "cases": "k"}
    document.update(change)
    with pytest.raises(faults.FaultError, match=complaint):
        faults.parse(document, "x.yaml")


def answers(rewrite: Rewrite, *cookies: int) -> list[Any]:
    server = Tampered(KeepAliveServer(), [rewrite], time_scale=0.5)
    out: list[Any] = []
    for cookie in cookies:
        out += server.on_message(Message("keep-alive", "MsgKeepAlive", {"cookie": cookie}))
    return out


def decoded(action: Any) -> Message:
    assert isinstance(action, Send)
    data = action.message.raw if action.message.raw is not None else wire.encode(action.message)
    return wire.decode("keep-alive", bytes(data), state="StServer")


def test_set_add_changes_the_field_in_the_bytes_sent() -> None:
    sent = answers(Rewrite("keep-alive", "MsgKeepAliveResponse", set={"cookie": {"add": 1, "mod": 65536}}), 41, 65535)
    assert [decoded(a).fields["cookie"] for a in sent] == [42, 0]


def test_nth_drop_repeat_and_delay() -> None:
    first = Rewrite("keep-alive", "MsgKeepAliveResponse", nth=(1,), drop=True)
    assert [decoded(a).fields["cookie"] for a in answers(first, 1, 2)] == [2]
    twice = Rewrite("keep-alive", "MsgKeepAliveResponse", repeat=1)
    assert [decoded(a).fields["cookie"] for a in answers(twice, 5)] == [5, 5]
    server = Tampered(KeepAliveServer(), [Rewrite("keep-alive", "MsgKeepAliveResponse", delay=70)], time_scale=0.5)
    (wait,) = server.on_message(Message("keep-alive", "MsgKeepAlive", {"cookie": 9}))
    assert isinstance(wait, After) and wait.seconds == 35.0  # scaled
    (late,) = server.on_timer(wait.token)
    assert decoded(late).fields["cookie"] == 9 and server.on_timer(wait.token) == []


def test_byte_rewrites_flip_append_truncate() -> None:
    (flipped,) = answers(Rewrite("keep-alive", "MsgKeepAliveResponse", flip=(1, 2)), 7)
    with pytest.raises(wire.DecodeError):
        decoded(flipped)  # tag 3: no keep-alive message
    (padded,) = answers(Rewrite("keep-alive", "MsgKeepAliveResponse", append=b"\x00"), 7)
    assert (
        bytes(padded.message.raw) == wire.encode(Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 7})) + b"\0"
    )
    (cut,) = answers(Rewrite("keep-alive", "MsgKeepAliveResponse", truncate=2), 7)
    assert len(cut.message.raw) == 2


def test_definite_lists_rewrite_the_indefinite_list_the_node_requires() -> None:
    from conformance.faults.tamper import rewritten

    reply = Message("tx-submission2", "MsgReplyTxIds", {"txids": []})
    original = wire.encode(reply)
    (changed,) = rewritten(Rewrite("tx-submission2", "MsgReplyTxIds", reencode="definite-lists"), reply)
    assert original == bytes.fromhex("82019fff") and bytes(changed.raw) == bytes.fromhex("820180")


def sdu(number: int, mode: int, payload: bytes) -> bytes:
    return header(1, number, mode, len(payload)) + payload


def read(data: bytes) -> list[Any]:
    return SduReader().feed(data)


def test_egress_faults_change_the_nth_sdu_of_their_protocol_only() -> None:
    ka, cs = NUMBERS["keep-alive"], NUMBERS["chain-sync"]
    stream = sdu(cs, 1, b"\x81\x00") + sdu(ka, 1, b"\x82\x01\x07")
    flipped, close = EgressTamper([Egress("keep-alive", "mode-bit")], NUMBERS)(stream)
    assert not close and [(s.protocol, s.mode) for s in read(flipped)] == [(cs, 1), (ka, 0)]
    renamed, _ = EgressTamper([Egress("keep-alive", "protocol-number", value=99)], NUMBERS)(stream)
    assert [s.protocol for s in read(renamed)] == [cs, 99]
    with pytest.raises(MuxError):
        read(EgressTamper([Egress("keep-alive", "zero-length")], NUMBERS)(stream)[0])
    tamper = EgressTamper([Egress("keep-alive", "cut-and-close", value=1)], NUMBERS)
    cut, close = tamper(stream)
    assert close and cut == stream[: len(stream) - 2]
    second = EgressTamper([Egress("keep-alive", "mode-bit", nth=2)], NUMBERS)
    assert second(stream)[0] == stream and [s.mode for s in read(second(stream)[0])] == [1, 0]


def test_the_readme_table_lists_exactly_the_zoo() -> None:
    """The README's fault table is written by `sensitivity --update-readme`; a fault added or removed
    since the last run shows here (run the command again)."""
    from pathlib import Path

    from conformance.faults.sensitivity import README_BEGIN, README_END

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split(README_BEGIN)[1].split(README_END)[0]
    rows = [line.split("|")[1:4] for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    listed = {(name.strip(), breaks.strip()) for name, _role, breaks in rows[1:]}
    assert listed == {(f.name, f.breaks) for f in faults.load_all()}, (
        "run: ouroboros-conformance sensitivity --update-readme README.md"
    )
