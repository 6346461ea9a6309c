"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conformance.vectors import load_vectors

ROLLBACK = (
    "83038082821a03520ff458201979d7dd2c7211cb7ce393c83aceca09675ec7786741620676e16c3ad3ac81031a00351333"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_decode_prints_one_json_object() -> None:
    result = run("decode", "chain-sync", ROLLBACK)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["protocol"] == "chain-sync"
    assert document["message"] == "MsgRollBackward"
    assert document["fields"]["point"] is None
    assert document["fields"]["tip"]["block_no"] == 3478323


def test_encode_is_the_inverse_of_decode() -> None:
    decoded = run("decode", "chain-sync", ROLLBACK).stdout
    result = run("encode", "chain-sync", decoded)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ROLLBACK


def test_decode_with_state() -> None:
    result = run("decode", "local-tx-monitor", "8101", "--state", "StAcquired")
    assert json.loads(result.stdout)["message"] == "MsgAwaitAcquire"


def test_bad_input_is_one_line_on_stderr_and_exit_1() -> None:
    for args in (
        ("decode", "chain-sync", "8302"),
        ("decode", "chain-sync", "zz"),
        ("decode", "nope", "8100"),
    ):
        result = run(*args)
        assert result.returncode == 1
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1


def test_encode_rejects_unknown_fields() -> None:
    result = run("encode", "keep-alive", '{"message": "MsgKeepAlive", "fields": {"cookie": 1, "x": 2}}')
    assert result.returncode == 1


def test_vectors_check_prints_a_table_and_passes() -> None:
    result = run("vectors", "check")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "total" in result.stdout and "FAIL" not in result.stdout
    total = re.search(r"^total\s+(\d+)", result.stdout, re.MULTILINE)
    assert total is not None and int(total[1]) == len(load_vectors()) > 0


def test_vectors_check_on_nothing_is_an_error(tmp_path: Path) -> None:
    """A folder with no vectors (or a loader that finds none) must never print `total 0` and pass."""
    result = run("vectors", "check", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "no golden vectors" in result.stderr
    assert "total" not in result.stdout
