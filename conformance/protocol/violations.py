"""The protocol violation family: every broken rule is a value naming its requirement id.

A violation says which requirement of the catalogue (`conformance/requirements.yaml`) was broken, in
which protocol and state, by which message, and who is at fault (`sender`: the side that sent the
offending message, or the side that held agency and stayed silent too long).
"""

from __future__ import annotations

from typing import Any

from conformance.wire.errors import place


class Violation(Exception):
    """A move that the protocol does not allow."""

    kind = "protocol"

    def __init__(
        self,
        requirement: str,
        detail: str,
        *,
        protocol: str,
        state: str | None,
        sender: str | None,
        message: Any = None,
        agency: str | None = None,
        severity: str = "MUST",
    ) -> None:
        self.requirement = requirement
        self.detail = detail
        self.protocol = protocol
        self.state = state
        self.sender = sender
        self.message = message
        self.agency = agency
        self.severity = severity
        super().__init__(self._render())

    @property
    def message_name(self) -> str | None:
        return getattr(self.message, "name", None)

    def _render(self) -> str:
        where = place(
            protocol=self.protocol,
            state=self.state,
            agency=self.agency,
            sender=self.sender,
            message=self.message_name,
        )
        return f"{self.requirement} ({self.severity}) {where}: {self.detail}"

    def __str__(self) -> str:
        return self._render()


class AgencyViolation(Violation):
    """A side sent while it did not have agency (including after the protocol terminated)."""


class UnexpectedMessage(Violation):
    """The side with agency sent a message that the current state does not allow."""


class PipeliningViolation(Violation):
    """A message sent ahead of the replies that the protocol's pipelining rules do not allow."""


class DecodeViolation(Violation):
    """Bytes that do not decode as a message of the current state; `error` is the wire layer's error."""

    def __init__(self, requirement: str, detail: str, *, error: Exception | None = None, **where: Any) -> None:
        self.error = error
        super().__init__(requirement, detail, **where)


class IllTypedMessage(DecodeViolation):
    """A message given as a value whose fields its wire declaration refuses, so it has no bytes at all;
    `path` is where in the fields (e.g. `$.points[0]`) and `error` the wire layer's `EncodeError`."""

    def __init__(self, requirement: str, detail: str, *, path: str = "$", **where: Any) -> None:
        self.path = path
        super().__init__(requirement, detail, **where)


class RuleViolation(Violation):
    """A message allowed by the state table that breaks a rule beyond it (window, cookie, points...)."""


class MuxViolation(Violation):
    """An SDU that the multiplexer does not accept."""

    kind = "mux"


class LimitViolation(Violation):
    """A limit exceeded: `limit` is the bound that applied, `observed` the value seen, in `unit`."""

    kind = "limit"
    unit = ""

    def __init__(self, requirement: str, detail: str, *, limit: float, observed: float, **where: Any) -> None:
        self.limit = limit
        self.observed = observed
        super().__init__(requirement, detail, **where)


class TimeLimitExceeded(LimitViolation):
    """The side with agency did not send its next message within the state's time limit."""

    unit = "s"


class ByteLimitExceeded(LimitViolation):
    """A message longer than the byte limit of the state it was sent in."""

    unit = "bytes"


class PipeliningDepthExceeded(LimitViolation):
    """More requests in flight than the protocol's pipelining depth."""

    unit = "requests"


class IngressQueueOverrun(LimitViolation):
    """More bytes buffered for one mini-protocol and direction than the receiver's ingress queue holds."""

    kind = "mux"
    unit = "bytes"
