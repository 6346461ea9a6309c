"""Run folders as the suite writes them (RUNDIR contract), with evidence made by the reference peer over
real loopback sockets: the transcripts are what conformance.peer writes, never typed by hand.

Only results.json and run.json are written here (the suite is their real author); every record goes through
`conformance.report.check_record`, the schema the suite uses too.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from conformance.peer.connection import Connection
from conformance.peer.defaults import default_behaviours
from conformance.peer.node import PeerConfig, Server, connect, connect_unix, serve, serve_unix
from conformance.protocol import catalogue
from conformance.report import check_record, check_run_info
from conformance.wire import Message

TIMEOUT = 30.0
KEEP_ALIVE_CASE = "test_keep_alive.py::test_cookie_echo"
AGENCY_CASE = "test_keep_alive.py::test_response_without_agency"


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def _until(predicate: Any, timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return bool(predicate())


def _responder(**options: Any) -> PeerConfig:
    """A node-like node-to-node responder: the peer's default behaviours."""
    return PeerConfig(behaviours=default_behaviours("node-to-node", "responder"), **options)


def keep_alive_evidence(folder: Path, rounds: int = 2) -> Path:
    """The reference peer as initiator (testing a responder): handshake, `rounds` keep-alive round trips,
    MsgDone. Its transcript lands in `folder`."""
    from conformance.peer import keep_alive

    async def main() -> None:
        server = await serve("127.0.0.1", 0, _responder())
        try:
            behaviours = {("keep-alive", "initiator"): keep_alive.client(0.01, rounds=rounds)}
            config = PeerConfig(behaviours=behaviours, transcript_dir=folder, initiator_only=True)
            client = await connect("127.0.0.1", server.port, config)
            assert await _until(lambda: ("keep-alive", "initiator") in client.finished)
            await client.close()
        finally:
            await server.close()

    _run(main())
    return folder


def agency_evidence(folder: Path) -> tuple[Path, list[str]]:
    """The reference peer as responder (testing an initiator) while the initiator sends MsgKeepAliveResponse,
    a message of the server, in StClient. The reference peer records the violation and closes; its
    transcript lands in `folder`. Returns the folder and the requirements it recorded."""

    async def main() -> list[str]:
        server: Server = await serve("127.0.0.1", 0, _responder(transcript_dir=folder))
        try:
            tested: Connection = await connect("127.0.0.1", server.port, PeerConfig(behaviours={}, initiator_only=True))
            await tested.send("keep-alive", Message("keep-alive", "MsgKeepAlive", {"cookie": 7}))
            await tested.receive("keep-alive", timeout=5)
            reply = Message("keep-alive", "MsgKeepAliveResponse", {"cookie": 8})
            await tested.send("keep-alive", reply, check=False)
            assert await _until(lambda: bool(server.connections) and server.connections[0].is_closed)
            await tested.close()
            return [v.requirement for v in server.connections[0].violations]
        finally:
            await server.close()

    return folder, _run(main())


def n2c_evidence(folder: Path) -> Path:
    """A node-to-client handshake over a Unix socket, the reference peer as initiator; transcript in `folder`."""

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="rep") as short:
            path = str(Path(short) / "node.socket")
            server = await serve_unix(path, PeerConfig(mode="node-to-client", behaviours={}))
            try:
                config = PeerConfig(mode="node-to-client", behaviours={}, transcript_dir=folder)
                client = await connect_unix(path, config)
                assert client.negotiated is not None
                await client.close()
            finally:
                await server.close()

    _run(main())
    return folder


def record(
    case: str, requirement: str, outcome: str, message: str = "", evidence: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """One results.json record; protocol and severity come from the catalogue entry of `requirement`."""
    entry = catalogue.load().get(requirement)
    made: dict[str, Any] = {
        "case": case,
        "protocol": entry.protocols[0] if entry else "mux",
        "requirement": requirement,
        "severity": entry.severity if entry else "MUST",
        "outcome": outcome,
        "message": message,
        "evidence": evidence,
        "duration": 0.05,
        **overrides,
    }
    check_record(made)
    return made


def write_run(folder: Path, label: str, records: list[dict[str, Any]], *, role: str = "responder") -> Path:
    """run.json and results.json of a run folder; the case counts follow the records."""
    folder.mkdir(parents=True, exist_ok=True)
    worst: dict[str, str] = {}
    for item in records:
        outcome = item["outcome"]
        if outcome == "failed" or worst.get(item["case"]) != "failed":
            worst[item["case"]] = outcome
    counts = Counter(worst.values())
    info = {
        "label": label,
        "peer": "127.0.0.1:3001" if role == "responder" else "listen 127.0.0.1:4000",
        "role": role,
        "profile": "reference",
        "implementation": "ouroboros-conformance reference peer",
        "magic": 764824073,
        "time_scale": 1.0,
        "started": "2026-11-30T08:00:00Z",
        "duration": 2.5,
        "tool_version": "0.1.0",
        "cases": {
            "total": len(worst),
            "passed": counts["passed"],
            "failed": counts["failed"],
            "skipped": counts["unsupported"],
            "xfailed": counts["xfail"],
        },
    }
    check_run_info(info)
    (folder / "run.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    (folder / "results.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
    return folder


def copy_evidence(source: Path, run: Path, slug: str) -> str:
    """Place a made evidence folder under run/evidence/<slug>; the relative name results.json uses."""
    shutil.copytree(source, run / "evidence" / slug)
    return f"evidence/{slug}"


def failing_run(
    folder: Path, agency: Path, requirement: str, keep_alive: Path, *, label: str = "reference initiator"
) -> Path:
    """A run with one MUST failure of `requirement` (evidence: `agency`), one pass (evidence: `keep_alive`)
    and one case unsupported."""
    records = [
        record(KEEP_ALIVE_CASE, "KA-COOKIE-01", "passed", evidence=copy_evidence(keep_alive, folder, "ka-echo")),
        record(
            AGENCY_CASE,
            requirement,
            "failed",
            "the peer sent MsgKeepAliveResponse in StClient, where the client has agency",
            evidence=copy_evidence(agency, folder, "ka-agency"),
        ),
        record("test_peer_sharing.py::test_amount", "PS-AMOUNT-01", "unsupported", "peer sharing not offered"),
    ]
    return write_run(folder, label, records, role="initiator")
