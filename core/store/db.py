"""SQLite access shared by the GUI thread, the scheduler and the agents.

Each thread gets its own connection (WAL lets readers run beside a writer), closed when that
thread ends: a GUI's thread pool or a scheduler starts threads all day. Writes are serialised
by a lock in this process and `BEGIN IMMEDIATE` across processes, so a read never has to be
upgraded into a write mid-transaction — the upgrade is what fails with "database is locked".
"""

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import MnemoError, StorageFull
from core.store.migrations import MIGRATIONS

IN_CHUNK = 500  # values in one IN (...): older SQLite builds allow 999 parameters a statement
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
        self._connections: set[sqlite3.Connection] = set()
        self._closed = False
        self.commits = 0  # by this process: tells its own writes from another process's
        with self.write() as db:  # WAL must be set outside a transaction: see _connect
            _migrate(db)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use."""
        holder = getattr(self._local, "holder", None)
        if holder is None:
            if self._closed:
                raise MnemoError("the memory store is closed")
            holder = self._local.holder = _Holder(self._connect())
            # The thread-local holder is dropped when its thread ends; so is the connection.
            weakref.finalize(holder, self._release, holder.db.conn)
        return holder.db

    @property
    def connections(self) -> int:
        """Connections open now (one per live thread that has used the store)."""
        return len(self._connections)

    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        for pragma in PRAGMAS:
            conn.execute(pragma)
        with self.lock:
            self._connections.add(conn)
        return sqlite_utils.Database(conn)

    def _release(self, conn: sqlite3.Connection) -> None:
        with self.lock:
            if conn in self._connections:
                self._connections.discard(conn)
                conn.close()

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
                self.commits += 1
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

    def query_in(
        self, sql: str, values: Sequence[Any], before: Sequence[Any] = ()
    ) -> Iterator[dict[str, Any]]:
        """Rows of `sql`, whose one `{marks}` stands for an IN list of `values`, a chunk of
        values at a time (SQLite bounds the parameters of one statement). `before`: the
        parameters that come before the list."""
        values = list(values)
        for start in range(0, len(values), IN_CHUNK):
            part = values[start : start + IN_CHUNK]
            yield from self.db.query(sql.format(marks=",".join("?" * len(part))), [*before, *part])

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.db.execute(sql, params or ()).fetchone()
        return None if row is None else row[0]

    def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it, so deleted pages leave no copy."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def private_connection(self) -> sqlite3.Connection:
        """A connection of the caller's own, outside the per-thread ones; the caller closes it."""
        if self._closed:
            raise MnemoError("the memory store is closed")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def close(self) -> None:
        with self.lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()


class _Holder:
    """This thread's connection; a plain object so that a finalizer can watch it."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db


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
