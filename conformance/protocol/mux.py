"""The multiplexer as data (mini-protocol numbers, ingress-queue limits, SDU bounds), its checker, and
the demultiplexer built from that data.

This table is the one home of ingress limits; each mini-protocol's number is read from its wire codec
(`Codec.number`), and the SDU bounds and mode bits from `conformance.wire.mux`. The wire layer's
`MessageDemultiplexer` takes its limits from `demultiplexer_for` (the wire layer never imports this one).
Sources: `Network.Mux.{Codec,Types,Ingress,Bearer}`, `Cardano.Network.NodeToNode` (`*ProtocolLimits`,
`miniProtocolStart` in `nodeToNodeProtocols`), `Cardano.Network.NodeToClient` (`maximumMiniProtocolLimits`)
(PROTOCOLS.md sections 1.1, 1.3 and 2).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from conformance import wire
from conformance.wire.cbor import scan_item
from conformance.wire.errors import DecodeError
from conformance.wire.mux import INITIATOR as MODE_INITIATOR
from conformance.wire.mux import MAX_PAYLOAD, NODE_SDU_PAYLOAD, MessageDemultiplexer
from conformance.wire.mux import RESPONDER as MODE_RESPONDER

from . import catalogue
from .limits import (
    HANDSHAKE_QUEUE_BOUND,
    N2C_BLOCK_QUEUE_BOUND,
    N2C_NODE_INGRESS_LIMIT,
    N2C_QUERY_QUEUE_BOUND,
    N2C_TX_QUEUE_BOUND,
)
from .registry import TABLES
from .table import INITIATOR, RESPONDER
from .violations import IngressQueueOverrun, MuxViolation, TimeLimitExceeded, Violation

N2C_INGRESS_LIMIT = N2C_NODE_INGRESS_LIMIT
ResponderStart = Literal["on-demand", "on-demand-any"]
"""When the node starts a responder (`Network.Mux.Types.StartOnDemandOrEagerly`; initiators start at once,
`StartEagerly`): at its own first inbound data, or at the first inbound data of any responder."""


def bearer_violation(error: DecodeError, sender: str) -> Violation:
    """The violation a fault found below the mini-protocols (an SDU, a reassembled message) stands for: the
    requirement the error names, else its protocol's codec rule, else MUX-SDU-01. The peer and the capture
    judge both report bearer faults so, and must agree."""
    requirement = getattr(error, "requirement", None)
    protocol = getattr(error, "protocol", None) or "mux"
    if requirement is None:
        table = TABLES.get(str(protocol))
        requirement = table.requirement("CODEC") if table is not None else "MUX-SDU-01"
    return MuxViolation(requirement, str(error), protocol=str(protocol), state=None, sender=sender)


@dataclass(frozen=True)
class MiniProtocol:
    """One mini-protocol number on the mux, and how many bytes its ingress queue holds per direction.

    `ingress_limit` is the node's value (None: the node has none), which the checker reports against;
    `bound` is the queue our demultiplexer holds where the node's value is none or effectively none
    (see limits.py for why each was chosen). `responder_start` is when the node starts its responder, so
    when the time limit of the responder's first state begins to count (`responders_started_by`).
    """

    number: int
    name: str
    ingress_limit: int | None
    spec_ingress_limit: int | None = None
    requires: str | None = None
    note: str = ""
    bound: int | None = None
    responder_start: ResponderStart = "on-demand"

    @property
    def queue_bound(self) -> int:
        """The bytes a demultiplexer buffers for this protocol per direction: always a real bound."""
        value = self.bound if self.bound is not None else self.ingress_limit
        if value is None:
            raise ValueError(f"mini-protocol {self.number} ({self.name}) has no queue bound in the table")
        return value


def _declared(name: str, ingress_limit: int | None, spec_ingress_limit: int | None = None, **more: Any) -> MiniProtocol:
    """The row of a mini-protocol the wire declares: its number is the wire codec's."""
    number = wire.codec(name).number
    if number is None:
        raise ValueError(f"{name}: the wire codec declares no mini-protocol number")
    return MiniProtocol(number, name, ingress_limit, spec_ingress_limit, **more)


_HANDSHAKE_NOTE = f"runs before the mux starts; our demultiplexer holds {HANDSHAKE_QUEUE_BOUND:,} bytes"
NODE_TO_NODE = (
    _declared("handshake", None, note=_HANDSHAKE_NOTE, bound=HANDSHAKE_QUEUE_BOUND),
    _declared("chain-sync", 462_000, note="1.1 x 300 x 1400"),
    _declared("block-fetch", 23_068_694, 230_686_940, note="1.1 x max(10 x 2097154, 100 x 90112)"),
    _declared("tx-submission2", 721_424, note="1.1 x 10 x (44 + 65540)"),
    _declared("keep-alive", 1_408, note="1.1 x 1280", responder_start="on-demand-any"),
    _declared("peer-sharing", 5_760, requires="peer_sharing", note="4 x 1440"),
    # Peras has no wire declaration yet: these two rows are the one home of its numbers.
    MiniProtocol(16, "peras-cert-diffusion", 220_000, requires="peras_support", note="experimental, N2N v16"),
    MiniProtocol(17, "peras-vote-diffusion", 55_000, requires="peras_support", note="experimental, N2N v16"),
)


