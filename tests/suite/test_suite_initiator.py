"""The initiator-role cases (the suite listens; the tested peer connects to it, once per case) against the
reference peer as a reconnecting initiator (`connect --reconnect`, no false alarm, at two time scales) and
against reference initiators wrong in exactly one way (each caught, by exactly the broken rule's id)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

import cbor2
import pytest

from conformance import wire
from conformance.peer import handshake as hs
from conformance.peer import keep_alive, peer_sharing, tx_submission
from conformance.peer.agent import Action, After, BehaviourFactory, Finish, Send
from conformance.peer.block_fetch import BlockFetchClient
from conformance.peer.chain_sync import ChainSyncClient
from conformance.peer.defaults import default_behaviours
from conformance.peer.mempool import Mempool, golden_transactions
from conformance.peer.node import MAINNET_MAGIC, PeerConfig
from conformance.peer.reconnect import reconnect
from conformance.suite.cases import serving
from conformance.wire import Message
from conformance.wire.mux import SDU

from .harness import SUITE_TIMEOUT, SuiteRun, free_port, run_suite

pytestmark = pytest.mark.timeout(300)
Behaviours = dict[tuple[str, str], BehaviourFactory]
HEADERS = "20"
"""Headers the reference initiator follows on each connection (its chain-sync and block-fetch clients)."""


def _listening(port: int, within: float = 60.0) -> None:
    """Wait until the suite listens on `port` (it starts listening when its first case starts)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"the suite never listened on {port}")


def _suite(report: Path, port: int, scale: float, args: Sequence[str]) -> tuple[threading.Thread, dict[str, SuiteRun]]:
    out: dict[str, SuiteRun] = {}
    command = ["--role", "initiator", "--listen", f"127.0.0.1:{port}", "--time-scale", str(scale), *args]
    thread = threading.Thread(target=lambda: out.update(run=run_suite(report, *command)), daemon=True)
    thread.start()
    return thread, out


def run_with_reference(report: Path, scale: float, *args: str) -> tuple[SuiteRun, dict[str, Any]]:
    """The suite against `python -m conformance connect --reconnect` (a process of its own)."""
    port = free_port()
    thread, out = _suite(report, port, scale, args)
    _listening(port)
    command = [
        sys.executable, "-m", "conformance", "connect", f"127.0.0.1:{port}", "--reconnect", "120",
        "--headers", HEADERS, "--txs", "21", "--peer-sharing", "1", "--time-scale", str(scale),
    ]  # fmt: skip
    initiator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        thread.join(SUITE_TIMEOUT)
        initiator.send_signal(signal.SIGTERM)  # it would stop 3 s after the suite stopped listening anyway
        stdout, stderr = initiator.communicate(timeout=30)
    finally:
        if initiator.poll() is None:
            initiator.kill()
            initiator.wait(10)
    summary = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    summary["returncode"], summary["stderr"] = initiator.returncode, stderr
    return out["run"], summary


Initiator = Callable[[int, asyncio.Event], Coroutine[Any, Any, Any]]


