"""An answer for another tool stops generating when the tool cancels or goes away (`Stop`).

What the agent may quote for a tool (core blocks as served, screen text only where allowed) is
set where the service makes it (MemoryService._agent); the team never edits the persona on a
tool's behalf (agents.team_apply)."""

import threading
from collections.abc import Callable


class Stop:
    """Stops an answer from another thread (the server's event loop, when the client cancels
    or goes away), whether the answer has started generating yet or not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._stop: Callable[[], None] | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def __call__(self) -> None:
        with self._lock:
            self._stopped = True
            stop = self._stop
        if stop is not None:
            stop()

    def bind(self, stop: Callable[[], None]) -> None:
        """What stopping does from now on; done at once when stopped already."""
        with self._lock:
            self._stop = stop
            stopped = self._stopped
        if stopped:
            stop()
