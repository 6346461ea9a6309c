"""Run a scenario's steps, top to bottom, over a scripted connection (surface.py), and judge them.

The first failed step ends the run (later steps depend on it); the steps after it are reported as
skipped. The connection is closed at the end whatever happened, and the remote's violations (the peer's
own receiving-side validation) are part of the verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance import wire
from conformance.protocol import Violation
from conformance.wire.mux import SDU

from .errors import StepError
from .matchers import MISSING, Equals, resolve
from .model import Expect, ExpectAny, ExpectClose, Repeat, Scenario, Send, SendSdu, Step, Wait
from .mutations import cut
from .result import FAILED, PASSED, SKIPPED, ScenarioResult, StepOutcome
from .surface import CLOSED, ConnectionSpec, Opener, OwnViolation, ScriptedConnection
from .variables import substitute


def spec_for(
    scenario: Scenario,
    *,
    magic: int | None = None,
    address: tuple[str, int] | None = None,
    transcript_dir: Path | None = None,
) -> ConnectionSpec:
    """The connection a scenario asks for; `magic` (e.g. --magic) overrides the header's."""
    return ConnectionSpec(
        mode=scenario.mode,
        role=scenario.role,
        handshake=scenario.handshake,
        versions=scenario.versions,
        magic=scenario.magic if magic is None else magic,
        disabled_rules=scenario.disable,
        transcript_dir=transcript_dir,
        address=address,
    )


async def run(
    scenario: Scenario,
    opener: Opener,
    *,
    magic: int | None = None,
    address: tuple[str, int] | None = None,
    transcript_dir: Path | None = None,
) -> ScenarioResult:
    """Open a connection with `opener`, run every step on it, close it, and return the result."""
    spec = spec_for(scenario, magic=magic, address=address, transcript_dir=transcript_dir)
    result = ScenarioResult(scenario.name, scenario.file)
    try:
        connection = await opener(spec)
    except Exception as exc:  # the edge of the run: whatever the opener met, the result reports it
        result.error = f"could not open the connection: {type(exc).__name__}: {exc}"
        return result
    try:
        await run_on(scenario, connection, result, variables={"magic": spec.magic}, role=spec.role)
    except Exception as exc:  # a fault of the peer's code, not of the remote: reported, never a pass
        result.error = f"the run stopped: {type(exc).__name__}: {exc}"
    finally:
        try:
            await connection.close()
        except CLOSED:
            pass
        result.violations = [str(v) for v in connection.violations]
        result.violation_ids = [str(getattr(v, "requirement", "")) for v in connection.violations]
        result.negotiated = _negotiated(connection.negotiated)
    return result


async def run_on(
    scenario: Scenario,
    connection: ScriptedConnection,
    result: ScenarioResult,
    *,
    variables: Mapping[str, Any],
    role: str = "initiator",
) -> None:
    """Run the steps on an open connection, adding each outcome to `result` (the connection stays open)."""
    run = _Run(connection, dict(variables), result, time.monotonic(), 0 if role == "initiator" else 1)
    await run.steps(scenario.steps, prefix="")
    result.variables = dict(run.variables)


