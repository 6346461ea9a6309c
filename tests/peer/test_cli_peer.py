"""The `serve` and `connect` subcommands as real processes: the JSON listening line, a connection to it,
the summary, exit codes 0/1/2, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.peer.node import PeerConfig, connect, connect_unix

from .connection_helpers import run

pytestmark = pytest.mark.timeout(90)
CLI = [sys.executable, "-m", "conformance.cli"]


def start_serve(*args: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    process = subprocess.Popen([*CLI, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # the server prints it once it accepts connections
    if not line:
        process.kill()
        pytest.fail(f"serve printed nothing: {process.communicate(timeout=10)}")
    return process, json.loads(line)["listening"]


def stop(process: subprocess.Popen[str]) -> int:
    process.terminate()
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def connect_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "connect", *args], capture_output=True, text=True, timeout=60)


def test_serve_listens_on_a_free_port_and_connect_summarises() -> None:
    process, where = start_serve("--host", "127.0.0.1", "--port", "0", "--magic", "2")
    try:
        assert where["host"] == "127.0.0.1" and isinstance(where["port"], int) and where["port"] > 0

        async def main() -> None:
            connection = await connect("127.0.0.1", int(where["port"]), PeerConfig(magic=2, versions=(14,)))
            assert connection.negotiated is not None and connection.negotiated.version == 14
            await connection.close()

        run(main())
        done = connect_cli(f"127.0.0.1:{where['port']}", "--magic", "2")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["version"] == 16 and summary["violations"] == []
        assert summary["version_data"]["initiator_only"] is True  # a light client unless --duplex
        assert summary["bytes_sent"] > 0 and summary["closed"]["by"] == "local"
        duplex = connect_cli(f"127.0.0.1:{where['port']}", "--magic", "2", "--duplex")
        assert duplex.returncode == 0, duplex.stderr
        assert json.loads(duplex.stdout)["version_data"]["initiator_only"] is False
        refused = connect_cli(f"127.0.0.1:{where['port']}", "--magic", "1")
        assert refused.returncode == 1 and json.loads(refused.stdout)["refusal"]["kind"] == "Refused"
    finally:
        assert stop(process) == 0


def test_serve_node_to_client_on_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "node.socket"
    process, where = start_serve("--socket", str(path), "--magic", "42", "--transcript", str(tmp_path / "t"))
    try:
        assert where == {"socket": str(path)}

        async def main() -> None:
            connection = await connect_unix(str(path), PeerConfig(mode="node-to-client", magic=42))
            assert connection.negotiated is not None and connection.negotiated.version == 0x8000 | 23
            await connection.close()

        run(main())
        done = connect_cli("--socket", str(path), "--magic", "42")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["version"] == 0x8000 | 23
    finally:
        assert stop(process) == 0
    assert list((tmp_path / "t").glob("responder-*.jsonl")) and list((tmp_path / "t").glob("responder-*.pcap"))


def test_serve_stops_after_its_lifetime() -> None:
    process, _ = start_serve("--port", "0", "--lifetime", "0.5")
    assert process.wait(timeout=20) == 0


@pytest.mark.parametrize(
    "args",
    [["connect", "nonsense"], ["connect"], ["connect", "127.0.0.1:70000"], ["serve", "--time-scale", "0"]],
    ids=["no-port", "no-address", "bad-port", "bad-scale"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr


def test_connect_to_nothing_exits_1() -> None:
    process, where = start_serve("--port", "0")
    stop(process)  # its port is now closed
    done = connect_cli(f"127.0.0.1:{where['port']}", "--timeout", "5")
    assert done.returncode == 1 and "cannot connect" in done.stderr


@pytest.mark.parametrize("depth", ["1", "50"])
def test_connect_follows_the_served_chain_and_fetches_its_blocks(depth: str) -> None:
    """Two processes over loopback: `serve` offers a synthetic chain, `connect` follows 300 headers with
    `depth` requests in flight, fetches their blocks and checks every hash, link and body."""
    process, where = start_serve("--port", "0", "--magic", "42", "--chain-length", "400")
    try:
        done = connect_cli(f"127.0.0.1:{where['port']}", "--magic", "42", "--headers", "300", "--depth", depth)
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert (summary["headers"], summary["blocks"]) == (300, 300)
        assert summary["chain_problems"] == [] and summary["block_problems"] == [] and summary["violations"] == []
    finally:
        assert stop(process) == 0


def test_serve_fills_blocks_to_the_size_asked() -> None:
    """`--block-size`: mainnet-sized blocks of real transactions, fetched and checked (body hash included)."""
    process, where = start_serve("--port", "0", "--magic", "42", "--chain-length", "20", "--block-size", "70000")
    try:
        done = connect_cli(f"127.0.0.1:{where['port']}", "--magic", "42", "--headers", "10")
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert summary["blocks"] == 10 and summary["block_problems"] == [] and summary["violations"] == []
        assert summary["block_bytes"] > 10 * 70_000
    finally:
        assert stop(process) == 0


def test_serve_refuses_a_chain_file_whose_links_are_broken(tmp_path: Path) -> None:
    """A chain file whose blocks do not link is refused when loaded: serve says so and exits 2."""
    from conformance.peer.chain import ChainStore

    good = ChainStore.synthetic(3)
    blocks = [good.block(i) for i in range(3)]
    chain_file = tmp_path / "broken.chain"
    chain_file.write_text("\n".join(block.hex() for block in (blocks[0], blocks[2])) + "\n")
    refused = subprocess.run([*CLI, "serve", "--port", "0", "--chain", str(chain_file)], capture_output=True, text=True)
    assert refused.returncode == 2 and "chain" in refused.stderr


def test_connect_follows_local_chain_sync_over_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "node.socket"
    process, _ = start_serve("--socket", str(path), "--magic", "42", "--chain-length", "200")
    try:
        done = connect_cli("--socket", str(path), "--magic", "42", "--headers", "150", "--depth", "10")
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert summary["headers"] == 150 and summary["chain_problems"] == [] and summary["violations"] == []
    finally:
        assert stop(process) == 0
