"""The catalogue and the code name the same rules, and every rule has a test that breaks it.

Generic rules (agency, message, codec, byte and time limits, pipelining, the tables' illegal moves) are
broken for every table that carries them; every other rule has a hand-written breaker in `BREAKERS`.
Every breaker goes through bytes (an autouse fixture refuses anything else): legal messages are
`wire.encode` output, and bytes the wire cannot produce are its own item for a legal message with one
element replaced (`mutated`), so each breaker sees the id that real bytes bring out.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance import wire
from conformance.protocol import (
    TABLES,
    AgencyViolation,
    ByteLimitExceeded,
    DecodeViolation,
    FakeClock,
    IngressQueueOverrun,
    MuxChecker,
    PipeliningDepthExceeded,
    PipeliningViolation,
    Session,
    TimeLimitExceeded,
    UnexpectedMessage,
    Violation,
    catalogue,
)
from conformance.wire import cbor
from conformance.wire.handshake import N2C_VERSION_BIT, n2n_version_data
from conformance.wire.schema import RawCbor

from .moves import BASE, CHAIN, MAINNET, TXS, encode, legal_message, point, reach, tip

CATALOGUE = catalogue.load()
ID_IN_SOURCE = re.compile(r"[\"']([A-Z]{2,4}(?:-[A-Z0-9]+)+-\d{2})[\"']")


def code_requirements(table_name: str | None = None) -> set[str]:
    """Ids the code can raise: for one table, or everywhere (tables, rule checkers, mux)."""
    tables = TABLES.values() if table_name is None else [TABLES[table_name]]
    ids: set[str] = set()
    for table in tables:
        ids.update(table.table_requirements())
        ids.update(table.rules.requirements if table.rules else ())
    if table_name is None:
        ids.update(MuxChecker.requirements)
    return ids


# -- catalogue <-> code -----------------------------------------------------------------------------


def test_every_rule_in_the_code_has_a_catalogue_entry() -> None:
    assert code_requirements() - set(CATALOGUE) == set()


def test_every_catalogue_entry_is_checked_by_the_code() -> None:
    assert set(CATALOGUE) - code_requirements() == set()


def test_every_id_written_in_the_source_is_catalogued() -> None:
    source = Path(catalogue.__file__).parent
    written = {m for path in source.glob("*.py") for m in ID_IN_SOURCE.findall(path.read_text())}
    assert written - set(CATALOGUE) == set()


@pytest.mark.parametrize("name", [*TABLES, "mux"])
def test_catalogue_protocols_match_what_each_checker_raises(name: str) -> None:
    listed = {entry.id for entry in catalogue.for_protocol(name)}
    raised = set(MuxChecker.requirements) if name == "mux" else code_requirements(name)
    assert listed == raised


def test_catalogue_names_only_known_protocols_and_valid_severities() -> None:
    for entry in CATALOGUE.values():
        assert set(entry.protocols) <= {*TABLES, "mux"}, entry.id
        assert entry.severity in catalogue.SEVERITIES


@pytest.mark.parametrize(
    "text, problem",
    [
        ("requirements: [{id: bad}]", "bad requirement id"),
        (
            "requirements: [{id: XX-A-01, statement: s, severity: MAY, protocols: [x], sources: {spec: s}}]",
            "severity",
        ),
        ("nothing: 1", "'requirements' list"),
        (
            "requirements: [{id: XX-A-01, statement: s, severity: MUST, protocols: [x], sources: {spec: s}},"
            " {id: XX-A-01, statement: s, severity: MUST, protocols: [x], sources: {spec: s}}]",
            "listed twice",
        ),
    ],
)
def test_a_malformed_catalogue_is_refused(text: str, problem: str) -> None:
    with pytest.raises(catalogue.CatalogueError, match=problem):
        catalogue.parse(text)


# -- generic rules, broken for every table ----------------------------------------------------------


@pytest.fixture(autouse=True)
def only_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every message a test of this module observes is bytes, decoded by the wire layer in the session."""
    observe = Session.observe

    def observe_bytes(self: Session, sender: str, message: Any) -> str:
        assert isinstance(message, bytes), f"a test observed {message!r}, not bytes"
        return observe(self, sender, message)

    monkeypatch.setattr(Session, "observe", observe_bytes)


