"""Legal moves for every protocol, as the bytes the wire layer produces for them.

Test helper only. The shapes come from the wire declarations: each message starts from an instance the
declaration's own hypothesis strategy draws (`BASE`), and `legal_fields(session, sender, name, rnd)`
changes only the few fields the table and the rules constrain (or returns None when no legal instance
exists right now). `legal_message` encodes the result with `wire.encode`, so what a test observes is bytes;
a field name the declaration does not have is an error, never silently dropped. `drawn` does the same
with the free fields drawn afresh from the declaration's strategy (the state machine uses it).
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import cbor2
from hypothesis import Phase, find, settings

from conformance import wire
from conformance.protocol import Session
from conformance.protocol.points import point_key
from conformance.wire.handshake import N2C_VERSION_BIT, N2C_VERSIONS, N2N_VERSIONS, n2c_version_data, n2n_version_data
from conformance.wire.message import Message

MAINNET = 764_824_073
N2C_V16 = N2C_VERSION_BIT | 16

_FIRST_DRAW = settings(database=None, max_examples=1, phases=[Phase.generate], derandomize=True)


def _first_instance(declaration: wire.MessageType) -> dict[str, Any]:
    return dict(find(declaration.strategy(), lambda _: True, settings=_FIRST_DRAW))


BASE: dict[tuple[str, str], dict[str, Any]] = {
    (protocol, name): _first_instance(declaration)
    for protocol, codec in wire.CODECS.items()
    for name, declaration in codec.messages.items()
}
"""One valid instance of every declared message, drawn (deterministically) by the wire's own strategy;
computed at import, outside any hypothesis test."""


def declared_names(protocol: str, name: str) -> set[str]:
    return {field for field, _ in wire.codec(protocol).messages[name].fields}


def encode(protocol: str, name: str, **fields: Any) -> bytes:
    """The bytes of `name` with `fields` over the declaration's base instance; unknown names are refused."""
    unknown = set(fields) - declared_names(protocol, name)
    if unknown:
        raise KeyError(f"{protocol}:{name} declares no field {sorted(unknown)}")
    return wire.encode(Message(protocol, name, {**BASE[(protocol, name)], **fields}))


class IndefList(list):  # type: ignore[type-arg]
    """A list flagged indefinite-length (kept for tests that still build Message values directly)."""

    indefinite = True


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=32).digest()


def point(slot: int) -> dict[str, Any]:
    return {"slot": slot, "hash": digest(f"block-{slot}")}


def tip(block_no: int, slot: int | None = None) -> dict[str, Any]:
    return {"point": point(block_no if slot is None else slot), "block_no": block_no}


# -- a small chain of Shelley-era blocks (block tag 7 = Conway) --------------------------------------


def make_block(block_no: int, slot: int, prev: bytes | None, era_tag: int = 7) -> bytes:
    header = [[block_no, slot, prev, b"issuer", b"vrf"], b"signature"]
    return cbor2.dumps([era_tag, [header, [], {}, {}, []]])


def header_hash(block: bytes) -> bytes:
    _, body = cbor2.loads(block)
    return hashlib.blake2b(cbor2.dumps(body[0]), digest_size=32).digest()


def make_chain(length: int = 6) -> list[tuple[dict[str, Any], bytes]]:
    chain: list[tuple[dict[str, Any], bytes]] = []
    prev = None
    for number in range(length):
        block = make_block(number, 10 * number + 1, prev)
        prev = header_hash(block)
        chain.append(({"slot": 10 * number + 1, "hash": prev}, block))
    return chain


CHAIN = make_chain()


def chain_index(p: Any) -> int | None:
    key = point_key(p)
    for index, (candidate, _) in enumerate(CHAIN):
        if point_key(candidate) == key:
            return index
    return None


# -- transactions whose ids are the hashes of their bodies ----------------------------------------------


