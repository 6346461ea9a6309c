"""PeerSharing (N2N mini-protocol 10, only when negotiated).

IPv4 addresses travel as the four network-order octets read as a little-endian word32 (Haskell's
HostAddress on the little-endian hosts the node runs on); IPv6 as four big-endian word32 chunks.

The shapes depend on the negotiated node-to-node version (`encodeRemoteAddress`, gated on NodeToNodeV_13
in ouroboros-network before v11-12 were removed; obsolete/peer-sharing-v11-12.cddl): up to v12 an IPv6
address also carries flowInfo and scopeId, `[1, w0, w1, w2, w3, flowInfo, scopeId, port]`; from v13 on it
is `[1, w0, w1, w2, w3, port]`. IPv4 is `[0, word32, port]` in every version. The node decodes the old
form's flowInfo and scopeId and then drops them; they are kept here so the bytes come back exactly.
The mini-protocol itself exists from v11 on.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .codec import Codec, MessageType
from .schema import (
    Choice,
    Gated,
    ListOf,
    Mapped,
    Tagged,
    Uint,
    ipv4_from_word,
    ipv4_to_word,
    ipv6_from_words,
    ipv6_to_words,
)

_Port = Uint(16)


def _from_v4(d: dict[str, Any]) -> dict[str, Any]:
    return {"ip": ipv4_from_word(d["address"]), "port": d["port"]}


def _to_v4(v: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ipv4", "address": ipv4_to_word(v["ip"]), "port": v["port"]}


def _from_v6(d: dict[str, Any]) -> dict[str, Any]:
    return {"ip": ipv6_from_words([d["w0"], d["w1"], d["w2"], d["w3"]]), "port": d["port"]}


def _to_v6(v: dict[str, Any]) -> dict[str, Any]:
    w = ipv6_to_words(v["ip"])
    return {"kind": "ipv6", "w0": w[0], "w1": w[1], "w2": w[2], "w3": w[3], "port": v["port"]}


def _from_v6_flow(d: dict[str, Any]) -> dict[str, Any]:
    return {**_from_v6(d), "flow_info": d["flow_info"], "scope_id": d["scope_id"]}


def _to_v6_flow(v: dict[str, Any]) -> dict[str, Any]:
    return {**_to_v6(v), "kind": "ipv6-flow", "flow_info": v["flow_info"], "scope_id": v["scope_id"]}


_WORDS = ("w0" / Uint(32), "w1" / Uint(32), "w2" / Uint(32), "w3" / Uint(32))


_ports = st.integers(0, 0xFFFF)
PeerAddress = Choice(
    Mapped(
        Tagged("ipv4", 0, "address" / Uint(32), "port" / _Port),
        _from_v4,
        _to_v4,
        strategy=st.builds(lambda ip, port: {"ip": str(ip), "port": port}, st.ip_addresses(v=4), _ports),
    ),
    Gated(
        Mapped(
            Tagged(
                "ipv6-flow", 1, *_WORDS, "flow_info" / Uint(32), "scope_id" / Uint(32), "port" / _Port, by_length=True
            ),
            _from_v6_flow,
            _to_v6_flow,
            strategy=st.builds(
                lambda ip, port, flow, scope: {"ip": str(ip), "port": port, "flow_info": flow, "scope_id": scope},
                st.ip_addresses(v=6),
                _ports,
                st.integers(0, 0xFFFFFFFF),
                st.integers(0, 0xFFFFFFFF),
            ),
        ),
        until=12,
    ),
    Gated(
        Mapped(
            Tagged("ipv6", 1, *_WORDS, "port" / _Port, by_length=True),
            _from_v6,
            _to_v6,
            strategy=st.builds(lambda ip, port: {"ip": str(ip), "port": port}, st.ip_addresses(v=6), _ports),
        ),
        since=13,
    ),
    cddl="peerAddress",
)
"""IPv4 in every version; IPv6 with flowInfo and scopeId up to v12, without from v13 (the old form first: a
value with `flow_info` and `scope_id` is written in it, any other IPv6 value in the new one)."""

PEER_SHARING = Codec(
    "peer-sharing",
    10,
    [
        MessageType("MsgShareRequest", 0, "amount" / Uint(8), states=["StIdle"]),
        MessageType(
            "MsgSharePeers",
            1,
            "peers" / ListOf(PeerAddress, form="either", encode_form="nonempty-indefinite"),
            states=["StBusy"],
        ),
        MessageType("MsgDone", 2, states=["StIdle"]),
    ],
    since=11,
)
