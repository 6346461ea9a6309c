"""Shapes that depend on the negotiated version, through real bytes (golden vectors and wire.encode output).

Without a version the decoder accepts what any version accepts; with one, exactly that version's shapes,
and a message or shape of another version is refused with a typed error that names the version.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import find as hypothesis_find
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from conformance import cddl, wire
from conformance.cli import main
from conformance.vectors import Vector, load_vectors
from conformance.wire.handshake import N2C_VERSION_BIT, N2C_VERSIONS, N2N_VERSIONS

VECTORS = load_vectors()
MESSAGES = [v for v in VECTORS if v.kind == "message" and v.valid]
N2C = tuple(v & ~N2C_VERSION_BIT for v in N2C_VERSIONS)
"""Node-to-client versions as plain numbers (16..23)."""

IPV6_V11 = bytes.fromhex("8201818801000000010000190bb9")
"""The issue's MsgSharePeers: ::1 port 3001 in the 8-item IPv6 form of node-to-node v11-12."""


def family(protocol: str) -> tuple[int, ...]:
    """The known versions of the handshake family a protocol belongs to (plain numbers)."""
    return N2C if wire.codec(protocol).version_bit or protocol == "n2c-handshake" else N2N_VERSIONS


def accepted_at(vector: Vector) -> set[int]:
    out = set()
    for version in family(vector.protocol):
        try:
            wire.decode(vector.protocol, vector.data, vector.state, version)
        except wire.DecodeError:
            continue
        out.add(version)
    return out


def vector(vector_id: str) -> Vector:
    return next(v for v in VECTORS if v.id == vector_id)


# --------------------------------------------------------------------------------------------------
# Peer-sharing: the IPv6 address before and from node-to-node v13.


@pytest.mark.parametrize("version", [None, 11, 12])
def test_the_issue_ipv6_form_is_valid_at_v11_and_v12(version: int | None) -> None:
    message = wire.decode("peer-sharing", IPV6_V11, "StBusy", version)
    assert message.fields["peers"] == [{"ip": "::1", "port": 3001, "flow_info": 0, "scope_id": 0}]
    assert wire.encode(message) == IPV6_V11


@pytest.mark.parametrize("version", [13, 14, 15, 16])
def test_the_v11_ipv6_form_is_refused_from_v13_naming_the_version(version: int) -> None:
    with pytest.raises(wire.ShapeMismatch, match=rf"exists at v{version}; .* only at v12 and earlier") as caught:
        wire.decode("peer-sharing", IPV6_V11, "StBusy", version)
    assert caught.value.path == "$.peers[0]"
    assert caught.value.message == "MsgSharePeers"


@pytest.mark.parametrize("version", [11, 12])
def test_the_current_ipv6_form_is_refused_before_v13(version: int) -> None:
    data = vector("ours-ps-sharepeers-ipv6").data
    assert wire.decode("peer-sharing", data, version=14).fields["peers"] == [{"ip": "::1", "port": 3001}]
    with pytest.raises(wire.ShapeMismatch, match=rf"exists at v{version}; .* only at v13 and later"):
        wire.decode("peer-sharing", data, version=version)


def test_ipv4_has_one_form_in_every_version() -> None:
    data = vector("ps-gouroboros-sharepeers-ipv4").data
    assert accepted_at(vector("ps-gouroboros-sharepeers-ipv4")) == set(range(11, 17))
    assert wire.decode("peer-sharing", data, version=11) == wire.decode("peer-sharing", data, version=16)


@pytest.mark.parametrize("version", [7, 10])
def test_peer_sharing_does_not_exist_before_v11(version: int) -> None:
    with pytest.raises(wire.NotInVersion, match=rf"exists at v{version}; peer-sharing exists only at v11") as caught:
        wire.decode("peer-sharing", bytes.fromhex("820007"), version=version)
    assert isinstance(caught.value, wire.UnknownMessage)
    assert caught.value.version == version


