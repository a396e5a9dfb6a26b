"""The one way the window runs work off its GUI thread.

    run(work, on_done=..., on_error=..., on_progress=..., parent=widget)

starts `work(ctx)` on a worker thread and delivers its result, its error and its progress back
on the GUI thread. `ctx.progress(value)` may be called as often as the work likes (a token at a
time): values are queued and handed over in batches, one delivery per turn of the GUI's event
loop, so a fast stream costs one repaint per frame rather than one per token. `ctx.cancelled`
tells the work to stop; `ctx.on_cancel(fn)` runs `fn` at once, on the cancelling thread, when
the user cancels (a model stream's own cancel, which frees the model before its next token).

When `parent` is destroyed (the user closed the pane) the task is cancelled and its callbacks
are dropped, never run on a dead widget. Work refused because the app is quitting (the store,
the index or a model raised `Closed`) is dropped quietly too: there is nothing to show it on.
Tests wait with `qtbot.waitSignal(task.finished)`.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import Closed

log = logging.getLogger(__name__)
POOL_THREADS = 8  # reads wait on SQLite and streams on the model: more threads than cores

_pool: QThreadPool | None = None
_running: set["Task"] = set()  # a task lives until it has delivered its end
_working = threading.Condition()  # .count: tasks whose work is running now
_working.count = 0  # type: ignore[attr-defined]


def pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(POOL_THREADS)
    return _pool


class Context:
    """What the work sees of its task."""

    def __init__(self, task: "Task") -> None:
        self._task = task

    @property
    def cancelled(self) -> bool:
        return self._task._cancel.is_set()

    def progress(self, value: Any) -> None:
        self._task._push(value)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the task is cancelled (at once, if it already is)."""
        with self._task._lock:
            if not self._task._cancel.is_set():
                self._task._cancel_callbacks.append(callback)
                return
        callback()


class Task(QObject):
    """A running piece of work. `finished` is emitted on the GUI thread after its callbacks,
    whether it succeeded, failed or was cancelled."""

    finished = Signal()
    _progressed = Signal()
    _ended = Signal(bool, object)  # (ok, result or exception)

    def __init__(
        self,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        on_progress: Callable[[list[Any]], None] | None,
        parent: QObject | None,
    ) -> None:
        super().__init__()
        self._on_done, self._on_error, self._on_progress = on_done, on_error, on_progress
        self._parent = parent
        self._cancel = threading.Event()
        self._cancel_callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._queued: list[Any] = []
        self.done = False
        self._progressed.connect(self._deliver_progress)
        self._ended.connect(self._deliver_end)
        if parent is not None:
            parent.destroyed.connect(self.cancel)

    def cancel(self) -> None:
        """Ask the work to stop; safe from any thread, and more than once."""
        with self._lock:
            if self._cancel.is_set():
                return
            self._cancel.set()
            callbacks, self._cancel_callbacks = self._cancel_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("a cancel callback failed")

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _alive(self) -> bool:
        return self._parent is None or shiboken6.isValid(self._parent)

    def _push(self, value: Any) -> None:
        with self._lock:
            self._queued.append(value)
            first = len(self._queued) == 1
        if first:  # one signal per batch: the GUI drains everything queued since
            self._progressed.emit()

    def _take(self) -> list[Any]:
        with self._lock:
            values, self._queued = self._queued, []
        return values

    def _deliver_progress(self) -> None:
        values = self._take()
        if values and self._on_progress is not None and self._alive() and not self.done:
            self._on_progress(values)

    def _deliver_end(self, ok: bool, value: Any) -> None:
        self._deliver_progress()  # what was queued before the end comes first
        self.done = True
        try:
            if not ok and isinstance(value, Closed):
                log.debug("a late result dropped: %s", value)
            elif self._alive():
                if ok and self._on_done is not None:
                    self._on_done(value)
                elif not ok:
                    if self._on_error is not None:
                        self._on_error(value)
                    else:
                        log.error("background task failed", exc_info=value)
        finally:
            _running.discard(self)
            self.finished.emit()


class _Runner(QRunnable):
    def __init__(self, task: Task, work: Callable[[Context], Any]) -> None:
        super().__init__()
        self.task, self.work = task, work

    def run(self) -> None:
        with _working:
            _working.count += 1  # type: ignore[attr-defined]
        try:
            result = self.work(Context(self.task))
        except BaseException as exc:  # delivered to on_error, never lost in the pool
            if not isinstance(exc, Exception):
                log.error("background task ended by %r", exc)
            self.task._ended.emit(False, exc)
        else:
            self.task._ended.emit(True, result)
        finally:
            with _working:
                _working.count -= 1  # type: ignore[attr-defined]
                _working.notify_all()


class Serial:
    """Runs work one piece after another, in the order it was given: an undo stack's steps,
    which the pool's threads would otherwise race (an unlink landing before its link)."""

    def __init__(self) -> None:
        self._last: threading.Event | None = None

    def run(self, work: Callable[[Context], Any], **callbacks: Any) -> Task:
        """As the module's `run`, once the work given before has ended."""
        previous, mine = self._last, threading.Event()
        self._last = mine

        def ordered(ctx: Context) -> Any:
            try:
                if previous is not None:
                    previous.wait()
                return work(ctx)
            finally:
                mine.set()

        return run(ordered, **callbacks)


def wait_for_others(timeout: float = 10.0) -> bool:
    """From inside a task, wait until no other task's work is running (the app's close: the
    store must not be closed under a read or an undo still in flight). False on timeout."""
    with _working:
        return _working.wait_for(lambda: _working.count <= 1, timeout)  # type: ignore[attr-defined]


def run(
    work: Callable[[Context], Any],
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[list[Any]], None] | None = None,
    parent: QObject | None = None,
) -> Task:
    """Start `work(ctx)` on the pool; callbacks arrive on the GUI thread (see the module)."""
    task = Task(on_done, on_error, on_progress, parent)
    _running.add(task)
    pool().start(_Runner(task, work))
    return task
