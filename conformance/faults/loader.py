"""Fault files (peers/faulty/*.yaml) to `Fault` values, checked completely when loaded: the requirement
against the catalogue, protocols and message names against the wire declarations, every key and kind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from conformance import wire
from conformance.peer.chain import FAULTS as CHAIN_FAULTS
from conformance.protocol import catalogue

from .model import Egress, Fault, Rewrite

EGRESS_KINDS = ("mode-bit", "protocol-number", "zero-length", "length", "cut-and-close", "cut-and-wait")
REWRITE_KEYS = {"protocol", "message", "side", "nth", "set", "replace", "drop", "delay", "repeat", "append",
                "truncate", "reencode", "flip", "raw"}  # fmt: skip
FAULT_KEYS = {"name", "breaks", "role", "mode", "description", "cases", "rewrite", "egress", "chain", "switches",
              "config", "disable", "tolerate"}  # fmt: skip
CONFIG_KEYS = {"versions", "magic", "peer_sharing", "initiator_only"}


class FaultError(ValueError):
    """A fault file that cannot be used; the message names the file and the key."""


def _message_known(protocol: str, name: str, where: str) -> None:
    try:
        codec = wire.codec(protocol)
    except KeyError:
        raise FaultError(f"{where}: unknown protocol {protocol!r}") from None
    if name not in codec.messages:
        raise FaultError(f"{where}: {protocol} has no message {name!r}")


def _rewrite(entry: Any, where: str) -> Rewrite:
    if not isinstance(entry, Mapping) or not {"protocol", "message"} <= set(entry):
        raise FaultError(f"{where}: a rewrite needs protocol and message")
    unknown = set(entry) - REWRITE_KEYS
    if unknown:
        raise FaultError(f"{where}: unknown keys {sorted(unknown)}")
    _message_known(entry["protocol"], entry["message"], where)
    replace = entry.get("replace")
    if replace is not None:
        _message_known(entry["protocol"], replace["message"], f"{where}.replace")
        replace = (replace["message"], dict(replace.get("fields") or {}))
    nth = entry.get("nth", ())
    reencode = entry.get("reencode")
    if reencode not in (None, "definite-lists"):
        raise FaultError(f"{where}: reencode is definite-lists")
    return Rewrite(
        protocol=entry["protocol"],
        message=entry["message"],
        side=entry.get("side"),
        nth=tuple(nth) if isinstance(nth, list) else (int(nth),) if nth else (),
        set=dict(entry.get("set") or {}),
        replace=replace,
        drop=bool(entry.get("drop", False)),
        delay=float(entry.get("delay", 0.0)),
        repeat=int(entry.get("repeat", 0)),
        append=bytes.fromhex(entry.get("append", "")),
        truncate=entry.get("truncate"),
        reencode=reencode,
        flip=tuple(entry["flip"]) if "flip" in entry else None,  # type: ignore[arg-type]
        raw=bytes.fromhex(entry["raw"]) if "raw" in entry else None,
    )


def _egress(entry: Any, where: str) -> Egress:
    if not isinstance(entry, Mapping) or entry.get("kind") not in EGRESS_KINDS or "protocol" not in entry:
        raise FaultError(f"{where}: an egress fault needs protocol and a kind of {', '.join(EGRESS_KINDS)}")
    return Egress(entry["protocol"], entry["kind"], int(entry.get("nth", 1)), int(entry.get("value", 0)))


def parse(document: Any, source: str) -> Fault:
    if not isinstance(document, Mapping):
        raise FaultError(f"{source}: a mapping is expected")
    unknown = set(document) - FAULT_KEYS
    if unknown:
        raise FaultError(f"{source}: unknown keys {sorted(unknown)}")
    for key in ("name", "breaks", "role", "description", "cases"):
        if not isinstance(document.get(key), str):
            raise FaultError(f"{source}: {key} is required (text)")
    known = catalogue.load()
    disable = set(document.get("disable") or []) | {document["breaks"]}
    tolerate = set(document.get("tolerate") or [])
    for requirement in disable | tolerate:
        if requirement not in known:
            raise FaultError(f"{source}: {requirement} is not in conformance/requirements.yaml")
    if document["role"] not in ("responder", "initiator"):
        raise FaultError(f"{source}: role is responder or initiator")
    mode = document.get("mode", "node-to-node")
    if mode not in ("node-to-node", "node-to-client"):
        raise FaultError(f"{source}: mode is node-to-node or node-to-client")
    chain = document.get("chain")
    if chain is not None:
        if not isinstance(chain, Mapping) or chain.get("kind") not in CHAIN_FAULTS:
            raise FaultError(f"{source}: chain needs a kind of {', '.join(CHAIN_FAULTS)}")
        chain = (chain["kind"], int(chain.get("at", 10)))
    from .apply import SWITCHABLE

    for key in document.get("switches") or {}:
        protocol, _, side = str(key).partition("/")
        if (protocol, side) not in SWITCHABLE:
            raise FaultError(f"{source}: switches: {key} has none; known: {sorted('/'.join(k) for k in SWITCHABLE)}")
    config = dict(document.get("config") or {})
    if set(config) - CONFIG_KEYS:
        raise FaultError(f"{source}: config keys are {sorted(CONFIG_KEYS)}")
    if "versions" in config:
        config["versions"] = tuple(config["versions"])
    return Fault(
        name=document["name"],
        breaks=document["breaks"],
        role=document["role"],
        mode=mode,
        description=" ".join(document["description"].split()),
        cases=document["cases"],
        rewrites=tuple(_rewrite(e, f"{source}: rewrite[{i}]") for i, e in enumerate(document.get("rewrite") or [])),
        egress=tuple(_egress(e, f"{source}: egress[{i}]") for i, e in enumerate(document.get("egress") or [])),
        chain=chain,
        switches={str(k): dict(v) for k, v in (document.get("switches") or {}).items()},
        config=config,
        disable=frozenset(disable),
        tolerate=frozenset(tolerate),
        file=source,
    )


def load(path: Path) -> Fault:
    try:
        return parse(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    except OSError as error:
        raise FaultError(f"{path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise FaultError(f"{path}: not YAML: {error}") from None