def mutated(protocol: str, name: str, at: tuple[int, ...], value: Any, **fields: Any) -> bytes:
    """Bytes the wire cannot encode: the wire's own item for a legal `name`, with the element at index
    path `at` replaced by `value` (a plain list is definite-length)."""
    declaration = wire.codec(protocol).messages[name]
    item = declaration.to_item({**BASE[(protocol, name)], **fields}, "$")
    parent = item
    for index in at[:-1]:
        parent = parent[index]
    parent[at[-1]] = value
    return cbor.encode_item(item)


def _msg(session: Session, name: str, **fields: Any) -> bytes:
    return encode(session.name, name, **fields)


def _legal(session: Session, sender: str, rnd: random.Random | None = None) -> bytes:
    rnd = rnd or random.Random(1)
    for name in session.allowed(sender):
        message = legal_message(session, sender, name, rnd)
        if message is not None:
            return message
    raise LookupError(f"no legal message for {sender} in {session.state}")


def _terminal(name: str) -> str:
    return next(state.name for state in TABLES[name].states if state.terminal)


def break_agency(name: str) -> None:
    session = reach(name, _terminal(name))
    session.observe("initiator", _msg(session, TABLES[name].messages[0]))


def break_msg(name: str) -> None:
    """The side with agency sends a message of the other side that no table entry names more exactly."""
    table = TABLES[name]
    for state in table.states:
        if state.terminal:
            continue
        for message in table.messages:
            if table.sender_of(message) != state.agency and (state.name, message) not in table.illegal:
                session = reach(name, state.name)
                try:  # bytes that share a tag with a message of this state decode as that one
                    session.observe(state.agency, _msg(session, message))
                except UnexpectedMessage as violation:
                    if violation.requirement == table.requirement("MSG"):
                        raise
    raise LookupError(f"{name}: no misplaced message brings out {table.requirement('MSG')}")


def break_codec(name: str) -> None:
    session = Session(name, clock=FakeClock())
    session.observe(session.agency, b"\xff")  # a lone break code: no CBOR item at all


def break_bytes(name: str) -> None:
    state = next(s for s in TABLES[name].states if s.byte_limit.bounded and not s.terminal)
    session = reach(name, state.name)
    session.observe(state.agency, b"\x00" * (int(state.byte_limit.value or 0) + 1))


def break_time(name: str) -> None:
    state = next(s for s in TABLES[name].states if s.time_limit.bounded)
    session = reach(name, state.name)
    message = _legal(session, state.agency)
    session.clock.advance((state.time_limit.value or 0) + 1)  # type: ignore[attr-defined]
    session.observe(state.agency, message)


def _busy(name: str) -> Session:
    pipelining = TABLES[name].pipelining
    assert pipelining is not None
    return reach(name, sorted(pipelining.busy_states)[0])


def break_pipe(name: str) -> None:
    table = TABLES[name]
    pipelining = table.pipelining
    assert pipelining is not None
    session = _busy(name)
    other = next(
        m for m in table.messages if table.sender_of(m) == pipelining.side and m not in pipelining.messages
    )
    session.observe(pipelining.side, _msg(session, other))


def break_pipe_depth(name: str) -> None:
    pipelining = TABLES[name].pipelining
    assert pipelining is not None and pipelining.max_depth is not None
    session = _busy(name)
    session.strict = True
    for _ in range(pipelining.max_depth):
        session.observe(pipelining.side, _legal(session, pipelining.side))


GENERIC: dict[str, tuple[Callable[[str], None], type[Violation]]] = {
    "AGENCY": (break_agency, AgencyViolation),
    "MSG": (break_msg, UnexpectedMessage),
    "CODEC": (break_codec, DecodeViolation),
    "BYTES": (break_bytes, ByteLimitExceeded),
    "TIME": (break_time, TimeLimitExceeded),
    "PIPE": (break_pipe, PipeliningViolation),
}


