"""The order in which embeddings are made when several threads want the one embedding model.

The model embeds one call at a time. A long call (a conversation being filed: hundreds of
texts) used to hold it call after call while a question's one-line query waited behind it:
the waiting thread was woken at each release, but the filing thread, already running, took
the lock again first (measured in bench.gui: 6 of 9 s of two answers spent waiting there).
So here long calls are cut into chunks, and each call or chunk takes its turn: someone
waiting first (a short call, or a thread inside `waited_on()`), then the others in the order
they asked. A query waits for at most one chunk.
"""

import heapq
import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from core.embed import Embedder

CHUNK = 16  # texts embedded in one turn (~2 packs of 128 tokens: tens of ms)
SHORT = 4  # texts: a call this short is a search's query, which someone waits for

_local = threading.local()


@contextmanager
def waited_on() -> Iterator[None]:
    """Embeddings made by this thread in the block go first: someone is waiting for them
    (a question being answered)."""
    before = getattr(_local, "urgent", False)
    _local.urgent = True
    try:
        yield
    finally:
        _local.urgent = before


class QueriesFirst:
    """An `Embedder` that hands its model to the calls someone waits for first (see module)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._cond = threading.Condition()
        self._busy = False
        self._waiting: list[tuple[int, int]] = []  # (0 first / 1 in turn, order) heap
        self._order = itertools.count()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        first = len(texts) <= SHORT or getattr(_local, "urgent", False)
        if len(texts) <= CHUNK:
            with self._turn(first):
                return self.inner.embed(texts)
        parts = []
        for start in range(0, len(texts), CHUNK):
            with self._turn(first):
                parts.append(self.inner.embed(texts[start : start + CHUNK]))
        return np.concatenate(parts)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    @contextmanager
    def _turn(self, first: bool) -> Iterator[None]:
        ticket = (0 if first else 1, next(self._order))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            self._cond.notify_all()  # (a test waits until a call queues)
            self._cond.wait_for(lambda: not self._busy and self._waiting[0] == ticket)
            heapq.heappop(self._waiting)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
