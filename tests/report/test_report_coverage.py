"""Coverage counted on transcripts the reference peer wrote, against N taken from the protocol tables, the
wire layer's version sets and the catalogue."""

from __future__ import annotations

from pathlib import Path

from conformance import wire
from conformance.protocol import catalogue
from conformance.protocol.registry import TABLES
from conformance.report import load_run
from conformance.report.coverage import coverage, universe
from conformance.wire.handshake import N2C_VERSIONS, N2N_VERSIONS

from .conftest import Evidence
from .runfolder import copy_evidence, record, write_run


def test_n_comes_from_the_tables_the_wire_layer_and_the_catalogue() -> None:
    every = universe()
    assert len(every["states"]) == sum(len(t.states) for t in TABLES.values())
    assert len(every["transitions"]) == sum(len(t.transitions) for t in TABLES.values())
    assert len(every["messages"]) == sum(len(wire.codec(name).messages) for name in TABLES)
    assert len(every["versions"]) == len(N2N_VERSIONS) + len(N2C_VERSIONS)
    assert len(every["requirements"]) == len(catalogue.load())
    # tx-submission2's MsgRequestTxIds is two transitions from StIdle: blocking and non-blocking
    assert ("tx-submission2", "StIdle MsgRequestTxIds [blocking=True]") in every["transitions"]
    assert ("tx-submission2", "StIdle MsgRequestTxIds [blocking=False]") in every["transitions"]


def keep_alive_run(tmp_path: Path, evidence: Evidence) -> Path:
    folder = tmp_path / "run"
    slug = copy_evidence(evidence.keep_alive, folder, "ka-echo")
    records = [
        record("test_ka.py::test_echo", "KA-COOKIE-01", "passed", evidence=slug),
        record("test_ka.py::test_echo", "KA-RESP-01", "passed", evidence=slug),
        record("test_ps.py::test_amount", "PS-AMOUNT-01", "unsupported", "not offered"),
    ]
    return write_run(folder, "keep-alive", records)


def test_exact_counts_on_a_handshake_and_two_keep_alive_rounds(tmp_path: Path, evidence: Evidence) -> None:
    """MsgProposeVersions, MsgAcceptVersion (v16), then MsgKeepAlive/MsgKeepAliveResponse twice and MsgDone."""
    found = coverage([load_run(keep_alive_run(tmp_path, evidence))])
    assert found["states"].of("keep-alive") == (3, 3)
    assert found["states"].of("handshake") == (3, 3)  # StDone counts: MsgAcceptVersion leads there
    assert found["transitions"].of("keep-alive") == (3, 3)
    assert found["transitions"].of("handshake") == (2, len(TABLES["handshake"].transitions))
    assert found["messages"].of("handshake") == (2, len(wire.codec("handshake").messages))
    assert found["messages"].of("chain-sync") == (0, len(wire.codec("chain-sync").messages))
    assert found["versions"].n == 1 and found["versions"].seen == {("handshake", "N2N v16")}
    assert (found["states"].n, found["transitions"].n, found["messages"].n) == (6, 5, 5)
    assert found["transitions"].total == sum(len(t.transitions) for t in TABLES.values())
    # requirements: two passed; unsupported is not exercised
    assert found["requirements"].seen == {("keep-alive", "KA-COOKIE-01"), ("keep-alive", "KA-RESP-01")}
    assert ("peer-sharing", "PS-AMOUNT-01") in found["requirements"].missing
    assert ("handshake", "StConfirm MsgRefuse") in found["transitions"].missing
    assert ("handshake", "StPropose MsgProposeVersions") not in found["transitions"].missing
    missing = dict(found["transitions"].missing_by_protocol())
    assert "keep-alive" not in missing and "StConfirm MsgQueryReply" in missing["handshake"]


def test_node_to_client_versions_are_counted_without_their_wire_bit(tmp_path: Path, evidence: Evidence) -> None:
    folder = tmp_path / "run"
    slug = copy_evidence(evidence.n2c, folder, "n2c")
    run = load_run(write_run(folder, "n2c", [record("t.py::t", "HS-N2C-01", "passed", evidence=slug)]))
    found = coverage([run])
    newest = max(N2C_VERSIONS) & 0x7FFF  # the reference peer accepts the highest common version
    assert found["versions"].seen == {("n2c-handshake", f"N2C v{newest}")}
    assert found["states"].of("n2c-handshake") == (3, 3)


def test_several_runs_add_up(tmp_path: Path, evidence: Evidence) -> None:
    first = load_run(keep_alive_run(tmp_path / "a", evidence))
    folder = tmp_path / "b"
    slug = copy_evidence(evidence.n2c, folder, "n2c")
    second = load_run(write_run(folder, "n2c", [record("t.py::t", "HS-N2C-01", "passed", evidence=slug)]))
    both = coverage([first, second])
    assert both["versions"].n == 2
    assert both["states"].n == coverage([first])["states"].n + coverage([second])["states"].n