def _generic_cases() -> list[tuple[str, str]]:
    cases = []
    for name, table in TABLES.items():
        for kind in GENERIC:
            if table.requirement(kind) in table.table_requirements():
                cases.append((name, kind))
    return cases


@pytest.mark.parametrize("name, kind", _generic_cases())
def test_breaking_a_table_rule_names_it(name: str, kind: str) -> None:
    breaker, cls = GENERIC[kind]
    with pytest.raises(cls) as caught:
        breaker(name)
    violation = caught.value
    assert violation.requirement == TABLES[name].requirement(kind)
    assert violation.protocol == name and violation.sender in ("initiator", "responder")


@pytest.mark.parametrize("name", [n for n, t in TABLES.items() if t.pipelining and t.pipelining.max_depth])
def test_pipelining_deeper_than_the_limit_names_its_rule(name: str) -> None:
    with pytest.raises(PipeliningDepthExceeded) as caught:
        break_pipe_depth(name)
    assert caught.value.requirement == f"{TABLES[name].prefix}-PIPE-02"
    assert caught.value.observed == caught.value.limit + 1


def _illegal_cases() -> list[Any]:
    """Every (state, message) with a rule of its own, whoever has agency there: bytes sent out of turn are
    decoded to name the message, so the specific rule is reported, not <P>-AGENCY-01."""
    return [pytest.param(name, state, message) for name, table in TABLES.items() for state, message in table.illegal]


@pytest.mark.parametrize("name, state, message", _illegal_cases())
def test_an_illegal_move_with_its_own_rule_names_it(name: str, state: str, message: str) -> None:
    table = TABLES[name]
    session = reach(name, state)
    with pytest.raises((AgencyViolation, UnexpectedMessage)) as caught:
        session.observe(table.sender_of(message), _msg(session, message))
    assert caught.value.requirement == table.illegal[(state, message)]
    assert caught.value.state == state


# -- every other rule: one breaker each -------------------------------------------------------------

N2N = {"network_magic": MAINNET, "initiator_only": False, "peer_sharing": 1, "query": False}


def n2n(**changes: Any) -> dict[str, Any]:
    return {**N2N, **changes}


Move = tuple[str, str, dict[str, Any]] | tuple[str, bytes]


def run(name: str, *moves: Move, strict: bool = False, **options: Any) -> Session:
    """A session of `name` that observes each move as bytes: (sender, message, fields) is encoded by
    the wire, (sender, bytes) is observed as it is."""
    session = Session(name, clock=FakeClock(), strict=strict, **options)
    for move in moves:
        if len(move) == 2:
            session.observe(move[0], move[1])
        else:
            sender, message, fields = move
            session.observe(sender, encode(name, message, **fields))
    return session


INI, RES = "initiator", "responder"
PROPOSE = (INI, "MsgProposeVersions", {"versions": {14: n2n(), 15: n2n()}})


def hs(*moves: Move, **options: Any) -> Session:
    return run("handshake", *moves, **options)


def accept(version: int, **data: Any) -> Move:
    declared = n2n_version_data(version)
    assert declared is not None
    agreed = {**n2n(peras_support=False), **data}
    return (RES, "MsgAcceptVersion", {"version": version, "version_data": {f: agreed[f] for f, _ in declared.fields}})


def refuse(**reason: Any) -> Move:
    return (RES, "MsgRefuse", {"reason": reason})


def bad(name: str, protocol: str, at: tuple[int, ...], value: Any, sender: str, **fields: Any) -> Move:
    return (sender, mutated(protocol, name, at, value, **fields))


def cs(*moves: Move, name: str = "chain-sync", strict: bool = False) -> Session:
    return run(name, *moves, strict=strict)


NEXT = (INI, "MsgRequestNext", {})


def forward(number: int, era: int = 6) -> Move:
    return (RES, "MsgRollForward", {"header": {"era": era, "cbor": b"\x80"}, "tip": tip(number)})


def bf(*moves: Move, strict: bool = False) -> Session:
    return run("block-fetch", *moves, strict=strict)


def request_range(low: int, high: int) -> Move:
    return (INI, "MsgRequestRange", {"from_point": CHAIN[low][0], "to_point": CHAIN[high][0]})