@dataclass
class _Run:
    connection: ScriptedConnection
    variables: dict[str, Any]
    result: ScenarioResult
    start: float
    mode_bit: int  # the SDU mode bit of what we send: 0 as the initiator, 1 as the responder
    failed: bool = False

    async def steps(self, steps: tuple[Step, ...], prefix: str, round_: str = "") -> None:
        for index, step in enumerate(steps, 1):
            path = f"{prefix}{index}{round_}"
            if self.failed:
                self._outcome(path, step, SKIPPED, "", time.monotonic(), 0.0)
                continue
            if isinstance(step, Repeat):
                for round_number in range(1, step.times + 1):
                    await self.steps(step.steps, prefix=f"{path}.", round_=f"#{round_number}")
                    if self.failed:
                        break
                continue
            began = time.monotonic()
            try:
                status, detail = await self.step(step)
            except StepError as exc:
                status, detail = FAILED, str(exc)
            self._outcome(path, step, status, detail, began, time.monotonic() - began)
            if status == FAILED:
                self.failed = True

    def _outcome(self, path: str, step: Step, status: str, detail: str, began: float, elapsed: float) -> None:
        self.result.steps.append(
            StepOutcome(path, step.line, _kind(step), describe(step), status, detail, began - self.start, elapsed)
        )

    async def step(self, step: Step) -> tuple[str, str]:
        if isinstance(step, Send):
            return await self.send(step)
        if isinstance(step, SendSdu):
            return await self._sending(self.connection.send_sdu(self._hex(step.hex)))
        if isinstance(step, Expect):
            return await self.expect([step], close=False, within=step.within)
        if isinstance(step, ExpectAny):
            return await self.expect(list(step.messages), close=step.close, within=step.within)
        if isinstance(step, ExpectClose):
            return await self.expect([], close=True, within=step.within)
        if isinstance(step, Wait):
            await asyncio.sleep(step.seconds)
            return PASSED, ""
        raise TypeError(f"not a step: {step!r}")  # pragma: no cover - the loader builds only the above

    # -- sending ----------------------------------------------------------------------------------------

    def _hex(self, text: str) -> bytes:
        value = substitute(text, self.variables)
        try:
            return bytes.fromhex(value if isinstance(value, str) else str(value))
        except ValueError:
            raise StepError(f"not hex after substitution: {value!r}") from None

    async def send(self, step: Send) -> tuple[str, str]:
        codec = wire.codec(step.protocol)
        message: wire.Message | None = None
        if step.message is not None:
            fields = substitute(step.fields, self.variables)
            try:
                message = codec.from_json({"message": step.message, "fields": fields})
                data = codec.encode(message)
            except (KeyError, ValueError, TypeError, AttributeError, wire.EncodeError, wire.DecodeError) as exc:
                raise StepError(f"{step.message} cannot be built from {fields!r}: {exc}") from None
        else:
            data = self._hex(step.hex or "")
        if not step.mutations:
            return await self._sending(self.connection.send(step.protocol, message or data, check=step.check))
        try:
            for mutation in step.mutations:
                if not mutation.resplit:
                    data = mutation.apply(data)
        except ValueError as exc:
            raise StepError(str(exc)) from None
        last = step.mutations[-1]
        if not last.resplit:
            return await self._sending(self.connection.send(step.protocol, data, check=step.check))
        if codec.number is None or not data:
            raise StepError(f"{step.protocol}: nothing to cut into SDUs")
        pieces = cut(data, last.params["sizes"])
        for index, piece in enumerate(pieces):
            sdu = SDU(0, self.mode_bit, codec.number, piece).encode()
            try:
                await self.connection.send_sdu(sdu)
            except CLOSED as exc:
                # the remote may close as soon as it has seen enough of a hostile message: that is its
                # reaction (a later expect_close judges it), not a failure to send
                if index and getattr(getattr(exc, "info", None), "by", "remote") == "remote":
                    return PASSED, f"the remote closed after {index} of {len(pieces)} SDUs"
                return FAILED, f"the connection is closed: {exc}"
            except (wire.EncodeError, ValueError, TypeError) as exc:
                return FAILED, f"could not send: {type(exc).__name__}: {exc}"
        return PASSED, ""

    async def _sending(self, sending: Any) -> tuple[str, str]:
        try:
            await sending
        except (OwnViolation, Violation) as exc:
            return FAILED, f"our own check refused it (disable its rule to send it anyway): {exc}"
        except CLOSED as exc:
            return FAILED, f"the connection is closed: {exc}"
        except (wire.EncodeError, ValueError, TypeError) as exc:
            return FAILED, f"could not send: {type(exc).__name__}: {exc}"
        return PASSED, ""

    # -- expecting --------------------------------------------------------------------------------------

    async def expect(self, messages: list[Expect], *, close: bool, within: float) -> tuple[str, str]:
        if not messages:
            info = await self.connection.wait_closed(within)
            if info is None:
                return FAILED, f"the connection was still open after {within:g} s"
            return _closed(info)
        protocol = messages[0].protocol
        try:
            received = await self.connection.receive(protocol, within)
        except TimeoutError:
            return FAILED, f"nothing arrived on {protocol} within {within:g} s"
        except CLOSED as exc:
            if close:
                return _closed(getattr(exc, "info", None), exc)
            return FAILED, f"the connection closed instead: {exc}"
        fields = (
            wire.codec(protocol).to_json(received)["fields"] if received.name in wire.codec(protocol).messages else {}
        )
        reasons = []
        for expectation in messages:
            reason = self._mismatch(expectation, received, fields)
            if reason is None:
                for name, path in expectation.capture:
                    self.variables[name] = resolve(fields, path)
                return PASSED, ""
            reasons.append(reason)
        return FAILED, f"got {received.name} {_brief(fields)}: " + " | ".join(reasons)

    def _mismatch(self, expectation: Expect, received: wire.Message, fields: Any) -> str | None:
        if received.name != expectation.message:
            return f"expected {expectation.message}"
        problems = []
        for path, matcher in expectation.fields:
            reason = matcher.mismatch(resolve(fields, path), self.variables)
            if reason is not None:
                problems.append(f"{path}: {reason}")
        for _, path in expectation.capture:
            if resolve(fields, path) is MISSING:
                problems.append(f"{path}: missing, cannot be captured")
        return "; ".join(problems) or None


