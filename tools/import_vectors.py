"""Import an external vector collection into vectors/, bytes untouched and provenance kept.

A maintainer tool, the one thing that reads outside the repository, and only when run by hand:
`python tools/import_vectors.py EXTERNAL_DIR`, where EXTERNAL_DIR (a copy of the collection, which lives
outside the repository; vectors/external/SOURCES.md says where it comes from) holds the external YAML files
and their SOURCES.md and NOTES.md (copied to vectors/external/). Nothing else in the project reads it: the imported
vectors live in vectors/. Imported entries are regenerated each run; entries with `source: ours` already in
a target file are kept as they are.
The decoded `fields` written here come from our decoder: the golden tests check them against cbor2's
independent decoding of the same bytes, so they are a record of what we decode, not the proof.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path
from typing import Any

import yaml

from conformance import wire
from conformance.golden import abbreviate

ROOT = Path(__file__).resolve().parent.parent  # this tool runs from the checkout and writes into it
VECTORS = ROOT / "vectors"
EXTERNAL_RECORDS = VECTORS / "external"
PROVENANCE_RECORDS = ("SOURCES.md", "NOTES.md")
LARGE = 60_000

MESSAGE_PROTOCOLS = {
    "chain-sync/n2n": "chain-sync",
    "block-fetch": "block-fetch",
    "tx-submission2": "tx-submission2",
    "keep-alive": "keep-alive",
    "peer-sharing": "peer-sharing",
    "handshake/n2n": "handshake",
    "local-chain-sync": "local-chain-sync",
    "local-tx-submission": "local-tx-submission",
    "local-state-query": "local-state-query",
    "local-tx-monitor": "local-tx-monitor",
}


KNOWN_INVALID = {
    "hs-gouroboros-msgrefuse-820283010163666f": "HandshakeDecodeError naming version 1, which no current N2N "
    "codec recognises: the node's decodeRefuseReason fails ('unknow version', Handshake/Codec.hs)",
    "hs-gouroboros-msgrefuse-820283020163666f": "Refused naming version 1, which no current N2N codec "
    "recognises: the node's decodeRefuseReason fails ('unknow version', Handshake/Codec.hs)",
    "ltm-gouroboros-msgreplynexttx-82068205d8": "the tx [5, #6.24(h'deadbeef')] wraps bytes that are not one "
    "well-formed CBOR item, so the node's GenTx decoder (HardFork decodeNS, then the era's unwrapCBORinCBOR) "
    "cannot read a Babbage transaction from them",
    "ltm-gouroboros-msghastx-820744dead": "the tx id is a bare byte string h'deadbeef'; the node's GenTxId "
    "decoder (HardFork decodeNS) requires [eraIndex, txid] with a 32-byte id",
    "tx2-gouroboros-replytxs": "each tx [era, #6.24(h'010203')] wraps three CBOR items instead of one, so the "
    "node's GenTx decoder (the era's unwrapCBORinCBOR) refuses it",
}
"""External vectors that a conforming decoder must refuse, with the reason (found by the CDDL work and by
the strict GenTx/GenTxId declarations)."""


def payload_name(vector: dict[str, Any]) -> str:
    """What an external payload item is, from its protocol label and description."""
    label, text = vector["protocol"], vector["message"]
    if label.startswith("chain-sync"):
        return "header"
    if label.startswith("tx-submission2"):
        return "gentxid" if text.startswith("GenTxId") else "gentx"
    if label.startswith("local-state-query"):
        return "query" if text.startswith("query") else "result"
    if label.startswith("local-tx-submission"):
        return "gentx" if text.startswith("tx") else "reject-reason"
    if label == "ledger/tx":
        return "tx"
    if label == "ledger/header":
        return "bare-header"
    if text.startswith("block wrapped"):
        return "block-content"
    if text.startswith("block as carried"):
        return "block"
    return "bare-block"


def target(vector: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The vectors/ file and the kind-specific keys for one external vector."""
    label = vector["protocol"]
    if label.startswith("mux"):
        return "mux", {"kind": "sdu", "protocol": "mux", "sdu": vector.get("mux_header")}
    if label.startswith("ledger/"):
        return "ledger", {"kind": "payload", "protocol": "ledger", "payload": payload_name(vector)}
    if "(payload item)" in label:
        protocol = MESSAGE_PROTOCOLS[label.split(" ")[0]]
        return protocol, {"kind": "payload", "protocol": protocol, "payload": payload_name(vector)}
    protocol = MESSAGE_PROTOCOLS[label]
    data = bytes.fromhex(vector["hex"])
    if vector["id"] in KNOWN_INVALID:
        return protocol, {
            "kind": "message",
            "protocol": protocol,
            "message": vector["message"],
            "valid": False,
            "invalid_because": KNOWN_INVALID[vector["id"]],
        }
    try:
        message = wire.decode(protocol, data)
    except wire.TrailingBytes:
        messages = [wire.decode(protocol, m).name for m in _split(data)]
        return protocol, {"kind": "stream", "protocol": protocol, "messages": messages}
    return protocol, {
        "kind": "message",
        "protocol": protocol,
        "message": message.name,
        "fields": abbreviate(wire.codec(protocol).to_json(message)["fields"]),
    }