def make_tx(n: int) -> tuple[bytes, bytes, int]:
    """(txid CBOR, tx CBOR, size) of the n-th test transaction."""
    body = {0: [], 1: [], 2: n}
    inner = cbor2.dumps([body, {}, True, None])
    tx = cbor2.dumps([6, cbor2.CBORTag(24, inner)])
    txid = cbor2.dumps([6, hashlib.blake2b(cbor2.dumps(body), digest_size=32).digest()])
    return txid, tx, len(inner)


TXS = [make_tx(n) for n in range(64)]
TX_BY_ID = {txid: tx for txid, tx, _ in TXS}


# -- per protocol -----------------------------------------------------------------------------------


def version_data(n2c: bool, key: int, rnd: random.Random) -> dict[str, Any]:
    """Version data of `key` with exactly the fields its wire declaration has (values a rule allows)."""
    kind = n2c_version_data(key) if n2c else n2n_version_data(key)
    assert kind is not None, key
    values = {
        "network_magic": MAINNET,
        "initiator_only": rnd.random() < 0.3,
        "peer_sharing": rnd.choice((0, 1)),
        "query": rnd.random() < 0.4,
        "peras_support": rnd.random() < 0.5,
    }
    return {field: values[field] for field, _ in kind.fields}


def handshake(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    n2c = session.name == "n2c-handshake"
    versions = N2C_VERSIONS if n2c else N2N_VERSIONS
    rules: Any = session.rules
    if name in ("MsgProposeVersions", "MsgReplyVersions", "MsgQueryReply"):
        if name == "MsgQueryReply":
            asked = any(data.get("query") for data in rules.proposed.values())
            return {"versions": dict(rules.proposed)} if asked else None
        keys = sorted(rnd.sample(versions, 2))
        return {"versions": {k: version_data(n2c, k, rnd) for k in keys}}
    proposed = rules.proposed
    if name == "MsgAcceptVersion":
        choices = [k for k, d in proposed.items() if not d.get("query")]
        if not choices:
            return None
        key = max(choices)
        return {"version": key, "version_data": dict(proposed[key])}
    if name == "MsgRefuse":
        kind = rnd.choice(("VersionMismatch", "Refused", "HandshakeDecodeError"))
        if kind == "VersionMismatch":
            return {"reason": {"kind": kind, "versions": [k for k in versions if k not in proposed][:3]}}
        return {"reason": {"kind": kind, "version": max(proposed), "message": "no"}}
    return {}


def chain_sync(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    rules: Any = session.rules
    number = (rules.tip or 0) + 1
    if name == "MsgFindIntersect":
        return {"points": list(point(rnd.randrange(50)) for _ in range(rnd.randrange(3)))}
    if name == "MsgIntersectFound":
        if not rules.requested:
            return None
        return {"point": rnd.choice(rules.requested), "tip": tip(number)}
    if name == "MsgIntersectNotFound":
        return {"tip": tip(number)}
    if name == "MsgRollForward":
        if rules.after_intersection:
            return None
        if session.name == "local-chain-sync":
            return {"block": make_block(number, number, None), "tip": tip(number)}
        return {"header": {"era": 6, "cbor": b"\x80"}, "tip": tip(number)}
    if name == "MsgRollBackward":
        target = rules.intersection if rules.after_intersection else None
        return {"point": target, "tip": tip(number, slot=10_000)}
    return {}


def block_fetch(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    rules: Any = session.rules
    if name == "MsgRequestRange":
        low = rnd.randrange(len(CHAIN))
        high = rnd.randrange(low, min(len(CHAIN), low + 3))
        return {"from_point": CHAIN[low][0], "to_point": CHAIN[high][0]}
    low, high = chain_index(rules.range[0]), chain_index(rules.range[1])
    if name == "MsgBlock":
        if low is None or high is None or low + rules.blocks > high:
            return None
        return {"block": CHAIN[low + rules.blocks][1]}
    if name == "MsgBatchDone":
        if low is None or high is None or low + rules.blocks != high + 1:
            return None
    return {}


def _in_flight_requests(session: Session) -> int:
    rules: Any = session.rules
    count = rules.req if session.state == "StTxIdsNonBlocking" else 0
    return count + sum(m.fields["req"] for m in session.pending if m.name == "MsgRequestTxIds")


def tx_submission(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    rules: Any = session.rules
    unacked = [txid for txid, _ in rules.unacked]
    pipelined = session.state != "StIdle"
    if name == "MsgRequestTxIds":
        if pipelined:
            if any(m.name == "MsgRequestTxs" for m in session.pending) or not unacked:
                return None
            room = rules.window - len(unacked) - _in_flight_requests(session)
            if room < 1:
                return None
            return {"blocking": False, "ack": 0, "req": rnd.randint(1, room)}
        ack = rnd.randint(0, len(unacked))
        remaining = len(unacked) - ack
        if remaining == 0:
            return {"blocking": True, "ack": ack, "req": rnd.randint(1, rules.window)}
        req = rnd.randint(0, rules.window - remaining)
        if ack == 0 and req == 0:
            return None
        return {"blocking": False, "ack": ack, "req": req}
    if name == "MsgRequestTxs":
        if pipelined and any(m.name == "MsgRequestTxIds" for m in session.pending):
            return None
        pending_asks = {t for m in session.pending if m.name == "MsgRequestTxs" for t in m.fields["txids"]}
        fresh = [t for t in unacked if t not in rules.ever_asked and t not in pending_asks]
        if not fresh:
            return None
        return {"txids": list(rnd.sample(fresh, rnd.randint(1, len(fresh))))}
    if name == "MsgReplyTxIds":
        known = {t for t, _ in rules.unacked} | rules.ever_asked
        fresh = [entry for entry in TXS if entry[0] not in known]
        low = 1 if rules.blocking else 0
        count = min(rnd.randint(low, max(low, rules.req)), len(fresh))
        if count < low:
            return None
        start = rnd.randrange(0, len(fresh) - count + 1)
        return {"txids": list({"txid": t, "size": s} for t, _, s in fresh[start : start + count])}
    if name == "MsgReplyTxs":
        return {"txs": list(TX_BY_ID[t] for t in rules.asked if rnd.random() < 0.8)}
    return {}


def keep_alive(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    if name == "MsgKeepAlive":
        return {"cookie": rnd.randrange(1 << 16)}
    if name == "MsgKeepAliveResponse":
        return {"cookie": session.rules.cookie}  # type: ignore[attr-defined]
    return {}


def peer_sharing(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    if name == "MsgShareRequest":
        return {"amount": rnd.randrange(5)}
    if name == "MsgSharePeers":
        count = rnd.randint(0, session.rules.amount)  # type: ignore[attr-defined]
        return {"peers": list({"ip": f"10.0.0.{i}", "port": 3001} for i in range(count))}
    return {}


_LOCAL = {
    "MsgSubmitTx": lambda s, r: {"tx": TXS[0][1]},
    "MsgAcquire": lambda s, r: {"point": point(3)} if s.name == "local-state-query" else {},
    "MsgReAcquire": lambda s, r: {"point": point(4)},
    "MsgFailure": lambda s, r: {"failure": r.choice((0, 1))},
    "MsgAcquired": lambda s, r: {"slot": r.randrange(1000)} if s.name == "local-tx-monitor" else {},
    "MsgHasTx": lambda s, r: {"txid": TXS[1][0]},
    "MsgReplyHasTx": lambda s, r: {"has": r.random() < 0.5},
}
"""The local protocols' fields a test wants to vary; every other field is the declaration's base instance."""


def local(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    if name == "MsgReplyNextTx":
        seen = session.rules.seen  # type: ignore[attr-defined]
        fresh = [tx for _, tx, _ in TXS if tx not in seen]
        return {"tx": rnd.choice(fresh) if fresh and rnd.random() < 0.7 else None}
    make = _LOCAL.get(name)
    return make(session, rnd) if make else {}


GENERATORS: dict[str, Callable[..., dict[str, Any] | None]] = {
    "handshake": handshake,
    "n2c-handshake": handshake,
    "chain-sync": chain_sync,
    "local-chain-sync": chain_sync,
    "block-fetch": block_fetch,
    "tx-submission2": tx_submission,
    "keep-alive": keep_alive,
    "peer-sharing": peer_sharing,
    "local-tx-submission": local,
    "local-state-query": local,
    "local-tx-monitor": local,
}


def legal_fields(session: Session, sender: str, name: str, rnd: random.Random) -> dict[str, Any] | None:
    return GENERATORS[session.name](session, sender, name, rnd)


def legal_message(session: Session, sender: str, name: str, rnd: random.Random) -> bytes | None:
    """The bytes of a legal `name` from `sender` now, or None when there is none."""
    fields = legal_fields(session, sender, name, rnd)
    return None if fields is None else encode(session.name, name, **fields)


def legal_moves(session: Session, rnd: random.Random) -> list[tuple[str, bytes]]:
    """Every (sender, message) that is legal now, one instance per message name."""
    return [(sender, encode(session.name, name, **fields)) for sender, name, fields in legal_choices(session, rnd)]


def legal_choices(session: Session, rnd: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (sender, message name, constrained fields) that is legal now; the other fields are free."""
    choices = []
    for sender in ("initiator", "responder"):
        for name in session.allowed(sender):
            fields = legal_fields(session, sender, name, rnd)
            if fields is not None:
                choices.append((sender, name, fields))
    return choices


def drawn(protocol: str, name: str, draw: Callable[[Any], Any], **fields: Any) -> bytes:
    """The bytes of `name` whose free fields are drawn from the declaration's strategy, `fields` kept."""
    declaration = wire.codec(protocol).messages[name]
    unknown = set(fields) - declared_names(protocol, name)
    if unknown:
        raise KeyError(f"{protocol}:{name} declares no field {sorted(unknown)}")
    free = [(field, kind) for field, kind in declaration.fields if field not in fields]
    base = {field: draw(kind.strategy()) for field, kind in free}
    return wire.encode(Message(protocol, name, {**base, **fields}))


def new_session(name: str, **options: Any) -> Session:
    from conformance.protocol import FakeClock

    return Session(name, clock=options.pop("clock", None) or FakeClock(), **options)


def reach(
    name: str,
    state: str,
    *,
    settled: bool = True,
    seed: int = 0,
    where: Callable[[Session], bool] | None = None,
    **options: Any,
) -> Session:
    """A session of `name` that has reached `state` by legal moves (breadth first, deterministic).

    With `settled`, no pipelined message is pending; `where` narrows the situations accepted. Other
    seeds are tried when the first one's random choices never lead there.
    """
    for attempt in range(seed, seed + 10):
        try:
            return _reach(name, state, settled, random.Random(attempt), where, options)
        except LookupError:
            continue
    raise LookupError(f"{name}: {state} not reachable by legal moves")


def _reach(
    name: str,
    state: str,
    settled: bool,
    rnd: random.Random,
    where: Callable[[Session], bool] | None,
    options: dict[str, Any],
) -> Session:
    start = new_session(name, **dict(options))
    queue: deque[Session] = deque([start])
    for _ in range(2000):
        if not queue:
            break
        session = queue.popleft()
        if (
            session.state == state
            and (not settled or not session.pending)
            and (where is None or where(session))
        ):
            return session
        for sender, message in legal_moves(session, rnd):
            fork = copy.deepcopy(session)
            fork.observe(sender, message)
            queue.append(fork)
    raise LookupError(f"{name}: {state} not reachable by legal moves")