def _closed(info: Any, exc: BaseException | None = None) -> tuple[str, str]:
    """An expected close passes only when the remote closed: our peer closing (on the remote's violation,
    a time limit, or our own fault) is not the reaction the scenario asks for."""
    shown = info if info is not None else exc
    if getattr(info, "by", "remote") != "remote":
        return FAILED, f"the connection was closed by us, not by the remote: {getattr(info, 'reason', shown)}"
    return PASSED, f"closed: {shown}"


def _brief(fields: Any, limit: int = 200) -> str:
    text = repr(fields)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _negotiated(negotiated: Any) -> dict[str, Any] | None:
    if negotiated is None:
        return None
    return {
        "mode": getattr(negotiated, "mode", None),
        "version": getattr(negotiated, "version", None),
        "version_data": dict(getattr(negotiated, "version_data", {}) or {}),
    }


def _kind(step: Step) -> str:
    return {
        Send: "send",
        SendSdu: "send_sdu",
        Expect: "expect",
        ExpectAny: "expect_any",
        ExpectClose: "expect_close",
        Wait: "wait",
        Repeat: "repeat",
    }[type(step)]


def describe(step: Step) -> str:
    """One line saying what a step does or expects, for results and reports."""
    if isinstance(step, Send):
        what = f"{step.message} {step.fields}" if step.message is not None else f"hex {step.hex}"
        mutated = "".join(f" +{m.name}{dict(m.params)}" for m in step.mutations)
        unchecked = " (unchecked)" if not step.check else ""
        return f"send {step.protocol} {what}{mutated}{unchecked}"
    if isinstance(step, SendSdu):
        return f"send SDU bytes {step.hex[:32]}{'...' if len(step.hex) > 32 else ''}"
    if isinstance(step, Expect):
        return f"expect {_expected(step)} within {step.within:g} s"
    if isinstance(step, ExpectAny):
        options = [_expected(e) for e in step.messages] + (["the connection closes"] if step.close else [])
        return f"expect {' or '.join(options)} within {step.within:g} s"
    if isinstance(step, ExpectClose):
        return f"expect the connection to close within {step.within:g} s"
    if isinstance(step, Wait):
        return f"wait {step.seconds:g} s"
    return f"repeat {step.times} times"


def _expected(step: Expect) -> str:
    shown = []
    for path, matcher in step.fields:
        shown.append(f"{path}={matcher.expected!r}" if isinstance(matcher, Equals) else f"{path}~{matcher}")
    return f"{step.protocol} {step.message}" + (f" ({', '.join(shown)})" if shown else "")
