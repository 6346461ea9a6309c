"""The judge's result as a terminal summary, as judge.json (one record per finding) and as judge.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .findings import ConnectionReport
from .judge import JudgeResult

HEX_SHOWN = 48
"""Bytes of a finding's hex shown in the terminal and Markdown (judge.json keeps them all)."""


def _version(report: ConnectionReport) -> str:
    if report.version is None:
        return "not negotiated in the capture"
    number = report.version & 0x7FFF
    return f"{number}" + (f" (0x{report.version:x} on the wire)" if report.version != number else "")


def _hex(text: str) -> str:
    return text if len(text) <= 2 * HEX_SHOWN else f"{text[: 2 * HEX_SHOWN]}… ({len(text) // 2} bytes)"


def _messages(report: ConnectionReport) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(report.messages.items())) or "none"


def terminal(result: JudgeResult) -> str:
    """A readable summary: one block per connection, then the verdict."""
    lines = [
        f"{result.path}: {result.format}, {result.size:,} bytes, {result.packets:,} packets,"
        f" {len(result.connections)} TCP connection(s), {result.messages:,} messages"
    ]
    if result.damaged:
        lines.append(f"note: {result.damaged}")
    for index, report in enumerate(result.connections, 1):
        initiator, responder = report.endpoints
        lines.append("")
        lines.append(
            f"connection {index}: initiator {initiator} -> responder {responder} (roles from {report.roles_from})"
        )
        lines.append(f"  mode {report.mode or 'unknown'}, version {_version(report)}")
        if report.version_data:
            lines.append("  version data " + json.dumps(report.version_data, sort_keys=True, default=str))
        lines.append(f"  messages: {_messages(report)}")
        lines.append(
            f"  bytes: initiator {report.bytes_sent['initiator']:,}, responder {report.bytes_sent['responder']:,}"
        )
        for note in report.notes:
            lines.append(f"  note: {note}")
        if not report.findings:
            lines.append("  violations: none")
        for finding in report.findings:
            state = f" in {finding.state}" if finding.state else ""
            lines.append(
                f"  {finding.time:10.3f} s  {finding.requirement} ({finding.severity}) by the {finding.side},"
                f" {finding.protocol}{state}: {finding.message}"
            )
            if finding.hex:
                lines.append(f"               bytes {_hex(finding.hex)}")
        if report.findings_dropped:
            lines.append(f"  ... and {report.findings_dropped} more findings not kept")
        if report.ending is not None:
            lines.append(f"  ended: {report.ending.describe()}")
    broken = sum(1 for c in result.connections for f in c.findings if f.severity == "MUST")
    lines.append("")
    lines.append(f"verdict: {'MUST rules broken (' + str(broken) + ')' if broken else 'no MUST rule broken'}")
    return "\n".join(lines)


def records(result: JudgeResult) -> list[dict[str, Any]]:
    """judge.json: one record per finding, every connection."""
    return [f.to_json(c.endpoints) for c in result.connections for f in c.findings]


def markdown(result: JudgeResult) -> str:
    out = [
        f"# Judge: `{result.path.name}`",
        "",
        f"{result.format}, {result.size:,} bytes, {result.packets:,} packets, {len(result.connections)} connection(s),"
        f" {result.messages:,} messages. Times are seconds from the capture's first packet.",
    ]
    if result.damaged:
        out += ["", f"Note: {result.damaged}."]
    for index, report in enumerate(result.connections, 1):
        initiator, responder = report.endpoints
        out += [
            "",
            f"## Connection {index}: {initiator} → {responder}",
            "",
            f"- initiator `{initiator}`, responder `{responder}` (roles from {report.roles_from})",
            f"- mode {report.mode or 'unknown'}, version {_version(report)}",
            f"- messages: {_messages(report)}",
        ]
        out += [f"- note: {note}" for note in report.notes]
        if report.ending is not None:
            out.append(f"- ended: {report.ending.describe()}")
        out.append("")
        if not report.findings:
            out.append("No violation.")
            continue
        out += [
            "| time (s) | requirement | severity | side | protocol | state | what | bytes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in report.findings:
            what = f.message.replace("|", "\\|")
            out.append(
                f"| {f.time:.3f} | {f.requirement} | {f.severity} | {f.side} | {f.protocol} | {f.state or ''} |"
                f" {what} | `{_hex(f.hex)}` |"
            )
    return "\n".join(out) + "\n"


def write(result: JudgeResult, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "judge.json").write_text(json.dumps(records(result), indent=2) + "\n", encoding="utf-8")
    (directory / "judge.md").write_text(markdown(result), encoding="utf-8")
