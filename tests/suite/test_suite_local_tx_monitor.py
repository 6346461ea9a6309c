"""The local tx monitor cases against the reference peer (no false alarm) and against a server that hands
out the first transaction of a snapshot twice (LTM-NEXT-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer.local_tx_monitor import LocalTxMonitorServer
from conformance.peer.mempool import Mempool, golden_transactions

from .harness import SuiteRun
from .n2c_peers import faulty_run, reference_run

pytestmark = pytest.mark.timeout(300)
MODULE = "test_local_tx_monitor"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return reference_run(tmp_path_factory.mktemp("local-tx-monitor") / "report", MODULE)


def test_the_reference_peer_passes_every_local_tx_monitor_case(reference: SuiteRun) -> None:
    assert reference.returncode == 0, reference.output
    assert reference.records and {r["outcome"] for r in reference.records} == {"passed"}, reference.records
    assert {"LTM-ACQUIRED-01", "LTM-NEXT-01", "LTM-SIZES-01", "LTM-VERSION-01", "LTM-AGENCY-01"} <= {
        r["requirement"] for r in reference.records
    }


class FirstTwice(LocalTxMonitorServer):
    """A faulty server: the first MsgNextTx of a snapshot leaves its transaction to be handed out again."""

    def on_message(self, message):  # type: ignore[no-untyped-def]
        if message.name == "MsgAcquire":
            self.repeat = True
        if message.name == "MsgNextTx" and getattr(self, "repeat", False) and self.remaining:
            self.repeat = False
            return [self._send("MsgReplyNextTx", tx=self.remaining[0].tx)]
        return super().on_message(message)


def test_a_server_repeating_a_transaction_fails_ltm_next_01(tmp_path: Path) -> None:
    mempool = Mempool(golden_transactions()[:3])
    replaced = {("local-tx-monitor", "responder"): lambda negotiated: FirstTwice(mempool, negotiated)}
    run = faulty_run(tmp_path / "report", MODULE, replaced, mempool=mempool, disabled_rules=frozenset({"LTM-NEXT-01"}))
    assert run.returncode == 1, run.output
    assert run.failed() == {"LTM-NEXT-01"}, run.records
    failing = {r["case"].split("::")[1] for r in run.records if r["outcome"] == "failed"}
    assert failing == {
        "test_next_tx_until_none_then_release_and_done",
        "test_release_and_acquire_again_hands_out_the_transactions_again",
    }, failing
