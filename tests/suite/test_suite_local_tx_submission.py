"""The local tx-submission cases against the reference peer (no false alarm) and against a server that
answers every transaction twice (a message without agency: LTX-AGENCY-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer.agent import Send
from conformance.peer.local_tx_submission import LocalTxSubmissionServer
from conformance.peer.mempool import Mempool

from .harness import SuiteRun
from .n2c_peers import faulty_run, reference_run

pytestmark = pytest.mark.timeout(300)
MODULE = "test_local_tx_submission"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return reference_run(tmp_path_factory.mktemp("local-tx-submission") / "report", MODULE)


def test_the_reference_peer_passes_every_local_tx_submission_case(reference: SuiteRun) -> None:
    assert reference.returncode == 0, reference.output
    assert reference.records and {r["outcome"] for r in reference.records} == {"passed"}, reference.records
    assert {"LTX-MSG-01", "LTX-AGENCY-01", "LTX-CODEC-01"} <= {r["requirement"] for r in reference.records}


class AnswersTwice(LocalTxSubmissionServer):
    """A faulty server: sends its answer to MsgSubmitTx twice."""

    def on_message(self, message):  # type: ignore[no-untyped-def]
        actions = list(super().on_message(message))
        return actions + [a for a in actions if isinstance(a, Send)]


def test_a_server_answering_twice_fails_ltx_agency_01(tmp_path: Path) -> None:
    mempool = Mempool()
    replaced = {("local-tx-submission", "responder"): lambda negotiated: AnswersTwice(mempool, negotiated)}
    run = faulty_run(
        tmp_path / "report",
        f"{MODULE} and (golden or several)",
        replaced,
        mempool=mempool,
        disabled_rules=frozenset({"LTX-AGENCY-01"}),
    )
    assert run.returncode == 1, run.output
    assert run.failed() == {"LTX-AGENCY-01"}, run.records
    assert len({r["case"] for r in run.records if r["outcome"] == "failed"}) == 2
