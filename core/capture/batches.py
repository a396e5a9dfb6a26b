"""Captures handed to the memory agents in batches: every `captures` stored captures or every
`minutes`, whichever comes first, with the chat turns of the same span. One worker thread gives
the batch its vectors (one LanceDB write per batch instead of one per capture) and runs the
agents on it. When the agents are slower than the screen, pending batches are merged, and past
`max_sources` the oldest captures of a merged batch are left out of it: they stay stored and
searchable, only no agent reads them. Both are counted."""

import logging
import threading
import time
from collections.abc import Callable

from core.capture.queues import CoalescingQueue
from core.memory.models import Source

log = logging.getLogger(__name__)


class Batcher:
    def __init__(
        self,
        store,  # MemoryStore
        run: Callable[[list[Source]], object] | None = None,
        *,
        captures: int = 20,
        minutes: float = 10,
        max_pending: int = 2,
        max_sources: int = 200,
    ) -> None:
        self.store = store
        self.run = run
        self.captures, self.seconds = captures, minutes * 60
        self.max_sources = max_sources
        self._open: list[Source] = []
        self._chat: list[Source] = []
        self._opened_at: float | None = None
        self._lock = threading.Lock()
        self._queue: CoalescingQueue[list[Source]] = CoalescingQueue(max_pending, self._combine)
        self.batches = 0
        self.left_out = 0  # sources no agent read because the agents were behind
        self.failed = 0
        self._outstanding = 0  # batches handed over and not yet processed
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        self._worker = threading.Thread(target=self._work, name="mnemo-batches", daemon=True)
        self._worker.start()

    def add(self, source: Source) -> None:
        """A stored capture; flushes when the batch is full."""
        with self._lock:
            self._open.append(source)
            if self._opened_at is None:
                self._opened_at = time.monotonic()
            full = sum(1 for s in self._open if s.kind == "capture") >= self.captures
        if full:
            self.flush()

    def add_chat(self, turn: Source) -> None:
        """A stored chat turn, read with the captures around it."""
        with self._lock:
            self._open.append(turn)
            if self._opened_at is None:
                self._opened_at = time.monotonic()

    def poll(self) -> None:
        """Flush a batch that has waited `minutes`; called on every capture tick."""
        with self._lock:
            due = self._opened_at is not None and time.monotonic() - self._opened_at >= self.seconds
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            sources, self._open, self._opened_at = self._open, [], None
        if sources:
            with self._lock:
                self._outstanding += 1
            self._queue.put(sorted(sources, key=lambda s: s.occurred_at))

    @property
    def pending(self) -> int:
        with self._lock:
            return self._outstanding

    def _combine(self, older: list[Source], newer: list[Source]) -> list[Source]:
        with self._lock:
            self._outstanding -= 1  # two batches became one
        both = older + newer
        extra = len(both) - self.max_sources
        if extra > 0:
            self.left_out += extra
            log.warning("the memory agents are behind: %d captures left out of a batch", extra)
            both = both[extra:]
        return both

    def _work(self) -> None:
        while not self._stop.is_set():
            self._process_next(timeout=0.5)

    def _process_next(self, timeout: float) -> bool:
        """Process the oldest batch handed over, if one comes within `timeout`."""
        batch = self._queue.get(timeout=timeout)
        if batch is None:
            return False
        try:
            self.process(batch)
        finally:
            with self._lock:
                self._outstanding -= 1
        return True

    def process(self, batch: list[Source]) -> None:
        """Embed a batch and run the agents on it (the worker's job; `once` calls it too)."""
        try:
            self.store.embed_sources([s.id for s in batch])
            if self.run is not None:
                texts = [s for s in batch if s.text.strip()]
                if texts:
                    self.run(texts)
            self.batches += 1
        except Exception as exc:  # a failed batch must not stop capture; its sources are kept
            self.failed += 1
            log.error("a capture batch failed (its captures stay stored): %s", exc, exc_info=True)

    def process_pending(self) -> None:
        """Process the batches handed over, on this thread (when no worker runs)."""
        while self._process_next(timeout=0):
            pass

    def drain(self, timeout: float = 60) -> None:
        """Wait for the batches already handed over (at stop)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._queue.close()
        if self._worker is not None:
            self._worker.join(timeout=5)