def test_the_old_form_is_written_from_its_value_and_the_new_one_otherwise() -> None:
    """Encoding does not take a version: a value with flowInfo and scopeId is the 8-item form."""
    old = wire.decode("peer-sharing", IPV6_V11)
    new_value = {"peers": [{"ip": "::1", "port": 3001}]}
    assert wire.encode(old) == IPV6_V11
    new = wire.encode(wire.Message("peer-sharing", "MsgSharePeers", new_value))
    assert new == bytes.fromhex("82019f860100000001190bb9ff")
    with pytest.raises(wire.ShapeMismatch):
        wire.decode("peer-sharing", new, version=11)


def test_an_old_ipv6_with_a_bad_field_is_refused_as_what_it_is() -> None:
    """flowInfo 2^32 fails inside the 8-item form: the error is about that field, not a version."""
    data = bytes.fromhex("820181880100000001" + "1b0000000100000000" + "00190bb9")
    with pytest.raises(wire.ShapeMismatch, match="word32"):
        wire.decode("peer-sharing", data, version=11)


# --------------------------------------------------------------------------------------------------
# Node-to-client: LocalTxMonitor measures, LocalStateQuery immutable tip; the two numberings.


@pytest.mark.parametrize("vector_id", ["ours-ltm-getmeasures", "ours-ltm-replygetmeasures"])
@pytest.mark.parametrize("version", [19, N2C_VERSION_BIT | 19, 16])
def test_measures_do_not_exist_before_n2c_v20(vector_id: str, version: int) -> None:
    golden = vector(vector_id)
    with pytest.raises(wire.NotInVersion, match=r"exists at v1[69]; .* exists only at v20 and later") as caught:
        wire.decode(golden.protocol, golden.data, golden.state, version)
    assert caught.value.version == version & ~N2C_VERSION_BIT
    assert caught.value.message == golden.message


@pytest.mark.parametrize("vector_id", ["ours-ltm-getmeasures", "ours-ltm-replygetmeasures"])
def test_measures_exist_from_n2c_v20_in_either_numbering(vector_id: str) -> None:
    golden = vector(vector_id)
    assert accepted_at(golden) == {20, 21, 22, 23}
    wide = wire.decode(golden.protocol, golden.data, golden.state, N2C_VERSION_BIT | 20)
    assert wire.encode(wide) == golden.data


@pytest.mark.parametrize(("tag", "state"), [(10, "StIdle"), (11, "StAcquired")])
def test_the_immutable_tip_is_acquired_from_n2c_v16(tag: int, state: str) -> None:
    data = bytes([0x81, tag])
    assert wire.decode("local-state-query", data, state, 16).name.endswith("ImmutableTip")
    with pytest.raises(wire.NotInVersion, match="exists only at v16 and later"):
        wire.decode("local-state-query", data, state, N2C_VERSION_BIT | 15)


def test_keep_alive_is_the_v7_codec_and_tx_submission2_exists_from_v6() -> None:
    with pytest.raises(wire.NotInVersion, match="keep-alive exists only at v7 and later"):
        wire.decode("keep-alive", bytes.fromhex("8102"), version=6)
    with pytest.raises(wire.NotInVersion, match="tx-submission2 exists only at v6 and later"):
        wire.decode("tx-submission2", bytes.fromhex("8106"), version=5)
    assert wire.decode("keep-alive", bytes.fromhex("8102"), version=7).name == "MsgDone"


def test_the_version_check_precedes_the_state_check_only_for_a_missing_protocol() -> None:
    """A message that exists at the version but not in the state keeps its state error."""
    with pytest.raises(wire.UnknownMessage) as caught:
        wire.decode("local-tx-monitor", bytes.fromhex("810b"), "StIdle", 23)
    assert not isinstance(caught.value, wire.NotInVersion)


# --------------------------------------------------------------------------------------------------
# Every golden vector: valid exactly at its declared versions; no version means the union.


@pytest.mark.parametrize("golden", MESSAGES, ids=[v.id for v in MESSAGES])
def test_golden_vector_is_valid_exactly_at_its_versions(golden: Vector) -> None:
    """A vector with `versions` is valid at those known versions only; any other at the latest one."""
    accepted = accepted_at(golden)
    declared = golden.extra.get("versions")
    if declared is not None:
        assert accepted == set(declared)
    else:
        assert max(family(golden.protocol)) in accepted
    for version in accepted:
        message = wire.decode(golden.protocol, golden.data, golden.state, version)
        assert wire.encode(message) == golden.data
    unversioned = wire.decode(golden.protocol, golden.data, golden.state)  # the union of the versions
    assert unversioned == wire.decode(golden.protocol, golden.data, golden.state, max(accepted))


