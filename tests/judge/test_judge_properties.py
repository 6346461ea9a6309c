"""Properties of the judge's two stream layers, on generated input: TCP reassembly gives back exactly
the bytes sent however they were segmented, repeated and reordered; the SDU cutter, started anywhere in
a stream of real SDUs, resumes on a true SDU boundary and from there cuts exactly the SDUs that were sent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance.judge.capture import Segment
from conformance.judge.sdus import SduCutter
from conformance.judge.tcp import TcpDirection
from conformance.wire import Message, encode
from conformance.wire.mux import SDU

ISN = 2**32 - 700  # the sequence numbers wrap inside the stream


def _segment(seq: int, payload: bytes, flags: int = 0x18) -> Segment:
    return Segment(0.0, "10.0.0.1", 1, "10.0.0.2", 2, seq % 2**32, flags, payload)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bytes]]]:
    """A byte stream and the (offset, bytes) segments a capture shows of it: every byte at least once,
    some segments repeated or overlapping, neighbours swapped (a bounded reordering)."""
    data = draw(st.binary(min_size=1, max_size=3000))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data) - 1), max_size=12)) if len(data) > 1 else []))
    bounds = [0, *cuts, len(data)]
    pieces = [(a, data[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    out: list[tuple[int, bytes]] = []
    for offset, piece in pieces:
        out.append((offset, piece))
        if draw(st.booleans()):
            start = draw(st.integers(0, offset))
            out.append((start, data[start : offset + len(piece)]))  # a retransmission overlapping the past
    for i in draw(st.lists(st.integers(0, max(0, len(out) - 2)), max_size=6)):
        if i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
    return data, out


@given(deliveries())
def test_reassembly_gives_back_exactly_the_bytes_sent(case: tuple[bytes, list[tuple[int, bytes]]]) -> None:
    data, segments = case
    direction = TcpDirection()
    direction.segment(_segment(ISN - 1, b"", flags=0x02))
    got = bytearray()
    for offset, piece in segments:
        for chunk in direction.segment(_segment(ISN + offset, piece)):
            assert chunk.offset == len(got) and not chunk.gap
            got += chunk.data
    assert bytes(got) == data
    assert direction.buffered == 0 and direction.lost == 0
    assert direction.retransmitted == sum(len(p) for _, p in segments) - len(data)


def _sdus(cookies: list[int]) -> list[SDU]:
    out = []
    for i, cookie in enumerate(cookies):
        name = "MsgKeepAlive" if i % 2 == 0 else "MsgKeepAliveResponse"
        out.append(SDU(i * 7919, i % 2, 8, encode(Message("keep-alive", name, {"cookie": cookie}))))
    return out


@given(st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=30), st.data())
def test_a_cutter_started_anywhere_resumes_on_a_true_boundary(cookies: list[int], data: st.DataObject) -> None:
    sdus = _sdus(cookies)
    wire = b"".join(s.encode() for s in sdus)
    starts = [0]
    for s in sdus:
        starts.append(starts[-1] + len(s.encode()))
    begin = data.draw(st.integers(0, starts[-4]))  # at least three whole SDUs after it
    cutter = SduCutter(aligned=False)
    got = []
    pos = begin
    for size in data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=50)):
        got += [sdu for _, sdu in cutter.feed(pos, wire[pos : pos + size], 0.0)]
        pos += size
    got += [sdu for _, sdu in cutter.feed(pos, wire[pos:], 0.0, final=True)]
    assert cutter.aligned and len(cutter.resyncs) == 1
    resumed = cutter.resyncs[0].offset
    assert resumed in starts and resumed >= begin and resumed == next(s for s in starts if s >= begin)
    assert got == sdus[starts.index(resumed) :]
