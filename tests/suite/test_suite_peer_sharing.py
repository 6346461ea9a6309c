"""The peer-sharing cases against the reference peer started with --peer-sharing 1 (no false alarm; it
shares no addresses, which is a valid answer), against a peer that shares more addresses than asked for
(PS-AMOUNT-01), and against one that does not negotiate peer sharing (unsupported, not failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer import peer_sharing
from conformance.peer.agent import Send
from conformance.peer.defaults import default_behaviours
from conformance.peer.handshake import N2N
from conformance.peer.node import PeerConfig
from conformance.wire import Message

from .harness import PeerOnThread, SuiteRun, reference_peer, run_suite

pytestmark = pytest.mark.timeout(300)
THREE = [peer_sharing.address("192.0.2.1", 3001), peer_sharing.address("2001:db8::1", 3002),
         peer_sharing.address("198.51.100.7", 6000)]  # fmt: skip


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    report = tmp_path_factory.mktemp("peer-sharing") / "report"
    with reference_peer("--port", "0", "--peer-sharing", "1") as where:
        return run_suite(report, "--peer", f"{where['host']}:{where['port']}", "-k", "test_peer_sharing")


def test_the_reference_peer_passes_every_peer_sharing_case(reference_run: SuiteRun) -> None:
    assert reference_run.returncode == 0, reference_run.output
    assert reference_run.records and {r["outcome"] for r in reference_run.records} == {"passed"}, reference_run.records
    assert {"PS-AMOUNT-01", "PS-ADDR-01", "PS-TIME-01", "PS-AGENCY-01", "PS-NEG-01"} <= {
        r["requirement"] for r in reference_run.records
    }


class AllPeers(peer_sharing.PeerSharingServer):
    """A faulty server: shares every address it knows, whatever the amount asked for."""

    def on_message(self, message):  # type: ignore[no-untyped-def]
        if message.name == "MsgShareRequest":
            return [Send(Message(peer_sharing.PROTOCOL, "MsgSharePeers", {"peers": THREE}))]
        return super().on_message(message)


def _config(**overrides: object) -> PeerConfig:
    options: dict[str, object] = {"peer_sharing": 1, "behaviours": default_behaviours(N2N, "responder")}
    options.update(overrides)
    return PeerConfig(**options)  # type: ignore[arg-type]


def test_a_server_sharing_more_than_asked_fails_ps_amount_01(tmp_path: Path) -> None:
    behaviours = {
        **default_behaviours(N2N, "responder"),
        ("peer-sharing", "responder"): lambda negotiated: AllPeers(THREE),
    }
    config = _config(behaviours=behaviours, disabled_rules=frozenset({"PS-AMOUNT-01"}))
    with PeerOnThread(config) as peer:
        run = run_suite(tmp_path / "report", "--peer", peer.address, "-k", "test_peer_sharing")
    assert run.returncode == 1, run.output
    assert run.failed() == {"PS-AMOUNT-01"}, run.records
    failing = {r["case"].split("::")[1] for r in run.records if r["outcome"] == "failed"}
    assert failing == {
        "test_share_request_is_answered_with_at_most_the_amount[0]",
        "test_share_request_is_answered_with_at_most_the_amount[1]",
        "test_several_requests_then_done",
    }, failing


def test_a_peer_without_peer_sharing_is_unsupported_not_failed(tmp_path: Path) -> None:
    with PeerOnThread(_config(peer_sharing=0)) as peer:
        run = run_suite(tmp_path / "report", "--peer", peer.address, "-k", "test_peer_sharing")
    assert run.returncode == 0, run.output
    assert run.outcomes("PS-AMOUNT-01") == {"unsupported"}, run.records
    assert run.outcomes("PS-NEG-01") == {"passed"}, run.records
