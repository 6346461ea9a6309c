"""The plugin is generated from the declarations: the committed copy is current, every protocol and message
of the wire layer is in it, and a message added to the wire layer appears in it without touching Lua."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance import dissector, wire
from conformance.cli import main
from conformance.dissector import lua
from conformance.dissector.model import build
from conformance.protocol.mux import MINI_PROTOCOLS
from conformance.wire.codec import Codec, MessageType
from conformance.wire.schema import Uint

STALE = "tools/wireshark/ouroboros.lua is stale: run `ouroboros-conformance dissector --write tools/wireshark`"


def test_the_committed_plugin_is_what_the_declarations_generate_now() -> None:
    committed = dissector.REPOSITORY_COPY.read_bytes()
    assert committed == dissector.render().encode("utf-8"), STALE


def test_the_command_writes_the_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dissector", "--write", str(tmp_path / "out")]) == 0
    written = tmp_path / "out" / dissector.PLUGIN_NAME
    assert capsys.readouterr().out.strip() == str(written)
    assert written.read_text(encoding="utf-8") == dissector.render()


def test_an_unwritable_folder_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert main(["dissector", "--write", str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the plugin:") and err.count("\n") == 1


def test_rendering_is_deterministic() -> None:
    assert dissector.render() == dissector.render()


def _protocol_block(plugin: str, family: str, number: int) -> str:
    """The generated Lua rows of one mini-protocol of one family."""
    family_start = plugin.index(f"[{lua.string(family)}] = {{")
    start = plugin.index(f"    [{number}] = {{name = ", family_start)
    return plugin[start : plugin.index("    }},", start)]


def test_every_protocol_and_message_of_the_wire_layer_is_in_the_plugin() -> None:
    plugin = dissector.render()
    checked = 0
    for family, rows in MINI_PROTOCOLS.items():
        for row in rows:
            block = _protocol_block(plugin, family, row.number)
            assert block.startswith(f"    [{row.number}] = {{name = {lua.string(row.name)}")
            codec = wire.CODECS.get(row.name)
            for message in codec.messages.values() if codec else ():
                fields = re.escape(", ".join(f"{{{lua.string(name)}, " for name, _ in message.fields))
                pattern = rf"name = {lua.string(message.name)}, tag = {message.tag}, from = \{{[^}}]*\}}, fields = "
                assert re.search(pattern, block), (row.name, message.name)
                names = [name for name, _ in message.fields]
                assert all(lua.string(name) in block for name in names), (row.name, message.name, fields)
                checked += 1
    assert checked == sum(len(c.messages) for c in wire.CODECS.values())


def test_every_message_row_says_who_sends_it() -> None:
    """The sender comes from the protocol tables' agency; messages sharing a tag are told apart by it."""
    for protocol in build().protocols:
        for message in protocol.messages:
            assert message.senders in (("initiator",), ("responder",)), (protocol.name, message.name)


def test_every_shape_kind_is_one_the_runtime_renders() -> None:
    runtime = dissector.runtime()
    handled = set(re.findall(r'k == "([a-z0-9]+)"', runtime))
    emitted = {shape["k"] for shape in build().shapes}
    assert emitted <= handled | {"any"}, emitted - handled


def test_only_opaque_declarations_become_generic_cbor() -> None:
    """A field type the generator does not know would be shown as generic CBOR: only Raw ones are."""
    opaque = {shape["what"] for shape in build().shapes if shape["k"] == "any"}
    assert opaque == {"byron.tx", "rejectReason", "query", "result"}


def test_a_message_added_to_the_wire_layer_appears_in_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_alive = wire.codec("keep-alive")
    extra = MessageType("MsgKeepAlivePing", 9, "nonce" / Uint(32), states=["StClient"])
    grown = Codec(
        keep_alive.name,
        keep_alive.number,
        [*keep_alive.messages.values(), extra],
        since=keep_alive.span.since,
    )
    monkeypatch.setitem(wire.CODECS, "keep-alive", grown)
    plugin = dissector.render()
    assert 'name = "MsgKeepAlivePing", tag = 9, from = {"initiator"}, fields = {{"nonce", ' in plugin
    monkeypatch.undo()
    assert "MsgKeepAlivePing" not in dissector.render()


def test_lua_strings_escape_what_lua_would_read_otherwise() -> None:
    assert lua.string('a"b\\c\n') == '"a\\"b\\\\c\\010"'
    assert lua.literal({"end": 1, "k": [True, None]}) == '{["end"] = 1, k = {true, nil}}'
