"""The `serve` and `connect` subcommands of `ouroboros-conformance` (exit codes: 0 success, 1 the remote
broke a rule or refused us, 2 usage error).

`serve` prints one JSON line `{"listening": {"host": ..., "port": ...}}` (or `{"socket": ...}`) once it
accepts connections, then serves until SIGTERM/SIGINT or `--lifetime`. `connect` runs the handshake and
the default behaviours until every initiator behaviour is done (keep-alive: one answered round trip),
then prints a JSON summary and closes. `connect --reconnect SECONDS` plays the tested initiator of an
initiator-role suite run instead (conformance/peer/reconnect.py): it reconnects whenever the remote closes,
until SECONDS pass, the address refuses connections for 3 s in a row or SIGTERM/SIGINT comes, then prints
one JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from conformance import faults

from .chain import ChainStore, load_chain
from .connection import Connection
from .defaults import DEFAULT_CHAIN_LENGTH, default_behaviours
from .handshake import N2C, N2N
from .keep_alive import KeepAliveClient
from .mempool import Mempool, golden_ledger_transactions, golden_transactions
from .node import MAINNET_MAGIC, PeerConfig, Server, connect, connect_unix, serve, serve_unix
from .progress import Progress
from .reconnect import reconnect

POLL = 0.05


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a positive number, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a count of 0 or more, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"a count of 1 or more, not {text}")
    return value


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"HOST:PORT with a port in 1..65535, not {text!r}")
    return host.strip("[]"), int(port)


def add_commands(commands: Any) -> None:
    """Add `serve` and `connect` to the CLI's subparsers."""
    s = commands.add_parser("serve", help="run a node-like responder (N2N over TCP, N2C over --socket)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=3001, help="0 picks a free port")
    s.add_argument("--socket", type=Path, default=None, help="serve node-to-client on this Unix socket instead")
    s.add_argument("--magic", type=int, default=MAINNET_MAGIC)
    s.add_argument("--max-conns", type=int, default=None, help="connections open at once; more are closed")
    s.add_argument("--lifetime", type=_positive, default=None, help="seconds to serve, then exit")
    s.add_argument("--transcript", type=Path, default=None, help="a folder for JSON-lines and pcap transcripts")
    chain = s.add_mutually_exclusive_group()
    chain.add_argument("--chain", type=Path, default=None, help="serve the blocks of this chain file (docs/chain.md)")
    chain.add_argument(
        "--chain-length", type=_count, default=DEFAULT_CHAIN_LENGTH, help="blocks of the synthetic chain served"
    )
    s.add_argument(
        "--block-size",
        type=_count,
        default=0,
        metavar="BYTES",
        help="fill each synthetic block with golden transactions up to BYTES (mainnet blocks run to 90 KB)",
    )
    s.add_argument("--grow-every", type=_positive, default=None, help="seconds between new blocks at the tip")
    s.add_argument("--time-scale", type=_positive, default=1.0, help="multiplies every time limit and interval")
    s.add_argument("--peer-sharing", type=int, choices=(0, 1), default=0)
    s.add_argument(
        "--no-idle-timeout",
        action="store_true",
        help="keep connections on which no mini-protocol runs (the node closes them after 5 s; N2C 2 s)",
    )
    s.add_argument("--fault", default=None, metavar="NAME", help="run a faulty peer of the zoo (peers/faulty/)")
    s.set_defaults(run=run_serve)
    c = commands.add_parser("connect", help="connect as initiator, exchange keep-alives, print a summary")
    c.add_argument("address", nargs="?", type=_address, default=None, metavar="HOST:PORT")
    c.add_argument("--socket", type=Path, default=None, help="connect node-to-client over this Unix socket")
    c.add_argument("--magic", type=int, default=MAINNET_MAGIC)
    c.add_argument("--transcript", type=Path, default=None)
    c.add_argument("--headers", type=_count, default=0, help="headers to follow, fetching their blocks (0: none)")
    c.add_argument("--depth", type=_positive_int, default=10, help="chain-sync requests in flight")
    c.add_argument(
        "--duplex", action="store_true", help="offer duplex (the remote may then start its own clients toward us)"
    )
    c.add_argument("--time-scale", type=_positive, default=1.0)
    c.add_argument("--peer-sharing", type=int, choices=(0, 1), default=0)
    c.add_argument("--fault", default=None, metavar="NAME", help="run a faulty peer of the zoo (peers/faulty/)")
    c.add_argument("--timeout", type=_positive, default=60.0, help="seconds before giving up")
    c.add_argument(
        "--reconnect",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="reconnect whenever the remote closes, for SECONDS or until it refuses connections for 3 s"
        " (the tested initiator of `run --role initiator`)",
    )
    c.add_argument(
        "--txs",
        type=_count,
        default=0,
        help="transactions the tx-submission2 client offers: the first N golden ones (vectors/)",
    )
    c.set_defaults(run=run_connect)


def _chain(args: argparse.Namespace) -> ChainStore:
    """The chain `serve` offers: a chain file, or a synthetic chain of --chain-length blocks."""
    if args.chain is not None:
        return load_chain(args.chain)
    if args.block_size:
        return ChainStore.synthetic(args.chain_length, block_size=args.block_size, filler=golden_ledger_transactions())
    return ChainStore.synthetic(args.chain_length)


def _bad_fault(args: argparse.Namespace) -> bool:
    try:
        _fault(args)
    except faults.FaultError as error:
        print(f"error: {error}", file=sys.stderr)
        return True
    return False


def run_serve(args: argparse.Namespace) -> int:
    if _bad_fault(args):
        return 2
    try:
        args.chain_store = _chain(args)
    except (OSError, ValueError) as error:
        print(f"error: cannot load the chain: {error}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args))


def _config(args: argparse.Namespace, role: str, behaviour_options: dict[str, Any], **more: Any) -> PeerConfig:
    """The peer's configuration from the options `serve` and `connect` share (N2C when --socket is given)."""
    mode = N2C if args.socket is not None else N2N
    fault = _fault(args)
    config = PeerConfig(
        mode=mode,
        magic=args.magic,
        peer_sharing=args.peer_sharing,
        time_scale=args.time_scale,
        behaviours=(
            default_behaviours(mode, role, **behaviour_options)
            if fault is None
            else faults.behaviours(fault, mode, role, **behaviour_options)
        ),
        transcript_dir=args.transcript,
        transcript_memory=0,  # the commands read no transcript in memory; --transcript files keep it all
        **more,
    )
    return config if fault is None else faults.configure(fault, config)


def _fault(args: argparse.Namespace) -> faults.Fault | None:
    """The fault of --fault (the fault zoo, peers/faulty/), or None for the conformant reference peer."""
    name = getattr(args, "fault", None)
    return None if name is None else faults.find(name)


async def _serve(args: argparse.Namespace) -> int:
    config = _config(
        args,
        "responder",
        {"chain": args.chain_store, "grow_every": args.grow_every},
        max_conns=args.max_conns,
        lifetime=args.lifetime,
        idle_timeout=not args.no_idle_timeout,
    )
    server: Server
    try:
        if args.socket is not None:
            server = await serve_unix(str(args.socket), config)
            where: dict[str, Any] = {"socket": str(args.socket)}
        else:
            server = await serve(args.host, args.port, config)
            where = {"host": server.host, "port": server.port}
    except OSError as error:
        print(f"error: cannot listen: {error}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, server.stop)
    print(json.dumps({"listening": where}), flush=True)
    await server.stopped
    broke = [v for c in server.connections for v in c.violations]
    for violation in broke:
        print(f"violation: {violation}", file=sys.stderr)
    return 1 if broke else 0


def run_connect(args: argparse.Namespace) -> int:
    if (args.address is None) == (args.socket is None):
        print("error: give HOST:PORT or --socket PATH", file=sys.stderr)
        return 2
    if _bad_fault(args):
        return 2
    if args.reconnect is not None and args.socket is not None:
        print("error: --reconnect is for node-to-node (HOST:PORT)", file=sys.stderr)
        return 2
    offered = golden_transactions() if args.txs else []
    if args.txs > len(offered):
        print(f"error: --txs: there are {len(offered)} golden transactions", file=sys.stderr)
        return 2
    args.mempool = Mempool(offered[: args.txs]) if args.txs else None
    if args.reconnect is not None:
        return asyncio.run(_reconnect(args))
    return asyncio.run(_connect(args))


def _initiator_config(args: argparse.Namespace) -> PeerConfig:
    options = {"headers": args.headers, "depth": args.depth, "mempool": args.mempool}
    return _config(args, "initiator", options, initiator_only=not args.duplex)


async def _reconnect(args: argparse.Namespace) -> int:
    host, port = args.address
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # stop early, still with the summary
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    result = await reconnect(host, port, _initiator_config(args), seconds=args.reconnect, stop=stop)
    print(json.dumps(result.as_dict()), flush=True)
    if result.connections == 0:
        print(f"error: no connection to {host}:{port} was made", file=sys.stderr)
    return 0 if result.ok else 1


def _done(connection: Connection) -> bool:
    """Every initiator behaviour finished; keep-alive counts as done after one answered round trip and
    tx-submission2 (which offers transactions while the connection lives) does not hold the run."""
    for (protocol, side), behaviour in connection.behaviours.items():
        if side != "initiator" or (protocol, side) in connection.finished:
            continue
        if isinstance(behaviour, KeepAliveClient) and behaviour.answers >= 1:
            continue
        if protocol == "tx-submission2":
            continue  # it offers the mempool for as long as the connection lives; nothing to wait for
        return False
    return True


def summary(connection: Connection) -> dict[str, Any]:
    """What `connect` prints: versions, counts, bytes, and every violation by requirement id."""
    negotiated = connection.negotiated
    chain = [getattr(b, "summary", None) for b in connection.behaviours.values()]  # a behaviour may add figures
    out: dict[str, Any] = {
        "version": negotiated.version if negotiated else None,
        "version_data": dict(negotiated.version_data) if negotiated else None,
        "headers": 0,
        "blocks": 0,
        "bytes_sent": connection.bytes_sent,
        "bytes_received": connection.bytes_received,
        "violations": [{"requirement": v.requirement, "detail": str(v)} for v in connection.violations],
        "finished": {f"{p}/{s}": reason for (p, s), reason in connection.finished.items()},
    }
    for extra in chain:
        if callable(extra):
            out.update(extra())
    if connection.refusal is not None:
        out["refusal"] = connection.refusal.fields.get("reason")
    if connection.closed.done():
        info = connection.closed.result()
        out["closed"] = {"by": info.by, "reason": info.reason}
    return out


def _chain_counts(connection: Connection) -> dict[str, int]:
    """Headers followed and blocks fetched so far, for the progress line of a long run."""
    counts = {"headers": 0, "blocks": 0}
    for behaviour in connection.behaviours.values():
        report = getattr(behaviour, "summary", None)
        if callable(report):
            figures = report()
            counts.update({k: int(figures[k]) for k in counts if k in figures})
    return counts


async def _connect(args: argparse.Namespace) -> int:
    config = _initiator_config(args)
    try:
        if args.socket is not None:
            connection = await connect_unix(str(args.socket), config)
        else:
            connection = await connect(args.address[0], args.address[1], config)
    except OSError as error:
        print(f"error: cannot connect: {error}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    progress = Progress(lambda: _chain_counts(connection), sys.stderr, loop.time) if sys.stderr.isatty() else None
    while not connection.closed.done() and not (connection.negotiated and _done(connection)):
        if loop.time() > deadline:
            print(f"error: not done within {args.timeout} s", file=sys.stderr)
            break
        if progress is not None:
            progress.tick()
        await asyncio.sleep(POLL)
    if progress is not None:
        progress.close()
    await connection.close()
    result = summary(connection)
    print(json.dumps(result, default=str), flush=True)
    ok = (
        connection.negotiated is not None
        and not connection.violations
        and not result.get("chain_problems")
        and not result.get("block_problems")
        and result.get("closed", {}).get("by") == "local"
    )
    return 0 if ok else 1
