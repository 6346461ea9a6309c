"""Whole CBOR messages out of one mini-protocol's byte stream, in time linear in the bytes received.

A message may arrive in many SDUs and its size is often unknown from its first bytes (an indefinite
array, or a definite array of many small entries). `ItemScanner` therefore keeps its stack of open
containers between chunks and resumes exactly where the last chunk stopped, so each byte is looked at
once. `StreamReassembler` keeps the undelivered bytes in one bytearray, bounded by the ingress queue
limit, and hands each message out exactly once through `next_message()` (sans-I/O, as h11 does).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Final

from .cbor import MAX_DEPTH, WIDTH_OF_INFO, decode_item
from .errors import DecodeError, MalformedCbor


class NeedData:
    """The sentinel `next_message()` returns when no whole message is buffered."""

    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"

    def __bool__(self) -> bool:
        return False


NEED_DATA: Final = NeedData()
"""Returned by `next_message()` when more bytes must arrive before another message is complete."""

_ONE_BYTE_ITEMS = bytes([*range(0x00, 0x18), *range(0x20, 0x38), *range(0xE0, 0xF8)])
"""Initial bytes that are a whole item: unsigned and negative integers below 24, simple values below 24."""
_ONE_BYTE = [i in _ONE_BYTE_ITEMS for i in range(256)]
_ONE_BYTE_RUN = re.compile(b"[" + re.escape(_ONE_BYTE_ITEMS) + b"]+")
_UNPARSED = object()
_UNTIL_BREAK = -1
_ARRAY, _MAP = -1, -2  # frame kinds; 2 or 3 is an indefinite byte or text string (its chunks' major)


class ParsedMessage(bytes):
    """The bytes of one whole message and the CBOR item they hold (`item`), when the reassembler found the
    message's end by decoding it: a reader (a Session) then need not parse the same bytes again."""

    item: Any

    def __new__(cls, data: bytes | bytearray, item: Any) -> ParsedMessage:
        message = super().__new__(cls, data)
        message.item = item
        return message

    def __reduce__(self) -> tuple[Any, ...]:
        return (bytes, (bytes(self),))  # copies and pickles as the plain bytes it is


class MuxError(DecodeError):
    """A violation of the mux: SDU framing, an unknown mini-protocol, or an ingress queue overrun.

    `requirement` names the catalogue rule the peer broke. After a MuxError the node tears the whole
    connection down, so the demultiplexer that raised it accepts nothing more.
    """

    requirement = "MUX-SDU-01"


class IngressOverrun(MuxError):
    """More bytes queued for one mini-protocol and direction than its ingress queue holds, or a CBOR
    head that claims more items or bytes than the queue could ever hold (each item takes a byte at least).
    """

    requirement = "MUX-INGRESS-01"

    def __init__(self, expected: str, *, limit: int, observed: int, **where: object) -> None:
        super().__init__(expected, **where)  # type: ignore[arg-type]
        self.limit = limit
        self.observed = observed


def detached(error: DecodeError) -> DecodeError:
    """A copy of `error` with no traceback: a failed stream keeps this one, so the frames (and the input
    they reference) of the call that failed are not kept alive with it."""
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    return clone


