"""The one error family that decoding may raise.

Every failure names where it happened (protocol, message, byte offset, field path) and what was
expected, so a conformance report can say exactly which rule a peer broke.
"""

from __future__ import annotations


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
        where = []
        if self.protocol:
            where.append(f"protocol={self.protocol}")
        if self.state:
            where.append(f"state={self.state}")
        if self.message:
            where.append(f"message={self.message}")
        if self.offset is not None:
            where.append(f"offset={self.offset}")
        if self.path:
            where.append(f"path={self.path}")
        head = f"{type(self).__name__}: " + ", ".join(where) if where else type(self).__name__
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


class EncodeError(Exception):
    """A value that cannot be encoded as the declared message (a bug in the caller's script)."""
