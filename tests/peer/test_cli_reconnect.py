"""`connect --reconnect SECONDS`: the reference peer as the reconnecting initiator of an initiator-role
suite run. A responder that closes every connection after a moment gets a new one each time; the run
ends when the address refuses connections (or SECONDS pass), with one JSON summary and exit 0 unless the
remote broke a rule."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import pytest

from conformance import faults
from conformance.cli import main
from conformance.peer.defaults import default_behaviours
from conformance.peer.node import PeerConfig, Server, serve
from conformance.peer.reconnect import reconnect

from .connection_helpers import run

pytestmark = pytest.mark.timeout(90)
CLI = [sys.executable, "-m", "conformance.cli"]
SCALE = 0.05


def initiator(**overrides: Any) -> PeerConfig:
    overrides.setdefault("behaviours", default_behaviours("node-to-node", "initiator", headers=5, depth=2))
    return PeerConfig(initiator_only=True, time_scale=SCALE, **overrides)


def responder(**overrides: Any) -> PeerConfig:
    overrides.setdefault("behaviours", default_behaviours("node-to-node", "responder"))
    return PeerConfig(time_scale=SCALE, **overrides)


async def close_each(server: Server, connections: int, after: float = 0.2) -> None:
    """Close each of the next `connections` connections `after` seconds after it negotiated, as a suite
    case does at its end, then stop listening (bounded: 10 s per connection)."""
    for number in range(1, connections + 1):
        for _ in range(1000):
            if len(server.connections) >= number and server.connections[-1].negotiated is not None:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"connection {number} never came")
        await asyncio.sleep(after)
        await server.connections[-1].close()
    await server.close()


def test_reconnects_after_every_close_until_the_address_refuses() -> None:
    async def main() -> None:
        server = await serve("127.0.0.1", 0, responder())
        closer = asyncio.ensure_future(close_each(server, 3))
        result = await reconnect("127.0.0.1", server.port, initiator(), seconds=30, refused_for=0.3)
        await closer
        assert (result.connections, result.ended) == (3, "refused"), result.as_dict()
        assert result.ok and result.violations == [] and result.problems == []
        assert result.headers >= 3  # every connection followed the served chain again
        assert not any(c.violations for c in server.connections)  # and broke no rule itself

    run(main())


def test_a_refused_handshake_is_no_violation_and_the_initiator_comes_back() -> None:
    async def main() -> None:
        server = await serve("127.0.0.1", 0, responder(magic=1))  # refuses the initiator's magic
        stopper = asyncio.get_running_loop().call_later(1.0, server.stop)
        result = await reconnect("127.0.0.1", server.port, initiator(magic=2), seconds=30, refused_for=0.3)
        stopper.cancel()
        assert result.connections >= 2 and result.refusals == result.connections, result.as_dict()
        assert result.ok and result.ended == "refused"

    run(main())


def test_the_remotes_violations_are_kept_and_fail_the_run() -> None:
    async def main() -> None:
        fault = faults.find("ka-wrong-cookie")  # the zoo's: every cookie answered plus one
        config = responder(behaviours=faults.behaviours(fault, "node-to-node", "responder"))
        server = await serve("127.0.0.1", 0, faults.configure(fault, config))
        stopper = asyncio.get_running_loop().call_later(1.0, server.stop)
        result = await reconnect("127.0.0.1", server.port, initiator(), seconds=30, refused_for=0.3)
        stopper.cancel()
        # the initiator closes on the wrong cookie, reconnects, and is fooled again each time
        assert result.connections >= 2 and not result.ok, result.as_dict()
        assert {v.requirement for v in result.violations} == {"KA-COOKIE-01"}

    run(main())


def test_bounded_by_seconds_and_by_stop() -> None:
    async def main() -> None:
        server = await serve("127.0.0.1", 0, responder())  # never closes: one connection for the whole run
        timed = await reconnect("127.0.0.1", server.port, initiator(), seconds=0.5)
        assert (timed.connections, timed.ended) == (1, "time") and timed.ok
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, stop.set)
        stopped = await reconnect("127.0.0.1", server.port, initiator(), seconds=30, stop=stop)
        assert (stopped.connections, stopped.ended) == (1, "stopped") and stopped.seconds < 10
        await server.close()
        nobody = await reconnect("127.0.0.1", server.port, initiator(), seconds=30, refused_for=0.2)
        assert (nobody.connections, nobody.ended, nobody.ok) == (0, "refused", False)

    run(main())


def test_the_cli_prints_one_summary_and_exits_0() -> None:
    """The command as the suite's tests start it: a process that reconnects to a responder closing each
    connection, follows headers and offers golden transactions each time, and stops on SIGTERM."""

    async def main() -> dict[str, Any]:
        server = await serve("127.0.0.1", 0, responder())
        closer = asyncio.ensure_future(close_each(server, 2, after=0.3))
        command = [
            *CLI, "connect", f"127.0.0.1:{server.port}", "--reconnect", "60", "--headers", "4",
            "--txs", "3", "--time-scale", str(SCALE),
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await asyncio.wait_for(closer, 40)
        process.send_signal(signal.SIGTERM)  # it stops at once, summary and all (else 3 s after refusals begin)
        out, err = await asyncio.wait_for(process.communicate(), 40)
        announced = [
            sum(len(e.fields["txids"]) for e in c.transcript if e.direction == "received" and e.name == "MsgReplyTxIds")
            for c in server.connections
        ]
        assert process.returncode == 0, err.decode()
        return {**json.loads(out.decode().strip().splitlines()[-1]), "announced": announced}

    summary = run(main(), 60)
    assert (summary["connections"], summary["ended"], summary["violations"]) == (2, "stopped", []), summary
    assert summary["headers"] == 8 and summary["refusals"] == 0
    assert summary["announced"] == [3, 3]  # the three transactions are offered again on each connection


@pytest.mark.parametrize(
    "args",
    [["--reconnect", "0"], ["--reconnect", "5", "--socket", "/nonexistent"], ["--txs", "999"]],
    ids=["zero-seconds", "unix-socket", "too-many-txs"],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    address = [] if "--socket" in args else ["127.0.0.1:9"]
    try:
        code = main(["connect", *address, *args])
    except SystemExit as exit:  # argparse's own usage errors
        code = int(exit.code or 0)
    assert code == 2 and capsys.readouterr().err
