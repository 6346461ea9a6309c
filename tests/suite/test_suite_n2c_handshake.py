"""The node-to-client handshake cases against the reference peer (no false alarm), against a peer of
another network (every single-version proposal refused: HS-NEG-01), and against a peer offering only
v16 and v17 (the other versions unsupported, not failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import SuiteRun
from .n2c_peers import faulty_run, reference_run

pytestmark = pytest.mark.timeout(300)
MODULE = "test_n2c_handshake"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return reference_run(tmp_path_factory.mktemp("n2c-handshake") / "report", MODULE)


def test_the_reference_peer_passes_every_n2c_handshake_case(reference: SuiteRun) -> None:
    assert reference.returncode == 0, reference.output
    assert reference.records and {r["outcome"] for r in reference.records} == {"passed"}, reference.records
    assert {"HS-ACCEPT-01", "HS-ACCEPT-02", "HS-REFUSE-01", "HS-REFUSE-03", "HS-NEG-04", "HS-QUERY-01"} <= {
        r["requirement"] for r in reference.records
    }
    assert len({r["case"] for r in reference.records}) == 13


def test_a_peer_of_another_network_fails_hs_neg_01(tmp_path: Path) -> None:
    run = faulty_run(tmp_path / "report", f"{MODULE} and each_version", magic=42)
    assert run.returncode == 1, run.output
    assert run.failed() == {"HS-NEG-01"}, run.records
    assert len({r["case"] for r in run.records if r["outcome"] == "failed"}) == 8


def test_versions_the_peer_does_not_offer_are_unsupported(tmp_path: Path) -> None:
    run = faulty_run(tmp_path / "report", MODULE, versions=(16, 17))
    assert run.returncode == 0, run.output
    alone = [r for r in run.records if "each_version_alone" in r["case"]]
    assert {r["outcome"] for r in alone if r["case"].endswith(("[v16]", "[v17]"))} == {"passed"}, alone
    assert {r["outcome"] for r in alone if not r["case"].endswith(("[v16]", "[v17]"))} == {"unsupported"}, alone
    assert run.outcomes("HS-ACCEPT-02") == {"passed"}, run.records
