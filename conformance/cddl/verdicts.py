"""What our decoder and the CDDL say about golden messages, as they are and mutated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import wire
from ..wire import cbor
from .known_deviations import amended, deviations_for, validate_amended
from .message_mutations import mutations
from .pycddl_compile import CddlMismatch, validate, validate_text
from .spec import described, flattened, schema_version

# --------------------------------------------------------------------------------------------------
# Messages of golden vectors.


def vector_messages(vector: Any) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of each whole message in a `message` or `stream` vector; labels are unique."""
    if vector.kind == "message":
        yield vector.id, vector.data
    elif vector.kind == "stream":
        pos, n = 0, 0
        while pos < len(vector.data):
            end = cbor.scan_item(vector.data, pos)
            yield f"{vector.id}#{n}", vector.data[pos:end]
            pos, n = end, n + 1


# --------------------------------------------------------------------------------------------------
# Mutations of golden messages, and where our decoder and the CDDL disagree about them.


@dataclass(frozen=True)
class Verdicts:
    """What our decoder and the CDDL say about one mutated message."""

    vector: str
    mutation: str
    decoder: str  # "accepts" or "rejects"
    cddl: str
    schema: str  # the protocol, or protocol+deviation ids when the vector needs an amended schema
    decoder_error: str = ""
    cddl_error: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.vector, self.mutation)

    @property
    def disagree(self) -> bool:
        return self.decoder != self.cddl


def mutation_verdicts(vectors: Iterable[Any]) -> list[Verdicts]:
    """Decoder and CDDL verdicts for every mutation of every golden `message` vector."""
    out = []
    for vector in vectors:
        if vector.kind != "message" or not vector.valid or not described(vector):
            continue
        version = schema_version(vector.protocol)
        original = wire.decode(vector.protocol, vector.data, vector.state, version)
        devs = deviations_for(original)
        text = amended(vector.protocol, devs) if devs else flattened(vector.protocol)
        schema = "+".join([vector.protocol, *(d.id for d in devs)])
        for name, data in mutations(vector.protocol, vector.data):
            try:
                wire.decode(vector.protocol, data, vector.state, version)
                decoder, decoder_error = "accepts", ""
            except wire.DecodeError as exc:
                decoder, decoder_error = "rejects", str(exc)
            try:
                validate_text(text, data, protocol=vector.protocol, schema=schema)
                verdict, cddl_error = "accepts", ""
            except CddlMismatch as exc:
                verdict, cddl_error = "rejects", exc.reason
            out.append(Verdicts(vector.id, name, decoder, verdict, schema, decoder_error, cddl_error))
    return out


def original_verdicts(vectors: Iterable[Any]) -> list[Verdicts]:
    """Decoder and CDDL verdicts on every golden message as it is (mutation `original`), with deviations."""
    out = []
    for vector in vectors:
        if vector.kind not in ("message", "stream") or not vector.valid or not described(vector):
            continue
        version = schema_version(vector.protocol)
        for label, data in vector_messages(vector):
            state = vector.state if vector.kind == "message" else None
            message = wire.decode(vector.protocol, data, state, version)
            devs = deviations_for(message)
            schema = "+".join([vector.protocol, *(d.id for d in devs)])
            try:
                validate_amended(vector.protocol, data, devs) if devs else validate(vector.protocol, data)
                verdict, cddl_error = "accepts", ""
            except CddlMismatch as exc:
                verdict, cddl_error = "rejects", exc.reason
            out.append(Verdicts(label, "original", "accepts", verdict, schema, "", cddl_error))
    return out