def block(index: int) -> Move:
    return (RES, "MsgBlock", {"block": CHAIN[index][1]})


START = (RES, "MsgStartBatch", {})


def request_ids(blocking: bool, ack: int, req: int) -> Move:
    return (RES, "MsgRequestTxIds", {"blocking": blocking, "ack": ack, "req": req})


def reply_ids(*indexes: int, sizes: dict[int, int] | None = None) -> Move:
    sizes = sizes or {}
    ids = [{"txid": TXS[i][0], "size": sizes.get(i, TXS[i][2])} for i in indexes]
    return (INI, "MsgReplyTxIds", {"txids": ids})


def request_txs(*indexes: int) -> Move:
    return (RES, "MsgRequestTxs", {"txids": [TXS[i][0] for i in indexes]})


def reply_txs(*indexes: int) -> Move:
    return (INI, "MsgReplyTxs", {"txs": [TXS[i][1] for i in indexes]})


INIT = (INI, "MsgInit", {})
THREE_IDS = (INIT, request_ids(True, 0, 3), reply_ids(0, 1, 2))


def tx(*moves: Move, strict: bool = False) -> Session:
    return run("tx-submission2", *moves, strict=strict)


def ltm(*moves: Move, **options: Any) -> Session:
    acquire = ((INI, "MsgAcquire", {}), (RES, "MsgAcquired", {"slot": 7}))
    return run("local-tx-monitor", *acquire, *moves, **options)


def raw(value: Any) -> RawCbor:
    """Version data the declaration does not describe, carried as the raw CBOR of `value`."""
    return RawCbor(cbor.encode_item(value))


def sdu(protocol: int, mode: int, size: int = 4) -> SimpleNamespace:
    """An SDU whose payload is one whole CBOR item (a byte string) of exactly `size` bytes."""
    return SimpleNamespace(timestamp=0, mode=mode, protocol=protocol, payload=_one_item(size))


def _one_item(size: int) -> bytes:
    if size <= 1:
        return b"\x00" * size
    if size <= 24:
        return bytes((0x40 + size - 1,)) + bytes(size - 1)
    if size <= 257:
        return bytes((0x58, size - 2)) + bytes(size - 2)
    if size <= 65_538:
        return b"\x59" + (size - 3).to_bytes(2, "big") + bytes(size - 3)
    return b"\x5a" + (size - 5).to_bytes(4, "big") + bytes(size - 5)


DUPLEX = {"network_magic": MAINNET, "initiator_only": False, "peer_sharing": 0, "query": False}

