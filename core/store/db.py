"""SQLite access shared by the GUI thread, the scheduler and the agents.

Each thread gets its own connection (WAL lets readers run beside a writer), closed when that
thread ends: a GUI's thread pool or a scheduler starts threads all day. Writes are serialised
by a lock in this process and `BEGIN IMMEDIATE` across processes, so a read never has to be
upgraded into a write mid-transaction — the upgrade is what fails with "database is locked".
"""

import logging
import shutil
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import Closed, MnemoError, ReadOnlyFolder, StorageFull
from core.store.migrations import MIGRATIONS
from core.uses import Uses

log = logging.getLogger(__name__)
IN_CHUNK = 500  # values in one IN (...): older SQLite builds allow 999 parameters a statement
FULL_BYTES = 1 << 20  # less free space than this, and a failure to open for writing is a full disk
CLOSE_WAIT_S = 120  # a use still running after this at close keeps its connection open
PRAGMAS = (
    "PRAGMA busy_timeout = 30000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",  # with WAL: durable at each checkpoint, never corrupt
    "PRAGMA secure_delete = ON",  # deleted memories are overwritten on disk, not just unlinked
    "PRAGMA temp_store = MEMORY",
)


class Database:
    """One SQLite file, one connection per thread, one writer at a time.

    Every read and write is a use (core.uses): `close()` waits for those under way and refuses
    new ones with Closed, so no connection is ever closed under a thread stepping on it.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: the folder cannot be written (a read-only mount, a folder the user may
        only read). The store is then opened for reading, and every write is refused with
        ReadOnlyFolder before it starts. A disk too full to open the store for writing opens
        it the same way (`full`), and writes are refused with StorageFull."""
        self.path = path
        self.read_only = read_only
        self.full = False
        self._local = threading.local()
        # Held by a write transaction; callers may hold it longer to keep a follow-up write
        # (the vector index) in the same order as the commits.
        self.lock = threading.RLock()
        self._connections: set[sqlite3.Connection] = set()
        self._uses = Uses("memory store")
        self.commits = 0  # by this process: tells its own writes from another process's
        if not read_only:
            try:
                with self.write() as db:  # WAL must be set outside a transaction: see _connect
                    _migrate(db)
                return
            except (sqlite3.OperationalError, StorageFull) as exc:
                # SQLite needs room for its -shm and -wal files before it can write; on a full
                # disk it cannot even open the store for that ("disk I/O error"). Reading needs
                # no room: the user can still read and search while they free some space.
                if not _out_of_space(path.parent):
                    raise
                log.warning(
                    "%s is out of space: the memory store opens for reading (%s)", path.parent, exc
                )
                self.read_only = self.full = True
                self._drop_connections()  # made for writing: this thread's is opened again
        if not path.exists():
            error = StorageFull if self.full else ReadOnlyFolder
            why = "is out of space" if self.full else "is read-only"
            raise error(f"the data folder {path.parent} {why}: no memory store can be made in it")
        if _check_version(self.db) < len(MIGRATIONS):
            raise self.refused(
                "its store must first be upgraded by this Mnemo, which needs it writable"
            )

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use. Outside this class, only for a
        test's own statements: the methods below are the uses that close waits for."""
        holder = getattr(self._local, "holder", None)
        if holder is None:
            if self._uses.closed:
                raise Closed("the memory store is closed")
            holder = self._local.holder = _Holder(self._connect())
            # The thread-local holder is dropped when its thread ends; so is the connection.
            weakref.finalize(holder, self._release, holder.db.conn)
        return holder.db

    @property
    def connections(self) -> int:
        """Connections open now (one per live thread that has used the store)."""
        return len(self._connections)

    def _connect(self) -> sqlite_utils.Database:
        conn = self._open()
        if not self.read_only:
            conn.execute("PRAGMA journal_mode = WAL")
        for pragma in PRAGMAS:
            conn.execute(pragma)
        with self.lock:
            self._connections.add(conn)
        return sqlite_utils.Database(conn)

    def _open(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # A WAL database opens read-only only where its -wal and -shm files exist (SQLite
        # cannot make them here); a store closed cleanly has none, and is opened as immutable
        # (nothing can change it while the folder is read-only). A -wal file left by a crash
        # holds the last commits: mode=ro reads them from it.
        wal = self.path.with_name(self.path.name + "-wal")
        mode = "mode=ro" if wal.exists() and wal.stat().st_size else "immutable=1"
        return sqlite3.connect(
            f"{self.path.resolve().as_uri()}?{mode}",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )

    def _release(self, conn: sqlite3.Connection) -> None:
        with self.lock:
            if conn in self._connections:
                self._connections.discard(conn)
                conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction: all of it is committed, or none of it. Nested calls join it."""
        if self.read_only:
            raise self.refused("nothing was saved")
        with self._uses(), self.lock:
            db = self.db
            if db.conn.in_transaction:
                with db.atomic():  # a savepoint inside the open transaction
                    yield db
                return
            try:
                db.execute("BEGIN IMMEDIATE")
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
                if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                    # The folder became read-only while the store was open (a remount).
                    raise ReadOnlyFolder(self._read_only_message("nothing was saved")) from exc
                raise

    def refused(self, what: str) -> MnemoError:
        """Why a store opened for reading cannot be written, in one line."""
        if self.full:
            return StorageFull(
                f"{self.path.parent} is out of space: {what}. Your memories can still be read "
                "and searched; free some disk space and restart Mnemo to change them."
            )
        return ReadOnlyFolder(self._read_only_message(what))

    def _read_only_message(self, what: str) -> str:
        return (
            f"the data folder {self.path.parent} is read-only: {what}. Your memories can "
            "still be read and searched; make the folder writable to change them."
        )

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self._uses():
            return list(self.db.query(sql, params or ()))

    def tuples(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """The rows of `sql` as tuples (cheaper than dicts, for rankings of many rows)."""
        with self._uses():
            return self.db.execute(sql, params or ()).fetchall()

    def query_in(
        self, sql: str, values: Sequence[Any], before: Sequence[Any] = ()
    ) -> Iterator[dict[str, Any]]:
        """Rows of `sql`, whose one `{marks}` stands for an IN list of `values`, a chunk of
        values at a time (SQLite bounds the parameters of one statement). `before`: the
        parameters that come before the list."""
        values = list(values)
        for start in range(0, len(values), IN_CHUNK):
            part = values[start : start + IN_CHUNK]
            marks = ",".join("?" * len(part))
            # A chunk is read whole inside its use: a caller that stops iterating holds none.
            yield from self.query(sql.format(marks=marks), [*before, *part])

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self._uses():
            row = self.db.execute(sql, params or ()).fetchone()
        return None if row is None else row[0]

    def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it, so deleted pages leave no copy."""
        with self._uses():
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def private_connection(self) -> sqlite3.Connection:
        """A connection of the caller's own, outside the per-thread ones; the caller closes it."""
        with self._uses():
            conn = self._open()
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    @property
    def closed(self) -> bool:
        return self._uses.closed

    def close(self) -> None:
        """Refuse new reads and writes, wait for those under way, then close every thread's
        connection. One still in use after CLOSE_WAIT_S stays open rather than be closed
        under its thread (which would crash the process); the process is ending anyway."""
        if not self._uses.close(timeout=CLOSE_WAIT_S):
            log.warning("the memory store closed with a read still under way")
            return
        self._drop_connections()

    def _drop_connections(self) -> None:
        with self.lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._local = threading.local()


class _Holder:
    """This thread's connection; a plain object so that a finalizer can watch it."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db


def _out_of_space(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < FULL_BYTES
    except OSError:
        return False


def _check_version(db: sqlite_utils.Database) -> int:
    """The store's schema version; one this Mnemo does not know is refused."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise MnemoError(
            f"this data folder was written by a newer Mnemo (schema {current}, this version knows "
            f"{len(MIGRATIONS)}); upgrade Mnemo to open it"
        )
    return current


def _migrate(db: sqlite_utils.Database) -> None:
    current = _check_version(db)
    for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        migration(db)
        db.execute(f"PRAGMA user_version = {number}")