def _split(data: bytes) -> list[bytes]:
    from conformance.wire.mux import StreamReassembler

    return list(StreamReassembler().feed(data))


def convert(vector: dict[str, Any], source_file: str) -> tuple[str, dict[str, Any]]:
    name, keys = target(vector)
    entry: dict[str, Any] = {"id": vector["id"], **keys, "source": "external"}
    if vector["size"] > LARGE:
        relative = f"large/{vector['id']}.hex.gz"
        target_file = VECTORS / relative
        if not target_file.exists():  # gzip stamps a time: rewrite only when missing, to keep git quiet
            with gzip.GzipFile(target_file, "wb", compresslevel=9, mtime=0) as handle:
                handle.write(vector["hex"].encode())
        entry["hex_file"] = relative
    else:
        entry["hex"] = vector["hex"]
    entry["origin"] = vector["origin"]
    entry["provenance"] = {**vector["provenance"], "external_file": source_file}
    for key in ("decodes_to", "flags", "block_info", "tx_id", "era", "verification", "expect_valid_message"):
        if key in vector:
            entry[key] = vector[key]
    entry["external_message"] = vector["message"]
    return name, entry


def main(external: Path) -> None:
    EXTERNAL_RECORDS.mkdir(exist_ok=True)
    for record in PROVENANCE_RECORDS:  # the collection's own account of where each vector came from
        if (external / record).exists():
            (EXTERNAL_RECORDS / record).write_bytes((external / record).read_bytes())
    files: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(external.glob("*.yaml")):
        for vector in yaml.safe_load(path.read_text())["vectors"]:
            name, entry = convert(vector, path.name)
            files.setdefault(name, []).append(entry)
    for name, entries in files.items():
        out = VECTORS / f"{name}.yaml"
        ours = []
        if out.exists():
            ours = [e for e in yaml.safe_load(out.read_text()).get("vectors", []) if e.get("source") == "ours"]
        document = {
            "file": name,
            "description": f"Golden vectors for {name}: imported external vectors (source: external, bytes "
            "untouched, provenance as recorded in vectors/external/SOURCES.md) and our own "
            "(source: ours) for the gaps.",
            "vectors": entries + ours,
        }
        out.write_text(yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True))
        print(f"{out.relative_to(ROOT)}: {len(entries)} external, {len(ours)} ours")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("external", type=Path, help="the external vectors folder (its *.yaml, SOURCES.md, NOTES.md)")
    folder = parser.parse_args().external
    if not any(folder.glob("*.yaml")):
        parser.error(f"no external vector files (*.yaml) in {folder}")
    main(folder)
