"""The reference peer: asyncio at the edges only; every decision stays in the sans-I/O layers below."""
