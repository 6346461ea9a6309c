"""Grading: one outcome per (case, requirement), as Autobahn|Testsuite grades, from a case's findings."""

from __future__ import annotations

import pytest

from conformance.suite import profile
from conformance.suite.grading import OUTCOMES, Finding, grade, must_failed


def outcomes(records):  # type: ignore[no-untyped-def]
    return {r.requirement: r.outcome for r in records}


def test_a_case_that_found_nothing_passes_every_requirement_it_names() -> None:
    records = grade("t.py::c", ("KA-COOKIE-01", "KA-RESP-01"), [])
    assert outcomes(records) == {"KA-COOKIE-01": "passed", "KA-RESP-01": "passed"}
    assert {r.protocol for r in records} == {"keep-alive"} and not must_failed(records)


def test_a_broken_must_fails_its_requirement_only() -> None:
    found = [Finding("KA-COOKIE-01", "MUST", "keep-alive", "cookie 43 echoed for 42")]
    records = grade("t.py::c", ("KA-COOKIE-01", "KA-RESP-01"), found)
    assert outcomes(records) == {"KA-COOKIE-01": "failed", "KA-RESP-01": "passed"}
    assert records[0].message == "cookie 43 echoed for 42" and must_failed(records)


def test_a_broken_should_is_non_strict_and_not_a_failure_of_the_run() -> None:
    found = [Finding("CS-INTERSECT-02", "SHOULD", "chain-sync", "first reply was MsgRollForward")]
    records = grade("t.py::c", ("CS-INTERSECT-01", "CS-INTERSECT-02"), found)
    assert outcomes(records) == {"CS-INTERSECT-01": "passed", "CS-INTERSECT-02": "non-strict"}
    assert not must_failed(records)


def test_a_rule_broken_outside_the_named_ones_gets_its_own_record() -> None:
    """The reference peer's validation may find a rule the case did not name: it is reported, not lost."""
    found = [Finding("MUX-MODE-01", "MUST", "mux", "mode bit 0 from the responder")]
    records = grade("t.py::c", ("KA-COOKIE-01",), found)
    assert outcomes(records) == {"KA-COOKIE-01": "passed", "MUX-MODE-01": "failed"}
    assert [r.protocol for r in records] == ["keep-alive", "mux"]


def test_an_error_fails_the_named_requirements_and_unsupported_grades_them_unsupported() -> None:
    records = grade("t.py::c", ("KA-RESP-01",), [], error="the peer closed the connection")
    assert outcomes(records) == {"KA-RESP-01": "failed"} and "closed" in records[0].message
    records = grade("t.py::c", ("PS-AMOUNT-01",), [], unsupported="peer sharing not negotiated")
    assert outcomes(records) == {"PS-AMOUNT-01": "unsupported"}
    records = grade("t.py::c", ("KA-TIME-01",), [], not_run="it waits 97 s")
    assert outcomes(records) == {"KA-TIME-01": "informational"} and records[0].message.startswith("not run")


def test_the_node_to_client_handshake_requirement_is_filed_under_its_protocol() -> None:
    assert grade("t.py::c", ("HS-NEG-01",), [], mode="node-to-client")[0].protocol == "n2c-handshake"
    assert grade("t.py::c", ("HS-NEG-01",), [], mode="node-to-node")[0].protocol == "handshake"


def test_a_known_deviation_is_xfail_and_one_that_no_longer_fails_says_so() -> None:
    peer = profile.parse(
        {
            "name": "p",
            "known_deviations": [
                {
                    "requirement": "CS-PIPE-02",
                    "reason": "deep pipelining",
                    "fixed_in": "2.1",
                    "case": "test_chain_sync.py::*",
                }
            ],
        }  # fmt: skip
    )
    found = [Finding("CS-PIPE-02", "MUST", "chain-sync", "400 in flight")]
    failing = grade("test_chain_sync.py::deep", ("CS-PIPE-02",), found, profile=peer)
    assert outcomes(failing) == {"CS-PIPE-02": "xfail"} and "fixed in 2.1" in failing[0].message
    assert not must_failed(failing)
    fixed = grade("test_chain_sync.py::deep", ("CS-PIPE-02",), [], profile=peer)
    assert outcomes(fixed) == {"CS-PIPE-02": "passed"} and "no longer fails" in fixed[0].message
    elsewhere = grade("test_other.py::deep", ("CS-PIPE-02",), found, profile=peer)
    assert outcomes(elsewhere) == {"CS-PIPE-02": "failed"}


def test_the_worst_finding_of_a_requirement_decides() -> None:
    """Several findings against one requirement: a broken MUST outweighs a broken SHOULD, which outweighs a
    note (the report's order of outcomes, conformance/report/outcomes.py)."""
    must = Finding("CS-TIP-01", "MUST", "chain-sync", "m")
    should = Finding("CS-TIP-01", "SHOULD", "chain-sync", "s")
    note = Finding("CS-TIP-01", "informational", "chain-sync", "n")
    assert outcomes(grade("t.py::c", ("CS-TIP-01",), [note, should, must])) == {"CS-TIP-01": "failed"}
    assert outcomes(grade("t.py::c", ("CS-TIP-01",), [note, should])) == {"CS-TIP-01": "non-strict"}
    assert outcomes(grade("t.py::c", ("CS-TIP-01",), [note])) == {"CS-TIP-01": "informational"}
    assert set(OUTCOMES) == {"passed", "failed", "non-strict", "informational", "unsupported", "xfail"}


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"name": "p", "known_deviations": [{"requirement": "XX-01", "reason": "r"}]}, "not in conformance"),
        ({"name": "p", "known_deviations": [{"requirement": "KA-RESP-01"}]}, "needs requirement and reason"),
        ({"name": "p", "protocol": ["keep-alive"]}, "unknown keys"),
        ({"name": "p", "versions": {"n2n": [14]}}, "versions.n2n"),
        ([1, 2], "a mapping"),
    ],
)
def test_a_bad_profile_is_refused_with_the_key_named(document: object, complaint: str) -> None:
    with pytest.raises(profile.ProfileError, match=complaint):
        profile.parse(document, "bad.yaml")
