"""The native scanner (_wellformed.c), for type checkers."""

MAX_DEPTH: int

def item_end(data: bytes | bytearray | memoryview, pos: int = 0, enclosing: int = 0, /) -> int: ...
