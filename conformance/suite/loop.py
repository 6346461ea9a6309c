"""The suite's one event loop, on a thread of its own, so that pytest's synchronous cases can share it.

Connections and the listener of an initiator-role run live across cases (the tested initiator reconnects
to the same address), so they need a loop that outlives each case; `asyncio.run` per case would not do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SuiteLoop:
    """An event loop running on a daemon thread; `run` executes a coroutine there and waits for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="conformance-suite-loop", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coroutine` on the loop; after `timeout` seconds it is cancelled and TimeoutError raised."""
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, timeout), self.loop)
        return future.result(timeout + 5)

    def close(self) -> None:
        """Stop the loop after cancelling whatever still runs on it (bounded: the thread is a daemon)."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(10)
            except Exception:  # noqa: BLE001 - closing is best effort; the thread is a daemon
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
