"""Bounded hand-offs between capture's threads. Capture must never fall behind without bound:
when the next stage is slower than the screen changes, the oldest waiting work is merged into
newer work (frames) or dropped (batch sources, which stay stored and searchable), and counted.
"""

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CoalescingQueue(Generic[T]):
    """A FIFO of at most `size` items. Putting into a full queue takes out the oldest item and
    hands it to `merge(oldest, next_oldest)`, whose result takes the next oldest's place; so no
    change is lost, only the work of reading it twice."""

    def __init__(self, size: int, merge: Callable[[T, T], T]) -> None:
        if size < 1:
            raise ValueError("a queue holds at least one item")
        self.size = size
        self._merge = merge
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self.merged = 0  # items folded into later ones because the queue was full
        self._closed = False

    def put(self, item: T) -> None:
        with self._cond:
            self._items.append(item)
            while len(self._items) > self.size:
                oldest = self._items.popleft()
                self._items[0] = self._merge(oldest, self._items[0])
                self.merged += 1
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item, waiting up to `timeout`; None when there is none or it is closed."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
