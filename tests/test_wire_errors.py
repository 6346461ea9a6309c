"""Bad input always gives the one typed error family, naming protocol, state, message and place."""

from __future__ import annotations

import pytest

from conformance import wire


def test_unknown_tag_names_the_protocol_and_lists_known_tags() -> None:
    with pytest.raises(wire.UnknownMessage) as raised:
        wire.decode("keep-alive", bytes.fromhex("8109"))
    assert raised.value.protocol == "keep-alive"
    assert "0=MsgKeepAlive" in str(raised.value)


def test_message_not_allowed_in_the_state_names_the_state() -> None:
    with pytest.raises(wire.UnknownMessage) as raised:
        wire.decode("chain-sync", bytes.fromhex("8101"), state="StIdle")
    assert raised.value.state == "StIdle"
    assert "MsgAwaitReply" in str(raised.value)


def test_shared_tag_is_resolved_by_state() -> None:
    assert wire.decode("local-tx-monitor", bytes.fromhex("8101"), state="StIdle").name == "MsgAcquire"
    assert (
        wire.decode("local-tx-monitor", bytes.fromhex("8101"), state="StAcquired").name == "MsgAwaitAcquire"
    )


def test_wrong_arity_names_the_message() -> None:
    with pytest.raises(wire.ShapeMismatch) as raised:
        wire.decode("keep-alive", bytes.fromhex("8300190001 00".replace(" ", "")))
    assert raised.value.message == "MsgKeepAlive"


def test_wrong_field_type_names_the_field_path() -> None:
    with pytest.raises(wire.ShapeMismatch) as raised:
        wire.decode("keep-alive", bytes.fromhex("820041 00".replace(" ", "")))
    assert raised.value.path == "$.cookie"


def test_cookie_beyond_word16_is_refused() -> None:
    with pytest.raises(wire.ShapeMismatch):
        wire.decode("keep-alive", bytes.fromhex("82001a00010000"))


def test_trailing_bytes_are_an_error() -> None:
    with pytest.raises(wire.TrailingBytes) as raised:
        wire.decode("keep-alive", bytes.fromhex("810200"))
    assert raised.value.offset == 2


def test_tx_submission_lists_must_be_indefinite() -> None:
    with pytest.raises(wire.ShapeMismatch):
        wire.decode("tx-submission2", bytes.fromhex("820180"))


def test_tag24_content_must_be_one_well_formed_item() -> None:
    with pytest.raises(wire.ShapeMismatch) as raised:
        wire.decode("block-fetch", bytes.fromhex("8204d818420102"))
    assert "tag 24" in str(raised.value)


def test_tag24_content_must_be_a_definite_byte_string() -> None:
    with pytest.raises(wire.ShapeMismatch):
        wire.decode("block-fetch", bytes.fromhex("8204d8185f4100ff"))


def test_out_of_order_known_versions_are_refused() -> None:
    data = bytes.fromhex("8200a20f841a2d964a09f500f40e841a2d964a09f500f4")
    with pytest.raises(wire.ShapeMismatch) as raised:
        wire.decode("handshake", data)
    assert "ascending" in str(raised.value)


def test_unknown_versions_and_undecodable_data_are_kept_raw() -> None:
    """Like the node: unknown keys are skipped, bad data only fails the negotiation, not the decode."""
    data = bytes.fromhex("8200a20e831a2d964a09f500 1903e7 f6".replace(" ", ""))
    message = wire.decode("handshake", data)
    assert message.fields["versions"][14] == bytes.fromhex("831a2d964a09f500")
    assert message.fields["versions"][999] == b"\xf6"
    assert wire.encode(message) == data


def test_empty_input_is_truncated() -> None:
    with pytest.raises(wire.TruncatedInput):
        wire.decode("chain-sync", b"")


def test_unknown_protocol_name_lists_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="chain-sync"):
        wire.decode("chainsync", b"\x81\x00")
