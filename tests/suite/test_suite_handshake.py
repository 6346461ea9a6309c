"""The handshake cases against the reference peer (no false alarm) and against responders that each break one
negotiation rule (caught, with exactly that rule's id).

The handshake is not a behaviour of the reference peer, so the faulty responders are a small TCP server here:
it decodes the proposal with the wire layer, answers with the reference algorithm (`peer.handshake.respond`)
and then changes the answer in one known way.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import wire
from conformance.peer import handshake as hs
from conformance.peer.mux_io import header
from conformance.peer.node import MAINNET_MAGIC
from conformance.suite.cases.test_handshake import MALFORMED
from conformance.wire import Message

from .harness import reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)

OURS = hs.version_table(hs.N2N, hs.N2N_DEFAULT_VERSIONS, magic=MAINNET_MAGIC)


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with reference_peer("--port", "0", "--time-scale", "0.05") as where:
        yield f"{where['host']}:{where['port']}"


def test_the_reference_peer_passes_every_handshake_case(peer: str, tmp_path: Path) -> None:
    run = run_suite(tmp_path / "report", "--peer", peer, "--time-scale", "0.05", "-k", "test_handshake.py")
    assert run.returncode == 0, run.output
    outcomes = {r["outcome"] for r in run.records}
    assert outcomes == {"passed", "unsupported"}, run.records
    unsupported = {r["case"] for r in run.records if r["outcome"] == "unsupported"}
    assert unsupported == {f"test_handshake.py::test_each_version_alone[v{v}]" for v in range(7, 14)}
    assert {r["requirement"] for r in run.records if r["outcome"] == "passed"} >= {
        "HS-ACCEPT-01", "HS-ACCEPT-02", "HS-NEG-01", "HS-NEG-02", "HS-NEG-03", "HS-NEG-04", "HS-PROPOSE-01",
        "HS-NEG-05", "HS-QUERY-01", "HS-REFUSE-01", "HS-REFUSE-02", "HS-REFUSE-03",
    }  # fmt: skip


def test_a_profile_that_lists_a_version_the_peer_refuses_fails_hs_refuse_01(peer: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("name: claims-v13\nversions:\n  node-to-node: [13, 14, 15, 16]\n")
    run = run_suite(tmp_path / "report", "--peer", peer, "--time-scale", "0.05", "--peer-profile", str(profile),
                    "-k", "test_handshake.py and each_version_alone")  # fmt: skip
    assert run.returncode == 1, run.output
    failed = {(r["case"], r["requirement"]) for r in run.records if r["outcome"] == "failed"}
    assert failed == {("test_handshake.py::test_each_version_alone[v13]", "HS-REFUSE-01")}, run.records


# -- faulty responders ---------------------------------------------------------------------------


def faulty_answer(proposed: dict[int, Any], faults: frozenset[str]) -> Message:
    """The reference answer to `proposed`, changed by every fault named in `faults` that applies to it."""
    if "any-magic" in faults:  # HS-NEG-01: another magic is accepted as if it were ours
        proposed = {k: {**v, "network_magic": MAINNET_MAGIC} if isinstance(v, dict) else v for k, v in proposed.items()}
    if "no-query" in faults:  # HS-NEG-04: a query is answered as a plain proposal
        proposed = {k: {**v, "query": False} if isinstance(v, dict) else v for k, v in proposed.items()}
    common = sorted(set(OURS) & set(proposed))
    if "lowest-common" in faults and common:  # HS-ACCEPT-02: the lowest common version, not the highest
        reply = hs.respond(hs.N2N, OURS, {common[0]: proposed[common[0]]}).reply
    else:
        reply = hs.respond(hs.N2N, OURS, proposed).reply
    reason = reply.fields.get("reason") or {}
    if "short-mismatch-list" in faults and reason.get("kind") == "VersionMismatch":  # HS-REFUSE-01
        reason["versions"] = sorted(OURS)[:-1]
    if "refused-not-decode-error" in faults and reason.get("kind") == "HandshakeDecodeError":  # HS-REFUSE-02
        reason["kind"] = "Refused"
    if reply.name == "MsgAcceptVersion":
        data = reply.fields["version_data"]
        if "duplex-always" in faults:  # HS-NEG-02: our initiator-only is ignored
            data["initiator_only"] = False
        if "peer-sharing-from-remote" in faults:  # HS-NEG-03: the remote's peer sharing, not the AND
            data["peer_sharing"] = proposed[reply.fields["version"]]["peer_sharing"]
        if "peras-from-remote" in faults and "peras_support" in data:  # HS-NEG-05: the remote's, not the AND
            data["peras_support"] = proposed[reply.fields["version"]]["peras_support"]
    return reply


class _Responder(socketserver.BaseRequestHandler):
    faults: frozenset[str] = frozenset()

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(5)
        try:
            head = _read(connection, 8)
            payload = _read(connection, int.from_bytes(head[6:8], "big"))
            proposal = wire.decode("handshake", payload, state="StPropose")
            answer = wire.encode(faulty_answer(dict(proposal.fields["versions"]), self.faults))
            connection.sendall(header(0, 0, 1, len(answer)) + answer)
        except (OSError, wire.DecodeError):
            pass


def _read(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def faulty_responder(faults: frozenset[str]) -> socketserver.ThreadingTCPServer:
    handler = type("FaultyResponder", (_Responder,), {"faults": faults})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


SEVERAL = {
    "lowest-common": ("HS-ACCEPT-02", ["test_all_versions_accepts_the_highest_common"]),
    "short-mismatch-list": ("HS-REFUSE-01", ["test_unknown_versions_only_are_refused_with_the_version_list"]),
    "any-magic": ("HS-NEG-01", ["test_wrong_magic_is_refused"]),
    "refused-not-decode-error": (
        "HS-REFUSE-02",
        [f"test_malformed_version_data_is_refused_with_a_decode_error[{f}]" for f in MALFORMED],
    ),
    "duplex-always": ("HS-NEG-02", ["test_initiator_only_is_the_or_of_both_sides[initiator-only]"]),
    "peer-sharing-from-remote": ("HS-NEG-03", ["test_peer_sharing_is_the_and_of_both_sides[ours-on]"]),
    "peras-from-remote": ("HS-NEG-05", ["test_peras_support_is_the_and_of_both_sides"]),
}
"""Faults whose cases do not overlap, so one responder carries them all: fault -> (id, the cases it fails)."""


def test_each_negotiation_fault_fails_its_case_with_exactly_its_id(tmp_path: Path) -> None:
    server = faulty_responder(frozenset(SEVERAL))
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        run = run_suite(tmp_path / "report", "--peer", address, "--time-scale", "0.05", "-k", "test_handshake.py")
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 1, run.output
    failed = {(r["case"].split("::")[1], r["requirement"]) for r in run.records if r["outcome"] == "failed"}
    expected = {(case, requirement) for requirement, cases in SEVERAL.values() for case in cases}
    assert failed == expected, run.records


def test_a_responder_that_ignores_query_fails_hs_neg_04(tmp_path: Path) -> None:
    server = faulty_responder(frozenset({"no-query"}))
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        run = run_suite(tmp_path / "report", "--peer", address, "--time-scale", "0.05", "-k", "test_handshake.py")
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 1, run.output
    assert run.failed() == {"HS-NEG-04"}, run.records
    failing = {r["case"].split("::")[1] for r in run.records if r["outcome"] == "failed"}
    assert "test_query_gets_the_version_table_then_close" in failing