BREAKERS: dict[str, Callable[..., object]] = {
    # handshake
    "HS-PROPOSE-01": lambda: hs((INI, "MsgProposeVersions", {"versions": {15: n2n(), 14: n2n()}})),
    "HS-VDATA-01": lambda: hs((INI, "MsgProposeVersions", {"versions": {14: raw([MAINNET])}})),
    "HS-ACCEPT-01": lambda: hs(PROPOSE, accept(16)),
    "HS-ACCEPT-02": lambda: hs(PROPOSE, accept(14), responder_versions={14: n2n(), 15: n2n()}),
    "HS-NEG-01": lambda: hs(PROPOSE, accept(15, network_magic=1)),
    "HS-NEG-02": lambda: hs(
        (INI, "MsgProposeVersions", {"versions": {15: n2n(initiator_only=True)}}),
        accept(15, initiator_only=False),
    ),
    "HS-NEG-03": lambda: hs(
        (INI, "MsgProposeVersions", {"versions": {15: n2n(peer_sharing=0)}}), accept(15, peer_sharing=1)
    ),
    "HS-NEG-04": lambda: hs((INI, "MsgProposeVersions", {"versions": {15: n2n(query=True)}}), accept(15)),
    "HS-NEG-05": lambda: hs(
        (INI, "MsgProposeVersions", {"versions": {16: n2n(peras_support=False)}}),
        accept(16, peras_support=True),
    ),
    "HS-REFUSE-01": lambda: hs(PROPOSE, refuse(kind="VersionMismatch", versions=[15, 16])),
    "HS-REFUSE-02": lambda: hs(PROPOSE, refuse(kind="HandshakeDecodeError", version=13, message="bad")),
    "HS-REFUSE-03": lambda: hs(
        PROPOSE,
        bad("MsgRefuse", "handshake", (1, 2), 5, RES, reason={"kind": "Refused", "version": 15, "message": "x"}),
    ),
    "HS-REFUSE-04": lambda: hs(PROPOSE, bad("MsgRefuse", "handshake", (1,), [7], RES)),
    "HS-QUERY-01": lambda: hs(
        (INI, "MsgProposeVersions", {"versions": {15: n2n(query=True)}}),
        (RES, "MsgQueryReply", {"versions": {15: n2n(), 14: n2n()}}),
    ),
    "HS-QUERY-02": lambda strict=True: hs(
        PROPOSE, (RES, "MsgQueryReply", {"versions": {14: n2n()}}), strict=strict
    ),
    "HS-N2C-01": lambda strict=True: run(
        "n2c-handshake", (INI, "MsgProposeVersions", {"versions": {16: raw([1, False])}}), strict=strict
    ),
    # chain-sync
    "CS-INTERSECT-01": lambda: cs(
        (INI, "MsgFindIntersect", {"points": [point(1)]}),
        (RES, "MsgIntersectFound", {"point": point(2), "tip": tip(5)}),
    ),
    "CS-INTERSECT-02": lambda strict=True: cs(
        (INI, "MsgFindIntersect", {"points": [point(5)]}),
        (RES, "MsgIntersectFound", {"point": point(5), "tip": tip(9)}),
        NEXT,
        forward(9),
        strict=strict,
    ),
    "CS-TIP-01": lambda strict=True: cs(NEXT, forward(5), NEXT, forward(3), strict=strict),
    "CS-ROLLBACK-01": lambda: cs(
        NEXT, (RES, "MsgRollBackward", {"point": point(100), "tip": tip(4, slot=50)})
    ),
    "CS-HEADER-01": lambda: cs(
        NEXT, bad("MsgRollForward", "chain-sync", (1, 0), 9, RES, header={"era": 6, "cbor": b"\x80"}, tip=tip(1))
    ),
    "CS-HEADER-02": lambda: cs(NEXT, forward(1, era=6), NEXT, forward(2, era=5)),
    "CS-BLOCK-01": lambda: cs(
        NEXT, (RES, "MsgRollForward", {"block": b"\x00", "tip": tip(1)}), name="local-chain-sync"
    ),
    # block-fetch
    "BF-RANGE-01": lambda strict=True: bf(request_range(3, 1), strict=strict),
    "BF-RANGE-02": lambda: bf(request_range(1, 2), START, block(4)),
    "BF-RANGE-03": lambda: bf(request_range(1, 2), START, block(1), (RES, "MsgBatchDone", {})),
    "BF-ORDER-01": lambda: bf(request_range(1, 3), START, block(1), block(3)),
    # tx-submission2
    "TX-ACK-01": lambda: tx(*THREE_IDS, request_ids(False, 4, 0)),
    "TX-WINDOW-01": lambda: tx(*THREE_IDS, request_ids(False, 0, 8)),
    "TX-REQ-01": lambda: tx(INIT, request_ids(True, 0, 0)),
    "TX-REQ-02": lambda: tx(*THREE_IDS, request_ids(False, 0, 0)),
    "TX-BLOCK-01": lambda: tx(*THREE_IDS, request_ids(True, 1, 1)),
    "TX-BLOCK-02": lambda: tx(*THREE_IDS, request_ids(False, 3, 1)),
    "TX-BLOCK-03": lambda: tx(*THREE_IDS, request_ids(False, 0, 1), request_ids(True, 0, 1)),
    "TX-REPLY-01": lambda: tx(INIT, request_ids(True, 0, 3), (INI, "MsgReplyTxIds", {"txids": []})),
    "TX-REPLY-02": lambda: tx(INIT, request_ids(True, 0, 1), reply_ids(0, 1)),
    "TX-REQTX-01": lambda: tx(*THREE_IDS, request_txs(7)),
    "TX-REQTX-02": lambda strict=True: tx(
        *THREE_IDS, request_txs(0), reply_txs(0), request_txs(0), strict=strict
    ),
    "TX-REPLYTX-01": lambda: tx(*THREE_IDS, request_txs(0), reply_txs(1)),
    "TX-SIZE-01": lambda strict=True: tx(
        INIT,
        request_ids(True, 0, 1),
        reply_ids(0, sizes={0: 500}),
        request_txs(0),
        reply_txs(0),
        strict=strict,
    ),
    "TX-LIST-01": lambda: tx(
        INIT,
        request_ids(True, 0, 1),
        bad("MsgReplyTxIds", "tx-submission2", (1,), [[cbor.decode_item(TXS[0][0])[0], 9]], INI),
    ),
    # keep-alive
    "KA-COOKIE-01": lambda: run(
        "keep-alive", (INI, "MsgKeepAlive", {"cookie": 5}), (RES, "MsgKeepAliveResponse", {"cookie": 6})
    ),
    "KA-COOKIE-02": lambda: run("keep-alive", bad("MsgKeepAlive", "keep-alive", (1,), 70_000, INI)),
    # peer-sharing
    "PS-NEG-01": lambda: run(
        "peer-sharing", (INI, "MsgShareRequest", {"amount": 1}), version_data={**DUPLEX, "peer_sharing": 0}
    ),
    "PS-AMOUNT-01": lambda: run(
        "peer-sharing",
        (INI, "MsgShareRequest", {"amount": 1}),
        (RES, "MsgSharePeers", {"peers": [{"ip": "1.2.3.4", "port": 1}, {"ip": "::1", "port": 2}]}),
    ),
    "PS-AMOUNT-02": lambda: run("peer-sharing", bad("MsgShareRequest", "peer-sharing", (1,), 300, INI)),
    "PS-ADDR-01": lambda: run(
        "peer-sharing",
        (INI, "MsgShareRequest", {"amount": 1}),
        bad("MsgSharePeers", "peer-sharing", (1,), [[0, 1]], RES),
    ),
    # local-state-query
    "LSQ-VERSION-01": lambda: run(
        "local-state-query", (INI, "MsgAcquireImmutableTip", {}), version=N2C_VERSION_BIT | 15
    ),
    "LSQ-FAILURE-01": lambda: run(
        "local-state-query",
        (INI, "MsgAcquire", {"point": point(1)}),
        bad("MsgFailure", "local-state-query", (1,), 2, RES),
    ),
    # local-tx-monitor
    "LTM-VERSION-01": lambda: ltm((INI, "MsgGetMeasures", {}), version=N2C_VERSION_BIT | 19),
    "LTM-SIZES-01": lambda: ltm(
        (INI, "MsgGetSizes", {}), bad("MsgReplyGetSizes", "local-tx-monitor", (1, 0), -1, RES)
    ),
    "LTM-ACQUIRED-01": lambda: run(
        "local-tx-monitor", (INI, "MsgAcquire", {}), bad("MsgAcquired", "local-tx-monitor", (1,), "x", RES)
    ),
    "LTM-NEXT-01": lambda: ltm(
        (INI, "MsgNextTx", {}),
        (RES, "MsgReplyNextTx", {"tx": TXS[0][1]}),
        (INI, "MsgNextTx", {}),
        (RES, "MsgReplyNextTx", {"tx": TXS[0][1]}),
    ),
    # mux
    "MUX-MODE-01": lambda: MuxChecker().observe(sdu(0, 1), "initiator"),
    "MUX-PROTO-01": lambda: MuxChecker().observe(sdu(2, 0), "initiator"),
    "MUX-SDU-01": lambda: MuxChecker().observe(sdu(0, 0, size=0), "initiator"),
    "MUX-SDU-02": lambda: MuxChecker().observe(sdu(0, 0, size=65_536), "initiator"),
    "MUX-SDU-03": lambda strict=True: _large_sdu(strict),
    "MUX-INGRESS-01": lambda: _overrun(),
    "MUX-HS-01": lambda strict=True: _split_handshake(strict),
    "MUX-IDLE-01": lambda strict=True: _idle(strict),
}