class ItemScanner:
    """Finds where one CBOR item ends in a growing buffer, resuming where the previous call stopped.

    The same well-formedness rules as `cbor.scan_item` (which the tests check), but without re-reading:
    the open containers (items left, or until-break), a string's payload still to skip, and where a text
    string began (its UTF-8 is checked once, when complete) survive between calls.
    """

    __slots__ = ("_stack", "_skip", "_text_from")

    def __init__(self) -> None:
        self._stack: list[list[int]] = []  # [items left or -1 (until break), kind, items seen]
        self._skip = 0
        self._text_from = -1

    @property
    def idle(self) -> bool:
        """Between items: nothing open, nothing to skip (the next byte starts a new item)."""
        return not self._stack and not self._skip

    def shift(self, by: int) -> None:
        """The buffer lost `by` bytes at its front: move the one position the scanner keeps."""
        if self._text_from >= 0:
            self._text_from -= by

    def advance(self, data: bytearray, pos: int, limit_end: int | None = None) -> tuple[int, bool]:
        """Scan from `pos`; return (where scanning stopped, whether the item ended there).

        `limit_end` is the buffer position a message may not extend past (its start + the ingress
        limit): a head claiming more raises IngressOverrun at once instead of waiting for bytes.
        """
        end = len(data)
        stack = self._stack
        if self._skip:
            take = min(self._skip, end - pos)
            pos += take
            self._skip -= take
            if self._skip:
                return pos, False
            if self._text_from >= 0:
                _utf8(data, self._text_from, pos)
                self._text_from = -1
            if _item_done(stack):
                return pos, True
        while pos < end:
            initial = data[pos]
            frame = stack[-1] if stack else None
            if frame is not None and frame[1] < 0 and _ONE_BYTE[initial]:
                # a run of one-byte items (small ints, simple values) inside an array or map: counted in C
                run = 1
                if pos + 1 < end and _ONE_BYTE[data[pos + 1]]:
                    run = _ONE_BYTE_RUN.match(data, pos).end() - pos  # type: ignore[union-attr]
                if frame[0] != _UNTIL_BREAK:
                    run = min(run, frame[0])
                    frame[0] -= run - 1  # the last one is counted by _item_done, which may close the frame
                frame[2] += run - 1
                pos += run
                if _item_done(stack):
                    return pos, True
                continue
            major = initial >> 5
            info = initial & 0x1F
            if frame is not None and frame[1] >= 0:  # inside an indefinite string: chunks or break only
                if initial == 0xFF:
                    pos += 1
                    stack.pop()
                    if _item_done(stack):
                        return pos, True
                    continue
                if major != frame[1] or info == 31:
                    raise MalformedCbor(f"a definite chunk of major type {frame[1]}", offset=pos)
            if info == 31:
                if major == 7:
                    if frame is None or frame[0] != _UNTIL_BREAK:
                        raise MalformedCbor("a data item, not a break code", offset=pos)
                    if frame[1] == _MAP and frame[2] % 2:
                        raise MalformedCbor("a value after the last map key", offset=pos)
                    pos += 1
                    stack.pop()
                    if _item_done(stack):
                        return pos, True
                    continue
                if major in (0, 1, 6):
                    raise MalformedCbor(f"a definite argument for major type {major}", offset=pos)
                if len(stack) >= MAX_DEPTH:
                    raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=pos + 1)
                pos += 1
                stack.append([_UNTIL_BREAK, major if major in (2, 3) else (_MAP if major == 5 else _ARRAY), 0])
                continue
            if info < 24:
                n = info
                after = pos + 1
            elif info < 28:
                after = pos + 1 + WIDTH_OF_INFO[info]
                if after > end:
                    return pos, False  # the head itself is split: read it whole next time
                n = int.from_bytes(data[pos + 1 : after], "big")
                if major == 7 and info == 24 and n < 32:
                    raise MalformedCbor("two-byte simple value of at least 32", offset=pos)
            else:
                raise MalformedCbor(f"additional info {info} is reserved", offset=pos)
            if major in (2, 3):
                _check_claim(after + n, limit_end, f"{n} bytes of string", pos)
                if after + n > end:
                    self._skip = after + n - end
                    if major == 3:
                        self._text_from = after
                    return end, False
                if major == 3:
                    _utf8(data, after, after + n)
                pos = after + n
            elif major in (4, 5):
                pos = after
                count = n if major == 4 else 2 * n
                if count:
                    _check_claim(after + count, limit_end, f"{count} items", pos)
                    if len(stack) >= MAX_DEPTH:
                        raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=pos)
                    stack.append([count, _ARRAY, 0])
                    continue
            elif major == 6:
                pos = after
                if len(stack) >= MAX_DEPTH:
                    raise MalformedCbor(f"nesting no deeper than {MAX_DEPTH}", offset=pos)
                stack.append([1, _ARRAY, 0])
                continue
            else:
                pos = after
            if _item_done(stack):
                return pos, True
        return pos, False


def _check_claim(claimed_end: int, limit_end: int | None, what: str, pos: int) -> None:
    if limit_end is not None and claimed_end > limit_end:
        raise _ClaimTooLarge(what, claimed_end, limit_end, pos)


class _ClaimTooLarge(Exception):
    """Internal: carries a claim past the limit to the reassembler, which knows the limit's numbers."""

    def __init__(self, what: str, claimed_end: int, limit_end: int, pos: int) -> None:
        super().__init__(what)
        self.what, self.claimed_end, self.limit_end, self.pos = what, claimed_end, limit_end, pos


def _utf8(data: bytearray, start: int, stop: int) -> None:
    try:
        data[start:stop].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedCbor("UTF-8 text", offset=start) from None


def _item_done(stack: list[list[int]]) -> bool:
    """Count one finished item against the open containers; True when the outermost is complete."""
    while stack:
        frame = stack[-1]
        if frame[1] >= 0:  # a chunk inside an indefinite string
            return False
        frame[2] += 1
        if frame[0] == _UNTIL_BREAK:
            return False
        frame[0] -= 1
        if frame[0] > 0:
            return False
        stack.pop()
    return True


