"""A whole capture judged: segments streamed from the file, one `BearerJudge` per TCP connection.

A connection is its two endpoints; it is judged from its first packet to its end (FIN from both sides,
or a RST), then its judge is dropped and only its report kept, so memory follows the connections open
at once, not the capture's size. A new SYN on the endpoints of a connection that ended starts a new one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from .bearer import BearerJudge, Options
from .capture import ACK, SYN, CaptureReader
from .findings import ConnectionReport

RECENTLY_CLOSED = 4096
"""Ended connections remembered, so their late ACKs and retransmissions do not open new ones."""

Key = tuple[tuple[str, int], tuple[str, int]]


@dataclass
class JudgeResult:
    """Every connection's report, in the order the connections began, and what was read."""

    path: Path
    format: str
    size: int
    packets: int = 0
    skipped: int = 0
    damaged: str | None = None
    connections: list[ConnectionReport] = field(default_factory=list)

    @property
    def must_broken(self) -> bool:
        return any(c.must_broken for c in self.connections)

    @property
    def messages(self) -> int:
        return sum(sum(c.messages.values()) for c in self.connections)


def judge_capture(path: Path, options: Options | None = None) -> JudgeResult:
    """Judge every Ouroboros connection in the pcap or pcapng at `path`. Raises CaptureError when the
    file cannot be read as a capture."""
    options = options or Options()
    open_: dict[Key, BearerJudge] = {}
    closed: OrderedDict[Key, None] = OrderedDict()
    reports: list[tuple[float, int, ConnectionReport]] = []
    origin: float | None = None
    last = 0.0
    with CaptureReader(path) as reader:
        result = JudgeResult(path, reader.format, reader.size)
        for seg in reader:
            if origin is None:
                origin = seg.time
            last = max(last, seg.time)
            a, b = seg.source, seg.destination
            key: Key = (a, b) if a <= b else (b, a)
            judge = open_.get(key)
            fresh = seg.flags & SYN and not seg.flags & ACK
            if judge is not None and fresh and judge.done:
                _close(open_, closed, reports, key, seg.time)
                judge = None
            if judge is None:
                if key in closed and not fresh:
                    continue  # a late packet of a connection already judged
                closed.pop(key, None)
                judge = open_[key] = BearerJudge(seg, origin, options)
            judge.segment(seg)
            if judge.done:
                _close(open_, closed, reports, key, seg.time)
        for key in list(open_):
            _close(open_, closed, reports, key, last)
        result.packets, result.skipped, result.damaged = reader.packets, reader.skipped, reader.damaged
    result.connections = [report for _, _, report in sorted(reports, key=lambda r: (r[0], r[1]))]
    return result


def _close(
    open_: dict[Key, BearerJudge],
    closed: OrderedDict[Key, None],
    reports: list[tuple[float, int, ConnectionReport]],
    key: Key,
    end: float,
) -> None:
    judge = open_.pop(key)
    report = judge.finish(end)
    reports.append((report.start, len(reports), report))
    closed[key] = None
    if len(closed) > RECENTLY_CLOSED:
        closed.popitem(last=False)
