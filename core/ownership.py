"""Which process owns a data folder's background work (capture, purge, consolidation).

Two processes capturing the same screen into one store would write every frame twice, and two
consolidations would merge the same memories twice. The owner holds an OS file lock on
`background.lock`; the lock ends with the process, however it ends, so a crash leaves no stale
owner. Everything else (reading, asking, adding memories) works in any number of processes.
"""

import contextlib
import os
from pathlib import Path

from core.errors import MnemoError, ReadOnlyFolder

try:
    import fcntl
except ImportError:  # Windows: no flock; msvcrt's byte-range lock does the same job
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_FILE = "background.lock"


class BackgroundBusy(MnemoError):
    """Another process owns this data folder's background work."""


class BackgroundOwner:
    """Holds the background lock of one data folder until `release()` or process exit."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._fd: int | None = None
        self.read_only = False  # the lock file could not be opened: the folder is read-only

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; False (at once, never waiting) if someone does."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only folder: no background work can be done in it
            self.read_only = True
            return False
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):  # the pid is for messages; a full disk drops it
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def owner_pid(self) -> int | None:
        """The pid written by the holder (for messages), if any."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def require(self, what: str) -> None:
        """Take the lock or raise BackgroundBusy naming the owner."""
        if not self.acquire():
            if self.read_only:
                raise ReadOnlyFolder(
                    f"cannot {what}: the data folder {self.path.parent} is read-only"
                )
            pid = self.owner_pid()
            owner = f"process {pid}" if pid else "another process"
            raise BackgroundBusy(
                f"cannot {what}: {owner} (the Mnemo app or `mnemo capture start`) already runs "
                "this data folder's background work"
            )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
