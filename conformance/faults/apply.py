"""A fault applied to the reference peer: its behaviours and its PeerConfig, changed as the fault says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from conformance.peer import tx_submission
from conformance.peer.agent import BehaviourFactory
from conformance.peer.chain import ChainFault, ChainStore
from conformance.peer.defaults import DEFAULT_CHAIN_LENGTH, default_behaviours
from conformance.peer.handshake import HANDSHAKES
from conformance.peer.mempool import Mempool
from conformance.peer.node import PeerConfig
from conformance.protocol.mux import MINI_PROTOCOLS

from .egress import EgressTamper
from .model import Fault
from .tamper import handshake_tamper, tampered

SWITCHABLE: dict[tuple[str, str], Callable[..., BehaviourFactory]] = {
    ("tx-submission2", "responder"): tx_submission.inbound,
    ("tx-submission2", "initiator"): tx_submission.outbound,
}
"""Reference behaviours with fault switches, by (protocol, side): the factory takes (mempool, **switches)."""


def chain_for(fault: Fault, chain: ChainStore | None) -> ChainStore | None:
    """The chain a faulty peer serves: the given one, or a synthetic chain with the fault's broken block."""
    if fault.chain is None:
        return chain
    kind, at = fault.chain
    return ChainStore.synthetic(DEFAULT_CHAIN_LENGTH, fault=ChainFault(kind, at))


def behaviours(
    fault: Fault, mode: str, role: str, *, chain: ChainStore | None = None, **options: Any
) -> dict[tuple[str, str], BehaviourFactory]:
    """The default behaviours of `role` with the fault's chain, switches and rewrites."""
    chain = chain_for(fault, chain)
    mempool = options.pop("mempool", None)
    if mempool is None:
        mempool = Mempool((chain or ChainStore.synthetic(DEFAULT_CHAIN_LENGTH)).transactions())
    out = default_behaviours(mode, role, chain=chain, mempool=mempool, **options)
    for name, switches in fault.switches.items():
        protocol, _, side = name.partition("/")
        out[(protocol, side)] = SWITCHABLE[(protocol, side)](mempool, **switches)
    for (protocol, side), factory in list(out.items()):
        rewrites = [r for r in fault.rewrites if r.protocol == protocol and r.side in (None, side)]
        if rewrites:
            out[(protocol, side)] = tampered(factory, rewrites)
    return out


def configure(fault: Fault, config: PeerConfig) -> PeerConfig:
    """`config` with the fault's settings, its egress tamper, and our own checks of its rule switched off."""
    numbers = {p.name: p.number for p in MINI_PROTOCOLS[config.mode]}  # type: ignore[index]
    egress = fault.egress

    def tamper() -> EgressTamper:
        return EgressTamper(egress, numbers)

    handshake = [r for r in fault.rewrites if r.protocol in HANDSHAKES]
    return dataclasses.replace(
        config,
        disabled_rules=config.disabled_rules | fault.disable,
        egress_tamper=tamper if egress else None,
        handshake_tamper=handshake_tamper(handshake) if handshake else None,
        tolerated=config.tolerated | fault.tolerate,
        **dict(fault.config),
    )