@contextlib.contextmanager
def initiator_on_thread(port: int, initiator: Initiator) -> Iterator[dict[str, Any]]:
    """`initiator(port, stop)` (a reconnecting initiator) on an event loop in a thread of this process."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    out: dict[str, Any] = {}

    def main() -> None:
        out["result"] = loop.run_until_complete(asyncio.wait_for(initiator(port, stop), SUITE_TIMEOUT))

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()


def run_with_faulty(report: Path, initiator: Initiator, *args: str, scale: float = 0.05) -> SuiteRun:
    port = free_port()
    thread, out = _suite(report, port, scale, args)
    _listening(port)
    with initiator_on_thread(port, initiator):
        thread.join(SUITE_TIMEOUT)
    return out["run"]


def faulty(*disabled: str, behaviours: Behaviours | None = None, **replace: BehaviourFactory) -> Initiator:
    """The reference initiator (at time scale 0.05, offering peer sharing) with some behaviours replaced
    and our own checks of the `disabled` rules off, so that it sends what a faulty initiator sends."""
    config = PeerConfig(
        initiator_only=True,
        time_scale=0.05,
        peer_sharing=1,
        behaviours=behaviours if behaviours is not None else initiator_behaviours(**replace),
        disabled_rules=frozenset(disabled),
    )
    return lambda port, stop: reconnect("127.0.0.1", port, config, seconds=SUITE_TIMEOUT, stop=stop)


def initiator_behaviours(**replace: BehaviourFactory) -> Behaviours:
    """The reference initiator's behaviours (as `connect --headers 20 --txs 21`); `replace` maps a
    protocol name (underscores for dashes) to the factory of its initiator side."""
    behaviours = dict(
        default_behaviours("node-to-node", "initiator", headers=int(HEADERS), depth=10, mempool=golden_mempool())
    )
    for name, factory in replace.items():
        behaviours[(name.replace("_", "-"), "initiator")] = factory
    return behaviours


def golden_mempool() -> Mempool:
    return Mempool(golden_transactions())


# -- the reference initiator: no false alarm ---------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.05, 1.0])
def test_the_reference_initiator_passes_every_initiator_case(tmp_path: Path, scale: float) -> None:
    run, initiator = run_with_reference(tmp_path / "report", scale, "-k", "initiator")
    assert run.returncode == 0, run.output
    outcomes = {(r["case"], r["requirement"]): r["outcome"] for r in run.records}
    assert run.records and set(outcomes.values()) <= {"passed", "informational"}, run.records
    not_run = {r["case"] for r in run.records if r["outcome"] == "informational"}
    expected = {"test_initiator_keep_alive.py::test_client_keeps_asking_within_97_s"} if scale == 1.0 else set()
    assert not_run == expected, run.records  # only what waits longer than 30 s at this scale
    assert initiator["returncode"] == 0 and initiator["violations"] == [], initiator  # and the suite broke nothing
    ran = {r["case"] for r in run.records} - not_run
    assert initiator["connections"] >= len(ran) and initiator["ended"] == "stopped", initiator


class LateFirstData:
    """A chain-sync client that sends nothing for `delay` seconds, then one MsgFindIntersect: the first
    data of its connection."""

    protocol, side = "chain-sync", "initiator"

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def start(self) -> Sequence[Action]:
        return [After(self.delay, "go")]

    def on_message(self, message: Message) -> Sequence[Action]:
        return []

    def on_timer(self, token: str) -> Sequence[Action]:
        return [Send(Message("chain-sync", "MsgFindIntersect", {"points": []}))]


class LateKeepAlive(keep_alive.KeepAliveClient):
    """Its first MsgKeepAlive `delay` seconds after the handshake, then one every `interval` seconds."""

    def __init__(self, delay: float, interval: float) -> None:
        super().__init__(interval)
        self.delay = delay

    def start(self) -> Sequence[Action]:
        return [After(self.delay, "keep-alive")]


def test_the_first_keepalive_is_timed_from_the_first_data_not_the_handshake(tmp_path: Path) -> None:
    """First data 40 s after the handshake, the first MsgKeepAlive 88 s after that (128 s after the
    handshake; scaled by 0.05): the node's keep-alive server starts at the first data (StartOnDemandAny),
    so this initiator keeps StClient's 97 s and the case passes it."""
    behaviours: Behaviours = {
        ("chain-sync", "initiator"): lambda n: LateFirstData(40 * n.time_scale),
        ("keep-alive", "initiator"): lambda n: LateKeepAlive(128 * n.time_scale, 10 * n.time_scale),
    }
    # not faulty: KA-TIME-01 is off only because our own initiator's clock runs from the handshake
    initiator = faulty("KA-TIME-01", behaviours=behaviours)
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "keeps_asking")
    assert run.returncode == 0, run.output
    assert {(r["case"].split("::")[-1], r["outcome"]) for r in run.records} == {
        ("test_client_keeps_asking_within_97_s", "passed")
    }, run.records


# -- initiators wrong in one way: each caught, by exactly the broken rule -------------------------------


