"""One worker thread per loaded model, taking jobs from a priority queue.

A llama.cpp model is not thread-safe, and one CPU can only run one generation well at a time:
so every use of a model goes through its own thread, in priority order — the user waiting in
the chat pane first, memory writing next, consolidation last. The model loads on the first job,
so the app starts before it is ready.
"""

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Generic, TypeVar

from core.errors import MnemoError

log = logging.getLogger(__name__)
T = TypeVar("T")
BUFFER = 64  # pieces a stream holds before its producer waits for the reader
EMIT_POLL_S = 0.2  # how often a waiting producer looks whether its job was cancelled


class Priority(IntEnum):
    CHAT = 0
    MEMORY = 1
    CONSOLIDATION = 2


class ModelError(MnemoError):
    """A model could not be loaded or could not answer."""


class Cancelled(ModelError):
    """The job was cancelled, timed out, or the service shut down before it finished."""


class Preempted(Exception):
    """Raised by a job's work to give the model to a job of higher priority: the service
    puts it back in the queue, where it starts again from the beginning."""


class Job(Generic[T]):
    """A unit of work for the model's thread. `result()` waits for it; `cancel()` stops it
    before it starts, or at its next check (generation checks between tokens)."""

    def __init__(self, work: Callable[[Any, "Job[T]"], T], priority: Priority) -> None:
        self.work = work
        self.priority = priority
        self._done = threading.Event()
        self._cancelled = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        self.order = 0  # FIFO within a priority, kept when the job is put back
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def result(self, timeout: float | None = None) -> T:
        """The job's return value; raises its error, or Cancelled when it timed out."""
        if not self._done.wait(timeout):
            self.cancel()
            raise Cancelled(f"the model did not answer within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the job ends, however it ends (at once if it has)."""
        with self._callbacks_lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _finish(self, result: T | None = None, error: BaseException | None = None) -> None:
        with self._callbacks_lock:
            self._result, self._error = result, error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class ModelService:
    """Runs jobs against one model on one thread, highest priority first, FIFO within one."""

    def __init__(self, load: Callable[[], Any], *, name: str = "model") -> None:
        self._load = load
        self.name = name
        self._model: Any = None
        self.current: Job[Any] | None = None  # the job the model is running now
        self.preemptions = 0  # jobs that gave way to a higher priority (a benchmark's figure)
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"mnemo-{name}", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[Any, Job[T]], T], priority: Priority) -> Job[T]:
        """Queue `work(model, job)`; returns at once with a Job to wait on."""
        job: Job[T] = Job(work, priority)
        with self._lock:
            if self._closed:
                job._finish(error=Cancelled(f"the {self.name} service is shut down"))
                return job
            job.order = next(self._order)
            self._queue.put((int(priority), job.order, job))
        return job

    def outranked(self, job: Job[Any]) -> bool:
        """Whether a job of higher priority is waiting: work that can start over (writing a
        memory) raises Preempted between tokens, so that the user's question never waits
        for a whole memory to be written."""
        with self._queue.mutex:
            heap = self._queue.queue
            return bool(heap) and heap[0][0] < int(job.priority)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (its first job loads it)."""
        return self._model is not None

    @property
    def pending(self) -> int:
        """Jobs waiting for the model (for a status line)."""
        return self._queue.qsize()

    def run(
        self, work: Callable[[Any, Job[T]], T], priority: Priority, timeout: float | None = None
    ) -> T:
        return self.submit(work, priority).result(timeout)

    def stream(
        self,
        produce: Callable[[Any, Job[None], Callable[[str], None]], None],
        priority: Priority,
        timeout: float | None = None,
    ) -> "TextStream":
        """Pieces of text as `produce(model, job, emit)` emits them on the model's thread.

        Closing or cancelling the stream (a `break`, the user pressing stop) cancels the job.
        """
        stream = TextStream(timeout)
        # The job holds the stream's queue, not the stream: a stream its reader abandoned is
        # collected at once, and that cancels the job.
        pieces, room, end = stream.pieces, stream.room, TextStream.END

        def emitter(job: Job[None]) -> Callable[[str], None]:
            def emit(piece: str) -> None:
                # Back-pressure: a reader that falls behind holds the producer once BUFFER
                # pieces wait; one that stopped reading cancels the job, which frees it.
                while not room.acquire(timeout=EMIT_POLL_S):
                    if job.cancelled:
                        return
                if not job.cancelled:
                    pieces.put(piece)

            return emit

        stream.job = self.submit(lambda model, job: produce(model, job, emitter(job)), priority)
        # Tied to the job's end, not to `produce` returning: a model that fails to load ends
        # the job before `produce` ever runs.
        stream.job.on_done(lambda: pieces.put(end))
        return stream

    def close(self, timeout: float | None = 30, *, cancel_running: bool = False) -> None:
        """Stop taking jobs, cancel the queued ones, let the running one finish (or, with
        `cancel_running`, stop at its next token), and join the thread, which frees the model
        on its way out: a model is never freed under a job using it."""
        with self._lock:
            self._closed = True
            running = self.current
            if cancel_running and running is not None:
                running.cancel()
            while True:
                try:
                    _, _, job = self._queue.get_nowait()
                except queue.Empty:
                    break
                job.cancel()
                job._finish(error=Cancelled(f"the {self.name} service shut down"))
            self._queue.put((-1, -1, None))  # wakes the thread, ahead of everything
        self._thread.join(timeout)

    def _unload(self) -> None:
        """Free the model on its own thread, now rather than at interpreter exit."""
        model, self._model = self._model, None
        close = getattr(model, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing the %s model failed", self.name)

    def _run(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                self._unload()
                return
            if job.cancelled:
                job._finish(error=Cancelled("cancelled before it started"))
                continue
            self.current = job
            try:
                if self._model is None:
                    self._model = self._load()
                job._finish(job.work(self._model, job))
            except Preempted:
                self.preemptions += 1
                with self._lock:
                    if self._closed:
                        job._finish(error=Cancelled(f"the {self.name} service shut down"))
                    else:
                        self._queue.put((int(job.priority), job.order, job))
            except BaseException as exc:  # delivered to the caller, never lost in the thread
                if not isinstance(exc, MnemoError):
                    log.exception("%s job failed", self.name)
                job._finish(error=exc if isinstance(exc, MnemoError) else ModelError(str(exc)))
            finally:
                self.current = None


class TextStream:
    """An iterator over a streaming job's text.

    `cancel()` works from any thread (the GUI's Stop button, while a worker iterates): the job
    sees its flag before the next token, and the iterating thread wakes at once instead of
    waiting for that token. `close()` is the same for the iterating thread itself.
    """

    END = object()

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.job: Job[None] | None = None
        self.pieces: queue.Queue = queue.Queue()  # unbounded: the end never waits for room
        self.room = threading.Semaphore(BUFFER)  # pieces the producer may still put
        self._finished = False

    def __iter__(self) -> "TextStream":
        return self

    def __next__(self) -> str:
        if self._finished:
            raise StopIteration
        try:
            piece = self.pieces.get(timeout=self.timeout)
        except queue.Empty:
            self.cancel()
            raise Cancelled(f"the model produced nothing for {self.timeout:g} s") from None
        if piece is not self.END:
            self.room.release()
            return str(piece)
        self._finished = True
        assert self.job is not None
        if self.job.cancelled:
            raise StopIteration
        self.job.result()  # re-raise the job's error, if it failed
        raise StopIteration

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.room.release()  # a producer waiting for room sees the cancel at once
        self.pieces.put(self.END)

    close = cancel

    def __del__(self) -> None:
        # An abandoned stream (a `break` out of a for loop) must not keep the model busy.
        if not self._finished and self.job is not None:
            self.job.cancel()
            self.room.release()
