"""The local state query cases against the reference peer (no false alarm) and against a server that
answers a point not on its chain with PointTooOld instead of PointNotOnChain (LSQ-FAILURE-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.peer import local_state_query as lsq
from conformance.peer.chain import ChainStore
from conformance.peer.chain_view import StoreView

from .harness import SuiteRun
from .n2c_peers import faulty_run, reference_run

pytestmark = pytest.mark.timeout(300)
MODULE = "test_local_state_query"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return reference_run(tmp_path_factory.mktemp("local-state-query") / "report", MODULE)


def test_the_reference_peer_passes_every_local_state_query_case(reference: SuiteRun) -> None:
    assert reference.returncode == 0, reference.output
    assert reference.records and {r["outcome"] for r in reference.records} == {"passed"}, reference.records
    assert {"LSQ-MSG-01", "LSQ-AGENCY-01", "LSQ-CODEC-01", "LSQ-FAILURE-01", "LSQ-VERSION-01"} <= {
        r["requirement"] for r in reference.records
    }


class AlwaysTooOld(lsq.LocalStateQueryServer):
    """A faulty server: every point it cannot acquire is PointTooOld, even one past its tip."""

    def _failure(self, failure: int) -> list[lsq.Action]:
        return super()._failure(lsq.POINT_TOO_OLD)


def test_a_server_with_the_wrong_failure_fails_lsq_failure_01(tmp_path: Path) -> None:
    chain = ChainStore.synthetic(50)
    replaced = {("local-state-query", "responder"): lambda negotiated: AlwaysTooOld(StoreView(chain), negotiated)}
    run = faulty_run(tmp_path / "report", MODULE, replaced, chain=chain)
    assert run.returncode == 1, run.output
    assert run.failed() == {"LSQ-FAILURE-01"}, run.records
    failing = {r["case"].split("::")[1] for r in run.records if r["outcome"] == "failed"}
    assert failing == {"test_acquiring_a_point_not_on_the_chain_fails"}, failing