def caught(run: SuiteRun, case: str, requirement: str) -> None:
    """The run failed on `requirement` in `case`, and on nothing else anywhere."""
    assert run.returncode == 1, run.output
    failed = {(r["case"].split("::")[-1], r["requirement"]) for r in run.records if r["outcome"] == "failed"}
    assert {(c.split("[")[0], r) for c, r in failed} == {(case, requirement)}, run.records


class SilentWhenNothingNew(tx_submission.TxSubmissionOutbound):
    """The fault new node teams ship first: a non-blocking MsgRequestTxIds is only answered when the
    mempool has something new, so with an empty mempool the request waits forever."""

    def on_message(self, message: Message) -> Sequence[Action]:
        fields = message.fields
        if message.name == "MsgRequestTxIds" and not fields.get("blocking"):
            if not self.mempool.after(self.last_ticket, 1):
                return []
        return super().on_message(message)


def test_an_initiator_silent_on_a_non_blocking_request_with_nothing_new_fails_tx_time_01(tmp_path: Path) -> None:
    mempool = golden_mempool()
    initiator = faulty(tx_submission2=lambda negotiated: SilentWhenNothingNew(mempool, negotiated))
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "non_blocking")
    caught(run, "test_non_blocking_request_is_answered_at_once_even_with_nothing_new", "TX-TIME-01")
    message = next(r["message"] for r in run.records if r["outcome"] == "failed")
    assert re.match(
        r"the initiator held agency in StTxIdsNonBlocking for (0\.[5-9]|[1-9]\.\d) s; the Haskell node closes the"
        r" connection after 10 s \(timeLimitsTxSubmission2, 0\.5 s at --time-scale 0\.05\): answer a non-blocking"
        r" MsgRequestTxIds at once, with an empty list when the mempool is empty",
        message,
    ), message


def test_an_initiator_that_announces_more_ids_than_asked_fails_tx_reply_02(tmp_path: Path) -> None:
    mempool = golden_mempool()
    initiator = faulty(
        "TX-REPLY-02", tx_submission2=lambda n: tx_submission.TxSubmissionOutbound(mempool, n, reply_too_many=True)
    )
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "offers_its_mempool")
    caught(run, "test_client_offers_its_mempool_within_the_rules", "TX-REPLY-02")


async def ignores_refusals(port: int, stop: asyncio.Event) -> int:
    """An initiator that proposes, reads whatever comes and keeps the connection open (it never closes
    after MsgRefuse); it reconnects once the suite closes it, until `stop`. Returns the connections made."""
    table = hs.version_table(hs.N2N, hs.N2N_DEFAULT_VERSIONS, magic=MAINNET_MAGIC, initiator_only=True)
    proposal = SDU(0, 0, 0, wire.encode(hs.proposal(hs.N2N, table))).encode()
    made = 0
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        made += 1
        writer.write(proposal)
        with contextlib.suppress(OSError):
            while await reader.read(1 << 16):
                pass
        writer.close()
    return made


def test_an_initiator_that_stays_after_a_refusal_fails_hs_agency_01(tmp_path: Path) -> None:
    run = run_with_faulty(tmp_path / "report", ignores_refusals, "-k", "refusal_ends")
    assert len({r["case"] for r in run.records}) == 2, run.records  # both refusals
    caught(run, "test_refusal_ends_the_connection", "HS-AGENCY-01")


class DoubleKeepAlive(keep_alive.KeepAliveClient):
    """Sends its first MsgKeepAlive twice, the second while the server has agency."""

    def start(self) -> Sequence[Action]:
        return [*super().start(), *super().start()]


def test_an_initiator_that_asks_twice_without_an_answer_fails_ka_agency_01(tmp_path: Path) -> None:
    initiator = faulty("KA-AGENCY-01", keep_alive=lambda negotiated: DoubleKeepAlive(10 * negotiated.time_scale))
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "echo_of_its_cookie")
    caught(run, "test_client_takes_the_echo_of_its_cookie", "KA-AGENCY-01")


class EarlyDone(ChainSyncClient):
    """Sends MsgDone as soon as it is told to wait at the tip, with that request and its other pipelined
    ones still outstanding."""

    def on_message(self, message: Message) -> Sequence[Action]:
        if message.name == "MsgAwaitReply" and not self.finished:
            self.finished = True
            return [Send(Message("chain-sync", "MsgDone", {})), Finish("early")]
        return super().on_message(message)


