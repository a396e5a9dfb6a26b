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
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

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