def _n2c(name: str, bound: int, why: str) -> MiniProtocol:
    note = f"node: maxBound, effectively none; our demultiplexer holds {bound:,} bytes ({why})"
    return _declared(name, N2C_INGRESS_LIMIT, note=note, bound=bound)


NODE_TO_CLIENT = (
    _declared("n2c-handshake", None, note=_HANDSHAKE_NOTE, bound=HANDSHAKE_QUEUE_BOUND),
    _n2c("local-chain-sync", N2C_BLOCK_QUEUE_BOUND, "10 blocks"),
    _n2c("local-tx-submission", N2C_TX_QUEUE_BOUND, "largeByteLimit"),
    _n2c("local-state-query", N2C_QUERY_QUEUE_BOUND, "whole-ledger answers of test networks"),
    _n2c("local-tx-monitor", N2C_TX_QUEUE_BOUND, "largeByteLimit"),
)
"""Node-to-client: the node sets no ingress limit (`maximumMiniProtocolLimits`, 0xffffffff); `bound` is
the documented queue our demultiplexer holds instead (limits.py)."""
MINI_PROTOCOLS = {"node-to-node": NODE_TO_NODE, "node-to-client": NODE_TO_CLIENT}


Mode = Literal["node-to-node", "node-to-client"]


def running(mode: Mode, version_data: Mapping[str, Any] | None = None) -> dict[int, MiniProtocol]:
    """The mini-protocols that may carry SDUs: the handshake alone until `version_data` is negotiated,
    then the bundle that data enables (the handshake no longer runs)."""
    if mode not in MINI_PROTOCOLS:
        raise ValueError(f"mode must be node-to-node or node-to-client, not {mode!r}")
    if version_data is None:
        return {0: MINI_PROTOCOLS[mode][0]}
    return {
        p.number: p
        for p in MINI_PROTOCOLS[mode]
        if p.number != 0 and (p.requires is None or _enabled(version_data, p.requires))
    }


@functools.cache
def responders_started_by(mode: Mode, number: int) -> tuple[str, ...]:
    """The responders that the first inbound data of mini-protocol `number` starts, after the handshake:
    its own (`StartOnDemand`) and every `StartOnDemandAny` one (keep-alive), as `Network.Mux.monitor`
    starts them; none for the handshake, which runs before the mux. Starting one twice changes nothing,
    so every inbound SDU may call this."""
    if number == 0:
        return ()
    rows = MINI_PROTOCOLS[mode]
    own = tuple(p.name for p in rows if p.number == number)
    return own + tuple(p.name for p in rows if p.responder_start == "on-demand-any" and p.number != number)


def demultiplexer_for(
    mode: Mode,
    version_data: Mapping[str, Any] | None = None,
    *,
    bounds: Mapping[int, int] | None = None,
) -> MessageDemultiplexer:
    """A demultiplexer for the protocols running in `mode` (see `running`), each queue bounded by the
    table; `bounds` overrides single protocols (e.g. a benchmark, or a mainnet-sized query answer)."""
    protocols = running(mode, version_data)
    limits = {number: p.queue_bound for number, p in protocols.items()}
    for number, limit in (bounds or {}).items():
        if number not in limits:
            raise ValueError(f"mini-protocol {number} is not running in {mode}")
        limits[number] = limit
    return MessageDemultiplexer(limits, {number: p.name for number, p in protocols.items()})


def _one_whole_message(payload: bytes) -> bool:
    try:
        return scan_item(payload) == len(payload)
    except DecodeError:
        return False


def _enabled(version_data: Mapping[str, Any], flag: str) -> bool:
    value = version_data.get(flag)
    return value is True or value == 1


PROTOCOL_IDLE_TIMEOUT = {"node-to-node": 5.0, "node-to-client": 2.0}
"""Seconds an inbound connection may run no mini-protocol before the node's connection manager closes it
(defaultProtocolIdleTimeout, local_PROTOCOL_IDLE_TIMEOUT)."""