def test_an_initiator_that_ends_chain_sync_with_requests_outstanding_fails_cs_pipe_01(tmp_path: Path) -> None:
    behaviours = initiator_behaviours()
    follower = behaviours[("chain-sync", "initiator")]  # shares its queue of followed points with block-fetch
    behaviours[("chain-sync", "initiator")] = lambda n: EarlyDone(
        n, headers=int(HEADERS), depth=10, followed=follower(n).followed
    )
    initiator = faulty("CS-PIPE-01", behaviours=behaviours)
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "waits_at_the_tip")
    caught(run, "test_client_waits_at_the_tip_for_a_new_block", "CS-PIPE-01")


class HugeAmount(peer_sharing.PeerSharingClient):
    """Asks for 300 peers: an amount that is not a word8 (sent as raw bytes; the wire layer refuses it)."""

    def start(self) -> Sequence[Action]:
        raw = cbor2.dumps([0, 300])
        return [Send(Message("peer-sharing", "MsgShareRequest", {"amount": 300}, raw))]


def test_an_initiator_asking_for_300_peers_fails_ps_amount_02(tmp_path: Path) -> None:
    initiator = faulty("PS-AMOUNT-02", peer_sharing=lambda negotiated: HugeAmount())
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "word8_amount")
    caught(run, "test_client_asks_for_a_word8_amount", "PS-AMOUNT-02")


class BackwardRange(BlockFetchClient):
    """Requests its first range upper point first (the range is empty: a SHOULD, BF-RANGE-01)."""

    def _request(self) -> list[Action]:
        actions = super()._request()
        for index, action in enumerate(actions):
            if isinstance(action, Send) and action.message.name == "MsgRequestRange" and self.blocks == 0:
                fields = action.message.fields
                swapped = {"from_point": fields["to_point"], "to_point": fields["from_point"]}
                actions[index] = Send(Message("block-fetch", "MsgRequestRange", swapped))
        return actions


def test_an_initiator_requesting_a_backward_range_is_non_strict_on_bf_range_01(tmp_path: Path) -> None:
    behaviours = initiator_behaviours()
    fetcher = behaviours[("block-fetch", "initiator")]  # takes the points its chain-sync client followed
    behaviours[("block-fetch", "initiator")] = lambda n: BackwardRange(fetcher(n).followed, n)
    initiator = faulty("BF-RANGE-01", behaviours=behaviours)
    run = run_with_faulty(tmp_path / "report", initiator, "-k", "well_formed_ranges")
    assert run.returncode == 0, run.output  # a SHOULD: graded non-strict, not failed
    graded = {(r["requirement"], r["outcome"]) for r in run.records if r["outcome"] != "passed"}
    assert graded == {("BF-RANGE-01", "non-strict")}, run.records


# -- the helpers the initiator cases watch with ------------------------------------------------------------


def test_until_and_settle_are_bounded_and_see_progress() -> None:
    async def main() -> None:
        ticks = iter(range(1000))
        value = [0]
        assert await serving.until(lambda: True, 0) is True
        assert await serving.until(lambda: next(ticks) > 5, 5.0) is True
        assert await serving.until(lambda: False, 0.05) is False
        moving = asyncio.get_running_loop().call_later(0.05, lambda: value.__setitem__(0, 1))
        assert await serving.settle(lambda: value[0], quiet=0.1, within=2.0) is True and value[0] == 1
        moving.cancel()
        counter = iter(range(10**6))
        assert await serving.settle(lambda: next(counter), quiet=0.1, within=0.2) is False  # never quiet

    asyncio.run(asyncio.wait_for(main(), 10))


def test_node_side_serves_every_responder_but_the_scripted_ones() -> None:
    everything = serving.node_side()
    assert {protocol for protocol, side in everything} == set(serving.MINI_PROTOCOLS)
    assert {side for _, side in everything} == {"responder"}
    assert {p for p, _ in serving.node_side(without=("keep-alive", "tx-submission2"))} == set(
        serving.MINI_PROTOCOLS
    ) - {"keep-alive", "tx-submission2"}
