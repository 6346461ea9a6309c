"""An independent implementation against the reference peer: the TypeScript mini-protocol clients of
@harmoniclabs/ouroboros-miniprotocols-ts (npm) talk to `ouroboros-conformance serve` over TCP and a Unix
socket (tools/interop/harmoniclabs/probe.js). The package's own view (what it decoded, whether the chain
links) and our peer's verdict (no violation, exit 0) must both hold: a false alarm of ours on a client
written by others, or a reply they cannot read, fails here.

Runs where Node.js and the pinned package are installed (`npm ci --prefix tools/interop/harmoniclabs`;
.ci/run does it, best effort); skipped elsewhere. docs/interop.md says what was found with it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[2] / "tools" / "interop" / "harmoniclabs"
INSTALLED = PROBE / "node_modules" / "@harmoniclabs" / "ouroboros-miniprotocols-ts"
NODE = shutil.which("node")
CLI = [sys.executable, "-m", "conformance.cli"]
MAGIC = "42"

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        NODE is None or not INSTALLED.is_dir(),
        reason="needs Node.js and `npm ci --prefix tools/interop/harmoniclabs` (docs/interop.md)",
    ),
]


def serve(*args: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    command = [*CLI, "serve", "--magic", MAGIC, "--chain-length", "100", "--lifetime", "60", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail(f"serve printed nothing: {process.communicate(timeout=10)}")
    return process, json.loads(line)["listening"]


def probe(*args: str) -> dict[str, object]:
    assert NODE is not None
    done = subprocess.run([NODE, str(PROBE / "probe.js"), *args], capture_output=True, text=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"exit {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    summary: dict[str, object] = json.loads(lines[-1])
    return summary


def verdict(process: subprocess.Popen[str], transcripts: Path) -> None:
    """Our side: no violation in any transcript, and `serve` exits 0 (1 when any remote broke a rule)."""
    process.terminate()
    _, errors = process.communicate(timeout=20)
    lines = [line for path in transcripts.glob("*.jsonl") for line in path.read_text().splitlines()]
    found = [line for line in lines if "violation" in line]
    assert found == [] and process.returncode == 0, (process.returncode, errors, found[:3])


def test_node_to_node_handshake_chain_sync_block_fetch_keep_alive(tmp_path: Path) -> None:
    process, where = serve("--host", "127.0.0.1", "--port", "0", "--transcript", str(tmp_path))
    try:
        seen = probe("n2n", str(where["host"]), str(where["port"]), MAGIC)
    finally:
        verdict(process, tmp_path)
    assert seen["handshake"] == "HandshakeAcceptVersion" and seen["version"] == 14  # it proposes 7 to 14
    assert seen["intersection"] == "ChainSyncIntersectFound" and seen["rollbacks"] == 1  # to the origin first
    assert seen["headers"] == 19 and seen["linked"] is True  # every header's previous hash is its parent's hash
    assert seen["blocks"] == 5 and seen["blocks_match"] is True
    assert seen["cookie"] == 4242


def test_node_to_client_local_chain_sync_state_query_tx_submission(tmp_path: Path) -> None:
    socket = tmp_path / "node.socket"
    if len(str(socket)) > 100:  # a Unix socket path has room for about 108 bytes
        socket = Path(tempfile.mkdtemp(prefix="interop")) / "node.socket"
    process, _ = serve("--socket", str(socket), "--transcript", str(tmp_path))
    try:
        seen = probe("n2c", str(socket), MAGIC)
    finally:
        verdict(process, tmp_path)
    assert seen["handshake"] == "HandshakeAcceptVersion"
    assert seen["whole_blocks"] == 4  # five requests: the rollback to the origin, then four blocks
    assert seen["block_no"] == "82011863"  # [1, 99]: the tip of 100 blocks
    assert seen["current_era"] == 6  # Conway, as its decoder reads our GetCurrentEra answer
    assert seen["submitted"] == "MsgAcceptTx"
