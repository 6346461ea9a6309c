"""The plugin is valid Lua for every version Wireshark builds with (5.2 to 5.4)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance import dissector

COMPILERS = ("luac5.4", "luac5.3", "luac5.2", "luac")
INTERPRETERS = ("lua5.4", "lua5.3", "lua5.2", "lua")
NEWER_THAN_5_2 = {
    "integer division": r"//",
    "bit operators": r"<<|>>|[^~]~[^=]| & | \| ",
    "attributes": r"<const>|<close>",
    "5.3 library": r"string\.(un)?pack|utf8\.|math\.tointeger|table\.move",
}


def _code(text: str) -> str:
    """The Lua text without comments and string literals (enough for the simple literals it has)."""
    text = re.sub(r"--[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def test_the_plugin_uses_nothing_lua_5_2_lacks() -> None:
    """Wireshark 3.x-4.2 embed Lua 5.2: a 5.3 operator would fail only when Wireshark loads the plugin."""
    code = _code(dissector.render())
    for what, pattern in NEWER_THAN_5_2.items():
        found = re.findall(pattern, code)
        assert not found, f"{what}: {found[:3]}"


def test_the_plugin_compiles(tmp_path: Path) -> None:
    plugin = dissector.write(tmp_path)
    compiler = next((c for c in COMPILERS if shutil.which(c)), None)
    if compiler is not None:
        command = [compiler, "-p", str(plugin)]
    else:
        interpreter = next((i for i in INTERPRETERS if shutil.which(i)), None)
        if interpreter is None:
            pytest.skip("no Lua interpreter (Debian packages lua5.4 or lua5.3); tshark tests load it anyway")
        command = [interpreter, "-e", f"assert(loadfile({str(plugin)!r}))"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
