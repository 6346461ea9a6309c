"""The one error family that decoding may raise.

Every failure names where it happened (protocol, message, byte offset, field path) and what was
expected, so a conformance report can say exactly which rule a peer broke.
"""

from __future__ import annotations


def place(**where: object) -> str:
    """`key=value` for every part of an error's location that is known (None and "" are left out)."""
    return ", ".join(f"{key}={value}" for key, value in where.items() if value not in (None, ""))


class DecodeError(Exception):
    """Bytes that do not form the message the protocol allows at this point."""

    kind = "decode"

    def __init__(
        self,
        expected: str,
        *,
        offset: int | None = None,
        path: str = "",
        protocol: str | None = None,
        message: str | None = None,
        state: str | None = None,
    ) -> None:
        self.expected = expected
        self.offset = offset
        self.path = path
        self.protocol = protocol
        self.message = message
        self.state = state
        super().__init__(expected)  # rendered lazily by __str__: Choice raises and catches these often

    def _render(self) -> str:
        where = place(
            protocol=self.protocol, state=self.state, message=self.message, offset=self.offset, path=self.path
        )
        head = f"{type(self).__name__}: {where}" if where else type(self).__name__
        return f"{head}: expected {self.expected}"

    def located(self, **where: object) -> DecodeError:
        """Fill in context that an outer layer knows and the inner one did not."""
        for key, value in where.items():
            if getattr(self, key, None) in (None, "") and value is not None:
                setattr(self, key, value)
        return self

    def __str__(self) -> str:
        return self._render()


class MalformedCbor(DecodeError):
    """The bytes are not well-formed CBOR (RFC 8949 section 3)."""


class TruncatedInput(MalformedCbor):
    """The input ends before the item it started is complete (more bytes may still arrive)."""


class TrailingBytes(DecodeError):
    """A complete message is followed by bytes that belong to nothing."""


class ShapeMismatch(DecodeError):
    """Well-formed CBOR whose shape is not the one the message declares."""


class UnknownMessage(DecodeError):
    """A message tag (or tag and length) that the protocol does not define in this state."""


class NotInVersion(UnknownMessage):
    """A message (or a whole mini-protocol) that does not exist at the negotiated version.

    `version` is the negotiated version and `span` the versions that have the message, so a checker can
    name the requirement broken (e.g. MsgGetMeasures before node-to-client v20).
    """

    def __init__(self, expected: str, *, version: int, span: object, **where: object) -> None:
        super().__init__(expected, **where)  # type: ignore[arg-type]
        self.version = version
        self.span = span


class EncodeError(Exception):
    """A value that cannot be encoded as the declared message (a bug in the caller's script)."""