class MuxChecker:
    """Follows the SDUs of one bearer in both directions.

    `sender` is the connection role of the peer that sent an SDU ("initiator": it opened the
    connection). Until `negotiated` is called (or `version_data` is given) only the handshake may run.
    Bytes stay in a protocol's ingress queue until `consume` says the receiver read them.
    """

    requirements = (
        "MUX-MODE-01",
        "MUX-PROTO-01",
        "MUX-SDU-01",
        "MUX-SDU-02",
        "MUX-SDU-03",
        "MUX-INGRESS-01",
        "MUX-HS-01",
        "MUX-IDLE-01",
        "PS-NEG-01",
    )

    def __init__(
        self,
        mode: Mode = "node-to-node",
        version_data: Mapping[str, Any] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        if mode not in MINI_PROTOCOLS:
            raise ValueError(f"mode must be node-to-node or node-to-client, not {mode!r}")
        self.mode = mode
        self.strict = strict
        self.version_data: Mapping[str, Any] | None = None
        self.buffered: dict[tuple[int, int], int] = {}
        self.warnings: list[Violation] = []
        if version_data is not None:
            self.negotiated(version_data)

    def negotiated(self, version_data: Mapping[str, Any]) -> None:
        """The handshake finished with this data: the mini-protocol bundle starts."""
        self.version_data = dict(version_data)

    @property
    def duplex(self) -> bool:
        """Both peers run initiators and responders (N2N, and neither side is initiator-only)."""
        return (
            self.mode == "node-to-node"
            and self.version_data is not None
            and self.version_data.get("initiator_only") is False
        )

    def bundle(self) -> dict[int, MiniProtocol]:
        """The mini-protocols that may carry SDUs now."""
        return running(self.mode, self.version_data)  # type: ignore[arg-type]

    def observe(self, sdu: Any, sender: str) -> None:
        """Check one SDU (anything with timestamp, mode, protocol and payload) sent by `sender`."""
        if sender not in (INITIATOR, RESPONDER):
            raise ValueError(f"sender must be 'initiator' or 'responder', not {sender!r}")
        self._emit(self._problems(sdu, sender))
        if sdu.protocol in self.bundle():  # only running protocols have a queue: at most 2 per protocol
            key = (sdu.protocol, sdu.mode)
            self.buffered[key] = self.buffered.get(key, 0) + len(sdu.payload)

    def consume(self, protocol: int, mode: int, nbytes: int) -> None:
        """The receiver read `nbytes` of protocol `protocol` in direction `mode` from its ingress queue."""
        key = (protocol, mode)
        self.buffered[key] = max(0, self.buffered.get(key, 0) - nbytes)

    def idle(self, seconds: float, limit: float, *, since: str) -> None:
        """No mini-protocol has run on the connection for `seconds` since `since` ("the handshake", or
        "every mini-protocol finished"); past `limit` (the node's protocol idle timeout, scaled by the
        caller) the initiator left it idle longer than the node keeps such a connection (MUX-IDLE-01)."""
        if seconds <= limit:
            return
        detail = (
            f"no mini-protocol ran for {seconds:.3g} s after {since}; the node closes an inbound connection"
            f" after {limit:g} s of protocol idleness"
        )
        self._emit([self._violation("MUX-IDLE-01", detail, None, INITIATOR, TimeLimitExceeded, limit=limit,
                                    observed=seconds)])  # fmt: skip

    def _violation(self, requirement: str, detail: str, sdu: Any, sender: str, cls: Any = MuxViolation, **kw: Any):
        return cls(requirement, detail, protocol="mux", state=None, sender=sender, message=sdu, **kw)

    def _problems(self, sdu: Any, sender: str) -> Iterable[Violation]:
        size = len(sdu.payload)
        if size == 0:
            yield self._violation("MUX-SDU-01", "a zero-length SDU", sdu, sender)
        if size > MAX_PAYLOAD:
            yield self._violation("MUX-SDU-02", f"a {size}-byte SDU payload; at most {MAX_PAYLOAD}", sdu, sender)
        elif size > NODE_SDU_PAYLOAD:
            yield self._violation(
                "MUX-SDU-03", f"a {size}-byte SDU; the node sends at most {NODE_SDU_PAYLOAD}", sdu, sender
            )
        own = MODE_INITIATOR if sender == INITIATOR else MODE_RESPONDER
        if sdu.mode not in (MODE_INITIATOR, MODE_RESPONDER) or (
            sdu.mode != own and (sdu.protocol == 0 or not self.duplex)
        ):
            yield self._violation(
                "MUX-MODE-01", f"the connection's {sender} sent an SDU with mode bit {sdu.mode}", sdu, sender
            )
        if sdu.protocol == 0 and size and not _one_whole_message(bytes(sdu.payload)):
            yield self._violation(
                "MUX-HS-01", "a handshake SDU that is not exactly one whole handshake message", sdu, sender
            )
        bundle = self.bundle()
        if sdu.protocol not in bundle:
            known = {p.number: p for p in MINI_PROTOCOLS[self.mode]}
            rule = "PS-NEG-01" if known.get(sdu.protocol, None) and sdu.protocol == 10 else "MUX-PROTO-01"
            yield self._violation(
                rule, f"mini-protocol {sdu.protocol} is not running (running: {sorted(bundle)})", sdu, sender
            )
            return
        limit = bundle[sdu.protocol].ingress_limit
        queued = self.buffered.get((sdu.protocol, sdu.mode), 0) + size
        if limit is not None and queued > limit:
            yield self._violation(
                "MUX-INGRESS-01",
                f"{queued} bytes queued for mini-protocol {sdu.protocol}; the queue holds {limit}",
                sdu,
                sender,
                IngressQueueOverrun,
                limit=limit,
                observed=queued,
            )

    def _emit(self, violations: Iterable[Violation]) -> None:
        catalogue.report(violations, strict=self.strict, warnings=self.warnings)