class StreamReassembler:
    """Rebuilds whole CBOR messages from one (mini-protocol, direction) byte stream.

    `receive_data(payload)` buffers and scans at once (so a fault is raised as soon as its byte
    arrives); `next_message()` hands out each complete message exactly once, then NEED_DATA. `limit` is
    the ingress queue: the bytes received and not yet handed out, as the Haskell mux counts them; None
    means the caller bounds the input (offline use on a known byte run). After any error the stream is
    failed: the messages completed before the fault can still be taken, then every call raises the
    same error again without buffering anything.
    """

    def __init__(self, protocol: str = "", limit: int | None = None) -> None:
        self.protocol = protocol
        self.limit = limit
        self._buffer = bytearray()  # undelivered bytes: complete messages, then the partial one
        self._base = 0  # stream offset of _buffer[0]
        self._scan = 0  # stream offset the scanner reached
        self._start = 0  # stream offset where the message being scanned begins
        self._ends: deque[int] = deque()  # stream offsets where complete, undelivered messages end
        self._items: dict[int, Any] = {}  # the decoded item of a complete message, by its end offset
        self._scanner = ItemScanner()
        self._error: DecodeError | None = None

    @property
    def error(self) -> DecodeError | None:
        """The fault that failed this stream, if any."""
        return self._error

    @property
    def pending(self) -> int:
        """Bytes received and not yet handed out (what the ingress queue holds)."""
        return len(self._buffer)

    @property
    def ready(self) -> int:
        """Complete messages waiting for `next_message()`."""
        return len(self._ends)

    def abort(self, error: DecodeError) -> None:
        """Fail the stream from outside (the bearer failed): keep complete messages, drop the rest."""
        if self._error is None:
            self._error = detached(error)
        self._truncate()

    def receive_data(self, payload: bytes | bytearray | memoryview) -> None:
        """Queue one SDU payload and find every message it completes. Raises the stream's fault."""
        if self._error is not None:
            raise detached(self._error)
        queued = len(self._buffer) + len(payload)
        if self.limit is not None and queued > self.limit:
            self._fail(
                IngressOverrun(
                    f"at most {self.limit} bytes queued (have {queued})",
                    limit=self.limit,
                    observed=queued,
                    protocol=self.protocol,
                    offset=self._base + len(self._buffer),
                )
            )
        self._buffer += payload
        buffer, base = self._buffer, self._base
        scan = self._scan - base
        arrived = len(buffer) - len(payload)  # where this payload starts in the buffer
        whole: bytes | None = None
        try:
            while scan < len(buffer):
                if scan >= arrived and self._scanner.idle:  # between messages, inside this payload
                    whole = bytes(payload) if whole is None else whole
                    scan = arrived + self._parse_whole(whole, scan - arrived, base + arrived)
                    if scan >= len(buffer):
                        break
                limit_end = None if self.limit is None else self._start - base + self.limit
                scan, done = self._scanner.advance(buffer, scan, limit_end)
                if not done:
                    break
                self._ends.append(base + scan)
                self._start = base + scan
        except _ClaimTooLarge as claim:
            self._scan = base + scan
            observed = claim.claimed_end - (self._start - base)
            self._fail(
                IngressOverrun(
                    f"a message within the {self.limit}-byte queue; a head claims {claim.what}, so the"
                    f" message needs at least {observed} bytes",
                    limit=self.limit or 0,
                    observed=observed,
                    protocol=self.protocol,
                    offset=base + claim.pos,
                )
            )
        except DecodeError as exc:
            self._scan = base + scan
            if exc.offset is not None:
                exc.offset += base
            self._fail(exc.located(protocol=self.protocol))
        self._scan = base + scan

    def _parse_whole(self, payload: bytes, pos: int, offset: int) -> int:
        """Messages that lie whole in `payload` from `pos` on (`offset`: the stream offset of the payload's
        first byte), found by decoding them: the item comes with the message, so a Session need not parse
        it again. Stops at the first that does not decode (unfinished, or faulty: the scanner then finds
        and names the fault as for any other delivery) and returns where, as a position in `payload`.
        Each message is tried once at most, so the cost stays linear in the bytes received."""
        while pos < len(payload):
            try:
                item, end = decode_item(payload, pos, allow_trailing=True)
            except DecodeError:
                break
            self._ends.append(offset + end)
            self._items[offset + end] = item
            self._start = offset + end
            pos = end
        self._scan = offset + pos
        return pos

    def next_message(self) -> bytes | NeedData:
        """The next complete message, each exactly once; NEED_DATA if none; the fault once all are out."""
        if self._ends:
            return self.take()
        if self._error is not None:
            raise detached(self._error)
        return NEED_DATA

    def take(self) -> bytes:
        """The oldest complete message (there must be one: see `ready`), cut out of the buffer."""
        at = self._ends.popleft()
        end = at - self._base
        item = self._items.pop(at, _UNPARSED)
        message = bytes(self._buffer[:end]) if item is _UNPARSED else ParsedMessage(self._buffer[:end], item)
        del self._buffer[:end]  # O(1) at the front of a bytearray
        self._base += end
        self._scanner.shift(end)
        return message

    def feed(self, payload: bytes | bytearray | memoryview) -> list[bytes]:
        """`receive_data` then every message now complete. On a fault the messages before it stay
        available through `next_message()`."""
        self.receive_data(payload)
        out: list[bytes] = []
        while self._ends:
            out.append(self.take())
        return out

    def _fail(self, error: DecodeError) -> None:
        """Keep the complete messages; drop the rest; raise the fault now and on every later call."""
        self._error = detached(error)
        self._truncate()
        try:
            raise error
        finally:
            del error  # no cycle error -> traceback -> this frame -> error: freed at once, not by gc

    def _truncate(self) -> None:
        last = (self._ends[-1] if self._ends else self._base) - self._base
        self._buffer = bytearray(self._buffer[:last])  # a new buffer: del would keep the capacity
        self._items = {end: item for end, item in self._items.items() if end - self._base <= last}
        self._scanner = ItemScanner()
