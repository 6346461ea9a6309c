"""PeerSharing (N2N mini-protocol 10, only when negotiated).

IPv4 addresses travel as the four network-order octets read as a little-endian word32 (Haskell's
HostAddress on the little-endian hosts the node runs on); IPv6 as four big-endian word32 chunks.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .codec import Codec, MessageType
from .schema import (
    Choice,
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


_ports = st.integers(0, 0xFFFF)
PeerAddress = Choice(
    Mapped(
        Tagged("ipv4", 0, "address" / Uint(32), "port" / _Port),
        _from_v4,
        _to_v4,
        strategy=st.builds(lambda ip, port: {"ip": str(ip), "port": port}, st.ip_addresses(v=4), _ports),
    ),
    Mapped(
        Tagged("ipv6", 1, "w0" / Uint(32), "w1" / Uint(32), "w2" / Uint(32), "w3" / Uint(32), "port" / _Port),
        _from_v6,
        _to_v6,
        strategy=st.builds(lambda ip, port: {"ip": str(ip), "port": port}, st.ip_addresses(v=6), _ports),
    ),
    cddl="peerAddress",
)

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
)
