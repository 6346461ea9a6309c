"""Golden vectors, generated messages and mutations checked against the upstream CDDL with pycddl.

The CDDL is the second opinion on our decoder: where they disagree, the disagreement must be explained,
either by a recorded deviation of the CDDL from the node (conformance/cddl_deviations.yaml), by a recorded
pycddl bug, or by a recorded finding (vectors/cddl-findings.yaml). Records that stop applying fail too, so
the files stay true. The CDDL is vendored in spec/cddl/ (see SOURCE.md there); a missing folder fails every test.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pycddl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import cddl, wire
from conformance.vectors import load_vectors

VECTORS = load_vectors()
GOLDEN = [
    (label, v.protocol, data, v.state if v.kind == "message" else None)
    for v in VECTORS
    if v.kind in ("message", "stream") and v.valid and cddl.described(v)
    for label, data in cddl.vector_messages(v)
]
"""(label, protocol, bytes, state) of every golden message of the versions the CDDL describes, stream
vectors split into their messages (older versions' vectors: tests/test_versions.py, obsolete/ CDDL)."""

RECORDED = cddl.load_findings()

def verdict(protocol: str, data: bytes, devs: list[cddl.Deviation] | None = None) -> str:
    try:
        if devs:
            cddl.validate_amended(protocol, data, devs)
        else:
            cddl.validate(protocol, data)
    except cddl.CddlMismatch:
        return "rejects"
    return "accepts"


# --------------------------------------------------------------------------------------------------
# The spec folder, the flattening of the module directives, the rewrite for pycddl.


def test_missing_spec_folder_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cddl.ENV_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(cddl.CddlError, match="not found"):
        cddl.flattened("chain-sync")


def test_spec_folder_can_be_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copytree(cddl.spec_dir(), tmp_path / "cddl")
    (tmp_path / "cddl" / "keep-alive.cddl").write_text("keepAliveMessage = [0]\n")
    monkeypatch.setenv(cddl.ENV_DIR, str(tmp_path / "cddl"))
    assert cddl.accepts("keep-alive", b"\x81\x00")
    assert not cddl.accepts("keep-alive", b"\x81\x02")


@pytest.mark.parametrize("protocol", sorted(cddl.SCHEMAS))
def test_flattened_schema_is_self_contained_with_the_message_rule_first(protocol: str) -> None:
    text = cddl.flattened(protocol)
    rules = cddl._rules(text)
    assert rules[0].name == cddl.SCHEMAS[protocol].root
    assert ";#" not in text
    defined = {r.name for r in rules}
    mentioned = set().union(*(r.references for r in rules))
    prelude = {
        "any",
        "uint",
        "nint",
        "int",
        "integer",
        "bool",
        "tstr",
        "text",
        "bstr",
        "bytes",
        "true",
        "false",
    }
    assert mentioned - defined - prelude == set()
    assert cddl.pycddl_variants(text)  # compiles


def test_imports_are_inlined_with_their_prefix() -> None:
    text = cddl.flattened("handshake")
    assert "v14.nodeToNodeVersionData = [ v14.networkMagic," in text
    assert "v16.base.word32 = uint .size 4" in text  # nested import: prefixes compose
    assert "base.word8" not in text  # `import` brings in only what is used


def test_whole_protocol_set_is_covered() -> None:
    assert set(cddl.SCHEMAS) == set(wire.CODECS)


REWRITE_CASES = [
    # (schema, CBOR hex, RFC 8610 verdict): the rewrite for pycddl must keep these verdicts.
    ("r = [0, base.word16]\nbase.word16 = uint .size 2", "820019ffff", "accepts"),
    ("r = [0, base.word16]\nbase.word16 = uint .size 2", "82001a00010000", "rejects"),
    ("r = [0, base.word16]\nbase.word16 = uint .size 2", "820020", "rejects"),
    ("r = [0, w]\nw = uint .size 8", "82001bffffffffffffffff", "accepts"),
    ("r = [0, [* v]]\nv = a / 16\na = 14 / 15", "8200830f100e", "accepts"),
    ("r = [0, [* v]]\nv = a / 16\na = 14 / 15", "8200820f11", "rejects"),
    ("r = [0, v, tstr] / [1, [* v]]\nv = 14 / 15", "83000f6178", "accepts"),
    ("r = [0, v, tstr] / [1, [* v]]\nv = 14 / 15", "8201820e0f", "accepts"),
    ("r = [1, [* a]]\na = [0, uint] / [1, uint, uint]", "8201828301010282000f", "accepts"),
    ("r = [1, [* a]]\na = [0, uint] / [1, uint, uint]", "82018183020102", "rejects"),
    ("r = [2, reason]\nreason = [0, [* uint]] / [1, uint, tstr]", "820283010f6178", "accepts"),
    ("r = [2, reason]\nreason = [0, [* uint]] / [1, uint, tstr]", "820283020f6178", "rejects"),
    ("r = [6] / [6, any]", "8106", "accepts"),
    ("r = [6] / [6, any]", "820600", "accepts"),
    ("r = [6] / [6, any]", "83060000", "rejects"),
    ("r = [0]", "810000", "rejects"),
    ("r = [0]", "81", "rejects"),
]


@pytest.mark.parametrize(("schema", "hex_data", "expected"), REWRITE_CASES)
def test_rewrite_for_pycddl_keeps_rfc8610_verdicts(schema: str, hex_data: str, expected: str) -> None:
    try:
        cddl.validate_text(schema, bytes.fromhex(hex_data), protocol="test")
        got = "accepts"
    except cddl.CddlMismatch:
        got = "rejects"
    assert got == expected


@pytest.mark.parametrize("bug", cddl.validator_bugs(), ids=lambda b: b.id)
def test_recorded_pycddl_bug_still_reproduces(bug: cddl.ValidatorBug) -> None:
    """If pycddl is fixed, this fails: drop the record, and the workaround or the findings it explains."""
    try:
        schema = pycddl.Schema(bug.schema)
    except Exception:  # noqa: BLE001 - pycddl reports parse errors as plain exceptions
        got = "does-not-compile"
    else:
        try:
            schema.validate_cbor(bug.data)
            got = "accepts"
        except pycddl.ValidationError:
            got = "rejects"
    assert got == bug.pycddl != bug.rfc8610


@pytest.mark.parametrize("bug", [b for b in cddl.validator_bugs() if b.worked_around], ids=lambda b: b.id)
def test_worked_around_pycddl_bug_gives_the_rfc8610_verdict(bug: cddl.ValidatorBug) -> None:
    schema, data = (bug.via_rewrite, bug.via_rewrite_data) if bug.via_rewrite else (bug.schema, bug.data)
    try:
        cddl.validate_text(schema, data, protocol="test")
        got = "accepts"
    except cddl.CddlMismatch:
        got = "rejects"
    assert got == bug.rfc8610


# --------------------------------------------------------------------------------------------------
# (a) Golden messages.


@pytest.mark.parametrize(("label", "protocol", "data", "state"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_message_satisfies_its_cddl(label: str, protocol: str, data: bytes, state: str | None) -> None:
    message = wire.decode(protocol, data, state, cddl.schema_version(protocol))
    devs = cddl.deviations_for(message)
    if devs:  # the deviation must really apply: the verbatim CDDL rejects the message
        assert verdict(protocol, data) == "rejects", f"{[d.id for d in devs]} no longer apply to {label}"
    expected = (
        "rejects" if (label, "original") in {(f["vector"], f["mutation"]) for f in RECORDED} else "accepts"
    )
    assert verdict(protocol, data, devs) == expected


def _matched(deviation: cddl.Deviation) -> list[str]:
    return sorted(
        label
        for label, protocol, data, state in GOLDEN
        if deviation.applies_to(wire.decode(protocol, data, state))
    )


@pytest.mark.parametrize("deviation", cddl.deviations(), ids=lambda d: d.id)
def test_deviation_lists_exactly_the_vectors_it_explains(deviation: cddl.Deviation) -> None:
    assert sorted(deviation.vectors) == _matched(deviation)


@pytest.mark.parametrize(
    "deviation", [d for d in cddl.deviations() if d.effect == "cddl-rejects-valid"], ids=lambda d: d.id
)
def test_deviation_examples_fail_the_verbatim_cddl_and_pass_the_amended_one(
    deviation: cddl.Deviation,
) -> None:
    assert deviation.examples or deviation.vectors, "a deviation must show where it applies"
    for data in deviation.examples:
        checked = 0
        for protocol in deviation.protocols:
            try:
                message = wire.decode(protocol, data)
            except wire.DecodeError:
                continue
            if not deviation.applies_to(message):  # e.g. an N2N example read as N2C: not its protocol
                continue
            assert verdict(protocol, data) == "rejects"
            assert verdict(protocol, data, cddl.deviations_for(message)) == "accepts"
            checked += 1
        assert checked, f"example {data.hex()} is explained in none of {deviation.protocols}"


def test_every_cited_cause_is_recorded() -> None:
    deviation_ids = {d.id for d in cddl.deviations() if d.effect == "cddl-accepts-invalid"}
    bug_ids = {b.id for b in cddl.validator_bugs()}
    causes = {f["cause"] for f in RECORDED}
    for cause in causes:
        kind, _, what = cause.partition(":")
        assert kind in ("deviation", "validator", "decoder-bug"), cause
        if kind == "deviation":
            assert what in deviation_ids, cause
        if kind == "validator":
            assert what in bug_ids, cause
    cited = {c.partition(":")[2] for c in causes if c.startswith("deviation:")}
    assert cited == deviation_ids, "a cddl-accepts-invalid deviation no finding shows is not known to apply"


# --------------------------------------------------------------------------------------------------
# (b) Generated messages.


@pytest.mark.parametrize("protocol", sorted(wire.CODECS))
@settings(deadline=None)
@given(data=st.data())
def test_generated_message_satisfies_its_cddl(protocol: str, data: st.DataObject) -> None:
    version = cddl.schema_version(protocol)
    generated = data.draw(wire.CODECS[protocol].strategy(version), label="message")
    encoded = wire.encode(generated)
    message = wire.decode(protocol, encoded, version=version)
    devs = cddl.deviations_for(message)  # that they do apply is checked on vectors and examples
    assert verdict(protocol, encoded, devs) == "accepts"


@pytest.mark.parametrize(
    ("protocol", "hex_data"),
    [
        ("handshake", "820283011913886178"),  # HandshakeDecodeError naming version 5000
        ("n2c-handshake", "82028302016178"),  # Refused naming version 1 (bit 15 unset)
        ("handshake", "8301118400f400f4"),  # MsgAcceptVersion v17
        ("n2c-handshake", "8301198018820af4"),  # MsgAcceptVersion v24 (32792)
    ],
)
def test_messages_naming_unknown_versions_are_refused_by_decoder_and_cddl(protocol: str, hex_data: str) -> None:
    """Once decoder bugs found by this comparison (the node fails: "unknow version", "not recognized
    version" in Handshake/Codec.hs); both sides must keep refusing them."""
    data = bytes.fromhex(hex_data)
    with pytest.raises(wire.DecodeError):
        wire.decode(protocol, data)
    assert verdict(protocol, data) == "rejects"


# --------------------------------------------------------------------------------------------------
# (c) Mutations of golden messages.


@cache
def current_findings() -> tuple[dict[str, Any], ...]:
    return tuple(cddl.compute_findings(VECTORS))


def test_mutations_are_deterministic_and_distinct() -> None:
    for label, protocol, data, _ in GOLDEN[:40]:
        first = cddl.mutations(protocol, data)
        assert first == cddl.mutations(protocol, data)
        names = [name for name, _ in first]
        assert len(set(names)) == len(names), label
        assert all(mutated != data for _, mutated in first), label


def test_disagreements_are_exactly_the_recorded_findings() -> None:
    now = {(f["vector"], f["mutation"]): f for f in current_findings()}
    recorded = {(f["vector"], f["mutation"]): f for f in RECORDED}
    new = sorted(set(now) - set(recorded))
    gone = sorted(set(recorded) - set(now))
    assert not new, (
        f"unrecorded disagreements (explain them: python -m conformance.cddl findings --write): {new}"
    )
    assert not gone, f"recorded findings that no longer occur: {gone}"
    for key, finding in now.items():
        for field in ("decoder", "cddl", "schema"):
            assert recorded[key][field] == finding[field], (key, field)


def test_every_finding_is_explained() -> None:
    for finding in RECORDED:
        assert finding["cause"] != "unexplained", finding
        assert finding["explanation"] and not finding["explanation"].startswith("TODO"), finding


def test_decoder_never_accepts_what_the_cddl_rejects() -> None:
    """Where our decoder accepts and the CDDL (deviations applied) rejects, our decoder has a bug."""
    assert [f for f in current_findings() if f["decoder"] == "accepts"] == []


def test_command_line_flatten_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cddl.main(["flatten", "keep-alive"]) == 0
    assert capsys.readouterr().out.startswith("; flattened from keep-alive.cddl\nkeepAliveMessage =")
