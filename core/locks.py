"""The cross-process maintenance lock of a data folder.

Purging deletions, compacting the vector index and making a backup rewrite files that every
process shares; two of them at once would compact the same LanceDB table twice or race a
backup's name. One lock file per data folder serialises them across processes (filelock: an
OS lock, released however its holder ends) and across threads of one process (the lock is
per thread, and re-entrant within one, so a purge may compact under the lock it holds).
"""

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
LOCK_FILE = "maintenance.lock"
# bench.reliability sets this to a file where each holder appends when it takes and leaves the
# lock, to prove that no two maintenance runs ever overlapped across its processes.
TRACE_ENV = "MNEMO_MAINTENANCE_TRACE"
_locks: dict[Path, FileLock] = {}
_guard = threading.Lock()


def _lock(folder: Path) -> FileLock:
    path = Path(folder).resolve() / LOCK_FILE
    with _guard:
        if path not in _locks:
            _locks[path] = FileLock(str(path), mode=0o600)
        return _locks[path]


@contextmanager
def maintenance(folder: Path, *, timeout: float = 300) -> Iterator[bool]:
    """Hold the folder's maintenance lock; yields False when it could not be had within
    `timeout` seconds or the folder is read-only (the caller skips and retries later)."""
    lock = _lock(folder)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        log.info("maintenance of %s skipped: another process is at it", folder)
        yield False
        return
    except OSError as exc:  # a read-only folder: nothing can be compacted there anyway
        log.warning("maintenance of %s skipped: %s", folder, exc)
        yield False
        return
    _trace("begin")
    try:
        yield True
    finally:
        _trace("end")
        lock.release()


def _trace(event: str) -> None:
    path = os.environ.get(TRACE_ENV)
    if path:  # one short O_APPEND write: lines of several processes never interleave
        line = f"{os.getpid()} {threading.get_ident()} {event} {time.time_ns()}\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class TableLock:
    """A cross-process shared/exclusive lock on one file (flock), for one LanceDB table.

    LanceDB's compaction deletes old versions and unreferenced files. A process writing or
    reading from a version another process has just compacted away fails with "Not found"
    (seen in `make test`: `mnemo add` beside the app's purge). Every use of the table holds this
    lock shared (about a microsecond); compaction holds it exclusive. Callers hold their own
    thread lock around it, so one instance is used by one thread at a time. Where flock is
    missing (Windows, whose open files cannot be deleted anyway) and in a read-only folder,
    which nobody compacts, it holds nothing.
    """

    def __init__(self, path: Path) -> None:
        self._fd: int | None = None
        self._depth = 0
        self._exclusive = False
        if fcntl is None:
            return
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                self._fd = os.open(path, flags, 0o600)
                break
            except OSError:
                continue

    def shared(self, *, blocking: bool = True) -> AbstractContextManager[bool]:
        """Hold the lock shared; yields False when `blocking=False` and compaction holds it."""
        return self._hold(exclusive=False, blocking=blocking)

    def exclusive(self, *, timeout: float | None = None) -> AbstractContextManager[bool]:
        """Hold the lock exclusive; yields False when other holders kept it past `timeout`
        seconds (a peer stopped in a debugger must not stall this process's writers)."""
        return self._hold(exclusive=True, blocking=True, timeout=timeout)

    @contextmanager
    def _hold(
        self, *, exclusive: bool, blocking: bool, timeout: float | None = None
    ) -> Iterator[bool]:
        if self._depth:  # nested within this thread's hold, which covers it
            if exclusive and not self._exclusive:
                raise RuntimeError("TableLock: exclusive asked for inside a shared hold")
            self._depth += 1
            try:
                yield True
            finally:
                self._depth -= 1
            return
        if self._fd is not None:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            if not self._take(mode, blocking=blocking, timeout=timeout):
                yield False
                return
        self._depth, self._exclusive = 1, exclusive
        try:
            yield True
        finally:
            self._depth, self._exclusive = 0, False
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _take(self, mode: int, *, blocking: bool, timeout: float | None) -> bool:
        assert self._fd is not None
        if blocking and timeout is None:
            fcntl.flock(self._fd, mode)
            return True
        deadline = time.monotonic() + (timeout or 0)
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not blocking or time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)  # flock has no timed wait; holders keep it milliseconds

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