def _split_handshake(strict: bool) -> MuxChecker:
    """The first half of a MsgProposeVersions in one SDU (the rest would follow in another)."""
    mux = MuxChecker(strict=strict)
    propose = bytes.fromhex("8200a20e841a2d964a09f500f40f841a2d964a09f500f4")
    mux.observe(SimpleNamespace(timestamp=0, mode=0, protocol=0, payload=propose[:10]), "initiator")
    return mux


def _idle(strict: bool) -> MuxChecker:
    """No mini-protocol for 5.5 s after the handshake, past the node's 5 s protocol idle timeout."""
    mux = MuxChecker(strict=strict)
    mux.idle(5.5, 5.0, since="the handshake")
    return mux


def _large_sdu(strict: bool) -> MuxChecker:
    mux = MuxChecker(strict=strict)
    mux.observe(sdu(0, 0, size=13_000), "initiator")
    return mux


def _overrun() -> None:
    mux = MuxChecker(version_data=DUPLEX)
    mux.observe(sdu(8, 0, 1000), "initiator")
    mux.observe(sdu(8, 0, 1000), "initiator")


def test_every_catalogue_entry_has_a_breaking_test() -> None:
    generic = {TABLES[name].requirement(kind) for name, kind in _generic_cases()}
    generic |= {f"{t.prefix}-PIPE-02" for t in TABLES.values() if t.pipelining and t.pipelining.max_depth}
    generic |= {rid for t in TABLES.values() for rid in t.illegal.values()}
    assert set(CATALOGUE) - generic - set(BREAKERS) == set()
    assert set(BREAKERS) <= set(CATALOGUE)


