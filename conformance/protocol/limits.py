"""Per-state limits, as the Haskell node applies them.

The values come from `Ouroboros.Network.Protocol.Limits` and the per-protocol `byteLimits*` /
`timeLimits*` functions (PROTOCOLS.md section 1.2). Where the written network spec gives another value it
is kept beside the node's value, so documentation and reports can show both.
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL_BYTE_LIMIT = 65_535
"""`smallByteLimit`: most N2N states. A per-message limit of the protocols, not the mux's largest SDU
payload (`conformance.wire.mux.MAX_PAYLOAD`), though both are 0xffff: the two may change apart."""
LARGE_BYTE_LIMIT = 2_500_000
"""`largeByteLimit`: states that carry blocks or transactions."""
HANDSHAKE_BYTE_LIMIT = 5_760
"""`maxTransmissionUnit = 4 * 1440`: handshake and peer-sharing messages."""
SHORT_WAIT = 10.0
"""`shortWait`, seconds."""
LONG_WAIT = 60.0
"""`longWait`, seconds."""


@dataclass(frozen=True)
class Limit:
    """One limit of one state: `value` is what the node enforces (None: no limit).

    `spec` is the written spec's value, given only where it differs from the node's; `note` says why or
    how the node applies it (e.g. a random draw), in one line.
    """

    value: float | None
    spec: float | None = None
    note: str = ""

    @property
    def bounded(self) -> bool:
        return self.value is not None

    def scaled(self, scale: float) -> float | None:
        """The limit multiplied by `scale`, so integration tests of time limits need not wait minutes."""
        return None if self.value is None else self.value * scale


NO_LIMIT = Limit(None)


def bytes_(value: int | None, spec: int | None = None, note: str = "") -> Limit:
    """A byte limit (readability helper for the tables)."""
    return Limit(value, spec, note)


def seconds(value: float | None, spec: float | None = None, note: str = "") -> Limit:
    """A time limit in seconds (readability helper for the tables)."""
    return Limit(value, spec, note)


# --------------------------------------------------------------------------------------------------
# Mux ingress queues where the node sets none.
#
# The node gives every node-to-client mini-protocol `maximumMiniProtocolLimits` (maximumIngressQueue =
# maxBound, 0xffffffff: "effectively no limit", PROTOCOLS.md section 1.3), and runs the handshake before
# the mux with only its per-message byte limit. A demultiplexer fed by a socket must not hold 4 GiB per
# stream, so these are our bounds, each sized for the largest legitimate traffic; they are what
# `protocol.mux.demultiplexer_for` uses, while conformance checks still report the node's own values.

N2C_NODE_INGRESS_LIMIT = 0xFFFF_FFFF
"""The node's N2C ingress queue (`maximumIngressQueue = maxBound`): effectively none."""
HANDSHAKE_QUEUE_BOUND = HANDSHAKE_BYTE_LIMIT
"""Handshake (N2N and N2C): one message of at most `byteLimitsHandshake` (5,760 bytes) is ever due."""
N2C_BLOCK_QUEUE_BOUND = 23_068_694
"""local-chain-sync: blocks, as N2N block-fetch queues them (1.1 x 10 blocks of 2,097,154 bytes)."""
N2C_TX_QUEUE_BOUND = LARGE_BYTE_LIMIT
"""local-tx-submission and local-tx-monitor: one transaction or reply per message (`largeByteLimit`)."""
N2C_QUERY_QUEUE_BOUND = 128 * 1024 * 1024
"""local-state-query: whole-ledger answers (GetUTxOWhole, DebugNewEpochState) of test networks fit;
a mainnet-sized answer needs a larger bound given to `demultiplexer_for(..., bounds=...)`."""
