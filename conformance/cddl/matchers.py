"""Matchers: predicates over decoded messages, referenced by name from cddl_deviations.yaml."""

from __future__ import annotations

from collections.abc import Callable

from .. import wire
from ..wire.handshake import N2C_VERSIONS, N2N_VERSIONS
from ..wire.schema import RawCbor

N2N_CDDL_VERSIONS = range(14, 17)
"""The N2N versions handshake-node-to-node-v14.cddl knows (a fact of that CDDL file, not of the wire)."""
N2N_OBSOLETE_VERSIONS = tuple(v for v in N2N_VERSIONS if v not in N2N_CDDL_VERSIONS)
"""The N2N versions we decode that only the obsolete/ CDDL files describe."""


def _refused_versions(message: wire.Message) -> list[int]:
    """Versions in an AcceptVersion or a Refuse (not in version tables: pycddl cannot check map keys)."""
    if message.name == "MsgAcceptVersion":
        return [message.fields["version"]]
    if message.name == "MsgRefuse":
        reason = message.fields["reason"]
        return list(reason["versions"]) if reason["kind"] == "VersionMismatch" else [reason["version"]]
    return []


def _n2n_obsolete_version(message: wire.Message) -> bool:
    return any(v in N2N_OBSOLETE_VERSIONS for v in _refused_versions(message))


def _mismatch_lists_unknown_version(message: wire.Message) -> bool:
    if message.name != "MsgRefuse" or message.fields["reason"]["kind"] != "VersionMismatch":
        return False
    return any(v not in _known_versions(message) for v in message.fields["reason"]["versions"])


def _known_versions(message: wire.Message) -> tuple[int, ...]:
    return N2N_VERSIONS if message.protocol == "handshake" else N2C_VERSIONS


def _undecodable_version_data(message: wire.Message) -> bool:
    """A version table entry whose data did not decode (kept raw, as the node does), for a version the CDDL
    table checks; pycddl does not look at entries with other keys (PYCDDL-04)."""
    if message.name not in ("MsgProposeVersions", "MsgReplyVersions", "MsgQueryReply"):
        return False
    checked = N2N_CDDL_VERSIONS if message.protocol == "handshake" else N2C_VERSIONS  # other keys: PYCDDL-04
    return any(isinstance(data, RawCbor) and v in checked for v, data in message.fields["versions"].items())


def _reject_reason_not_int(message: wire.Message) -> bool:
    """A reason that is not a CDDL `int` (CBOR major type 0 or 1).

    pycddl lets some of them pass all the same (tags other than 0 and 1, maps with integer keys: PYCDDL-11,
    PYCDDL-12), so for generated messages the tests check only that the amended CDDL accepts them.
    """
    return message.name == "MsgRejectTx" and bytes(message.fields["reason"])[0] >> 5 not in (0, 1)


def _indefinite_points(message: wire.Message) -> bool:
    return message.name == "MsgFindIntersect" and bool(getattr(message.fields["points"], "indefinite", False))


MATCHERS: dict[str, Callable[[wire.Message], bool]] = {
    "n2n-obsolete-version": _n2n_obsolete_version,
    "version-mismatch-lists-unknown-version": _mismatch_lists_unknown_version,
    "reject-reason-not-int": _reject_reason_not_int,
    "find-intersect-indefinite-points": _indefinite_points,
    "version-table-with-undecodable-data": _undecodable_version_data,
}
"""Named predicates that deviations and recorded findings use to say which messages they explain."""