def test_versioned_vectors_exist_for_the_old_peer_address() -> None:
    versioned = {v.id for v in MESSAGES if v.extra.get("versions")}
    assert {"ours-ps-sharepeers-ipv6-v11", "ours-ps-sharepeers-mixed-v11"} <= versioned


@pytest.mark.parametrize("golden", [v for v in MESSAGES if v.extra.get("versions")], ids=lambda v: v.id)
def test_old_version_vectors_satisfy_the_obsolete_cddl(golden: Vector) -> None:
    """The obsolete file leaves word16/word32 to network.base.cddl (upstream's test driver joins them)."""
    obsolete = cddl.flatten_file("obsolete/peer-sharing-v11-12.cddl", "peerSharingMessage")
    words = "".join(cddl.flatten_file("network.base.cddl", w).split("\n", 1)[1] for w in ("word16", "word32"))
    cddl.validate_text(obsolete + words, golden.data, protocol=golden.protocol)


def test_the_current_cddl_refuses_the_v11_ipv6_form() -> None:
    """(pycddl is laxer inside a list whose first address is valid, so the one-address message is used.)"""
    assert not cddl.accepts("peer-sharing", IPV6_V11)


# --------------------------------------------------------------------------------------------------
# Strategies per version: both forms are generated, each where it belongs.


@pytest.mark.parametrize("version", [11, 14])
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_peer_sharing_messages_generated_for_a_version_decode_at_it(version: int, data: st.DataObject) -> None:
    message = data.draw(wire.codec("peer-sharing").strategy(version))
    encoded = wire.encode(message)
    decoded = wire.decode("peer-sharing", encoded, version=version)
    assert wire.encode(decoded) == encoded


@pytest.mark.parametrize("protocol", sorted(wire.CODECS))
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_messages_generated_for_the_oldest_known_version_decode_at_it(protocol: str, data: st.DataObject) -> None:
    version = min(v for v in family(protocol) if wire.codec(protocol).span.admits(v))
    message = data.draw(wire.codec(protocol).strategy(version))
    encoded = wire.encode(message)
    assert wire.encode(wire.decode(protocol, encoded, version=version)) == encoded


def _has_old_ipv6(message: wire.Message) -> bool:
    return any("flow_info" in peer for peer in message.fields.get("peers") or [])


def test_the_v11_strategy_generates_the_old_ipv6_form_and_the_v14_one_does_not() -> None:
    old = hypothesis_find(wire.codec("peer-sharing").strategy(11), _has_old_ipv6)
    assert len(wire.encode(old)) > 0
    with pytest.raises(NoSuchExample):
        hypothesis_find(wire.codec("peer-sharing").strategy(14), _has_old_ipv6, settings=settings(max_examples=200))


def test_a_strategy_for_a_version_without_the_message_generates_nothing() -> None:
    getmeasures = wire.codec("local-tx-monitor").messages["MsgGetMeasures"]
    assert getmeasures.messages(19).is_empty
    assert not getmeasures.messages(20).is_empty
    assert wire.codec("peer-sharing").strategy(10).is_empty


# --------------------------------------------------------------------------------------------------
# The command line.


def test_cli_decode_takes_the_negotiated_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "peer-sharing", IPV6_V11.hex(), "--version", "11"]) == 0
    assert '"flow_info": 0' in capsys.readouterr().out
    assert main(["decode", "peer-sharing", IPV6_V11.hex(), "--version", "14"]) == 1
    assert "exists at v14" in capsys.readouterr().err
    assert main(["decode", "local-tx-monitor", "810b", "--state", "StAcquired", "--version", "0x8013"]) == 1
    assert "MsgGetMeasures exists only at v20 and later" in capsys.readouterr().err
    assert main(["decode", "local-tx-monitor", "810b", "--state", "StAcquired", "--version", "20"]) == 0


def test_cli_refuses_a_version_that_is_not_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["decode", "keep-alive", "8102", "--version", "v14"])
    assert "not a version number" in capsys.readouterr().err
