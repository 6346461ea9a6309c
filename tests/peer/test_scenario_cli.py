"""`ouroboros-conformance script`, run as a real subprocess: usage and format errors exit with 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[2] / "peers" / "scenarios"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "script", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nobody listens there


def test_a_malformed_scenario_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - send: {protocol: keep-alive, message: MsgKeepAlive, fields: {cokie: 1}}\n")
    result = run(str(bad), "--peer", "127.0.0.1:3001")
    assert result.returncode == 2
    assert f"{bad}:3:" in result.stderr and "no field 'cokie'" in result.stderr


def test_no_peer_given_or_a_bad_address_exits_2() -> None:
    file = str(SCENARIOS / "keep-alive-echo.yaml")
    assert run(file).returncode == 2
    assert run(file, "--peer", "nowhere").returncode == 2
    assert run(file, "--peer", "127.0.0.1:1", "--listen", "127.0.0.1:2").returncode == 2  # argparse: one of them
    assert run(file, "--magic", "0x2x", "--peer", "127.0.0.1:1").returncode == 2


def test_the_role_decides_between_peer_and_listen() -> None:
    result = run(str(SCENARIOS / "keep-alive-echo.yaml"), "--listen", "127.0.0.1:0")
    assert result.returncode == 2 and "run it with --peer" in result.stderr


def test_no_connection_exits_2_with_the_reason() -> None:
    result = run(str(SCENARIOS / "keep-alive-echo.yaml"), "--peer", f"127.0.0.1:{_closed_port()}")
    assert result.returncode == 2
    assert "could not open the connection" in result.stdout and "verdict: error" in result.stdout