@pytest.mark.parametrize("requirement", sorted(BREAKERS))
def test_breaking_a_rule_names_it(requirement: str) -> None:
    with pytest.raises(Violation) as caught:
        BREAKERS[requirement]()
    assert caught.value.requirement == requirement
    assert caught.value.severity == CATALOGUE[requirement].severity
    assert requirement in str(caught.value)


def test_peer_sharing_on_a_connection_without_it_is_refused_by_the_mux() -> None:
    with pytest.raises(Violation) as caught:
        MuxChecker(version_data=DUPLEX).observe(sdu(10, 0), "initiator")
    assert caught.value.requirement == "PS-NEG-01"


def test_an_ingress_overrun_carries_limit_and_observed_bytes() -> None:
    with pytest.raises(IngressQueueOverrun) as caught:
        _overrun()
    assert (caught.value.limit, caught.value.observed) == (1408, 2000)


@pytest.mark.parametrize("requirement", [r for r in sorted(BREAKERS) if CATALOGUE[r].severity != "MUST"])
def test_a_should_rule_is_a_warning_unless_strict(requirement: str) -> None:
    checker = BREAKERS[requirement](strict=False)  # type: ignore[call-arg]
    assert isinstance(checker, (Session, MuxChecker))
    assert [w.requirement for w in checker.warnings] == [requirement]
    assert checker.warnings[0].severity == CATALOGUE[requirement].severity


def test_a_whole_handshake_message_in_one_sdu_is_fine_and_two_are_not() -> None:
    propose = bytes.fromhex("8200a20e841a2d964a09f500f40f841a2d964a09f500f4")
    mux = MuxChecker()
    mux.observe(SimpleNamespace(timestamp=0, mode=0, protocol=0, payload=propose), "initiator")
    assert mux.warnings == []
    mux.observe(SimpleNamespace(timestamp=0, mode=0, protocol=0, payload=propose + propose), "initiator")
    assert [w.requirement for w in mux.warnings] == ["MUX-HS-01"]


def test_the_idle_rule_is_a_should_kept_as_a_warning_unless_strict() -> None:
    checker = MuxChecker()
    checker.idle(4.9, 5.0, since="the handshake")
    assert checker.warnings == []
    checker.idle(5.1, 5.0, since="every mini-protocol finished")
    assert [w.requirement for w in checker.warnings] == ["MUX-IDLE-01"]
    assert checker.warnings[0].severity == "SHOULD" and "every mini-protocol finished" in str(checker.warnings[0])
