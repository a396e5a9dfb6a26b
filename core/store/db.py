"""SQLite access shared by the GUI thread, the scheduler and the agents.

Each thread gets its own connection (WAL lets readers run beside a writer). Writes are serialised
by a lock in this process and `BEGIN IMMEDIATE` across processes, so a read never has to be
upgraded into a write mid-transaction — the upgrade is what fails with "database is locked".
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import MnemoError, StorageFull
from core.store.migrations import MIGRATIONS

PRAGMAS = (
    "PRAGMA busy_timeout = 30000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",  # with WAL: durable at each checkpoint, never corrupt
    "PRAGMA secure_delete = ON",  # deleted memories are overwritten on disk, not just unlinked
    "PRAGMA temp_store = MEMORY",
)


class Database:
    """One SQLite file, one connection per thread, one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Held by a write transaction; callers may hold it longer to keep a follow-up write
        # (the vector index) in the same order as the commits.
        self.lock = threading.RLock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        with self.write() as db:  # WAL must be set outside a transaction: see _connect
            _migrate(db)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use."""
        handle = getattr(self._local, "db", None)
        if handle is None:
            if self._closed:
                raise MnemoError("the memory store is closed")
            handle = self._local.db = self._connect()
        return handle

    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        for pragma in PRAGMAS:
            conn.execute(pragma)
        with self.lock:
            self._connections.append(conn)
        return sqlite_utils.Database(conn)

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction: all of it is committed, or none of it. Nested calls join it."""
        with self.lock:
            db = self.db
            if db.conn.in_transaction:
                with db.atomic():  # a savepoint inside the open transaction
                    yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                if db.conn.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
                    raise StorageFull(
                        f"{self.path.parent} is out of space ({exc}); nothing was written. "
                        "Free some disk space and try again."
                    ) from exc
                raise

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params or ()))

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.db.execute(sql, params or ()).fetchone()
        return None if row is None else row[0]

    def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it, so deleted pages leave no copy."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self.lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _migrate(db: sqlite_utils.Database) -> None:
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise MnemoError(
            f"this data folder was written by a newer Mnemo (schema {current}, this version knows "
            f"{len(MIGRATIONS)}); upgrade Mnemo to open it"
        )
    for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        migration(db)
        db.execute(f"PRAGMA user_version = {number}")
