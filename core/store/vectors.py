"""The vector index: LanceDB on disk, numpy in memory.

LanceDB is where vectors persist (so start-up need not re-embed anything), keyed by memory id and
derived from SQLite. Queries run on a float32 matrix loaded from it: on this class of machine
(2 cores, 100k × 384) LanceDB took 231 ms brute force, 11–21 ms with an IVF_PQ index (114 s to
build) and 16–30 ms with IVF_HNSW_SQ, where an exact numpy scan took 8 ms. Above
`ann_min_rows` vectors a numpy IVF index (core.store.ivf), built in the background in ~2 s,
cuts the scan to a tenth; rows added since it was built are always scanned exactly.
"""

import contextlib
import logging
import shutil
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from filelock import FileLock

from core.errors import Closed
from core.locks import TableLock, maintenance
from core.settings import IndexSettings
from core.store import ivf as ivf_index
from core.store.matrix import Matrix, VectorFilter, VectorRow
from core.uses import Uses, used

log = logging.getLogger(__name__)
# Compact and prune LanceDB's versions after this many writes (its docs suggest ~20).
WRITES_PER_MAINTENANCE = 20
OPEN_LOCK = "vectors.lock"  # in the data folder: held while a table is opened or made
MAINTENANCE_WAIT_S = 120  # another process compacting: wait this long, then leave it for later
SYNC_SECONDS = 0.5
# How long compaction waits for other processes' reads and writes (milliseconds each) while it
# holds this process's writers back; past it, compaction is put off.
EXCLUSIVE_WAIT_S = 10
CLOSE_WAIT_S = 120  # a use still running after this at close keeps the table open


def _schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("rev", pa.int64(), nullable=False),
            pa.field("type", pa.string(), nullable=False),
            pa.field("event_ts", pa.float64(), nullable=False),
            pa.field("source_app", pa.string(), nullable=False),
            pa.field("sensitivity", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
        ]
    )


class VectorIndex:
    """Vectors keyed by id (memories, or sources in a second table). Every method is safe to
    call from any thread.

    Two locks: `_lock` for LanceDB (writes, loading, compaction, which can take seconds) and
    `_matrix_lock` for the in-memory matrix that searches read. A search takes only the second,
    so it never waits behind a compaction or a write to disk.
    """

    def __init__(
        self,
        folder: Path,
        dim: int,
        settings: IndexSettings | None = None,
        *,
        table: str = "memories",
    ) -> None:
        self.folder = folder
        self.dim = dim
        self.table_name = table
        self.settings = settings or IndexSettings()
        self._lock = threading.RLock()
        self._matrix_lock = threading.RLock()
        self._builder: threading.Thread | None = None
        self._matrix: Matrix | None = None
        self._writes = 0
        self._pending_purge = False
        self._maintainer: threading.Thread | None = None
        self._uses = Uses("vector index")
        self._shared = TableLock(folder.parent / f"vectors-{table}.lock")
        with self._shared.shared():
            self._table = self._open()
            self._seen_version = self._table.version
        self._synced_at = time.monotonic()

    def _connect(self) -> lancedb.DBConnection:
        # Check for other processes' commits on every read: the GUI and the CLI share a folder.
        return lancedb.connect(self.folder, read_consistency_interval=timedelta(0))

    def _sync(self, *, throttle: bool = False) -> None:
        """Drop the in-memory matrix if another process has written since we last looked.

        Asking costs ~0.5 ms (it reads LanceDB's manifest list), so searches ask at most every
        SYNC_SECONDS; writes always ask, to keep the matrix exact before changing it.
        """
        now = time.monotonic()
        if throttle and now - self._synced_at < SYNC_SECONDS:
            return
        self._synced_at = now
        if self._table.version != self._seen_version:
            with self._matrix_lock:
                self._matrix = None

    def _open(self) -> lancedb.table.Table:
        # Two processes opening a new folder at once (the app and `mnemo search`): one made a
        # table while the other found it half made ("not found") and threw the index away.
        try:
            lock: Any = FileLock(str(self.folder.parent / OPEN_LOCK), mode=0o600)
            lock.acquire()
        except OSError:  # a read-only folder: nothing will be created there anyway
            lock = None
        try:
            return self._open_or_create()
        finally:
            if lock is not None:
                lock.release()

    def _open_or_create(self) -> lancedb.table.Table:
        try:
            db = self._connect()
            if self.table_name in db.list_tables().tables:
                table = db.open_table(self.table_name)
                if table.schema == _schema(self.dim):
                    return table
                log.warning("vector table has another shape; rebuilding it from SQLite")
                db.drop_table(self.table_name)
            return db.create_table(self.table_name, schema=_schema(self.dim))
        except (OSError, ValueError, RuntimeError) as exc:
            # The index is derived from SQLite: a broken one is thrown away, not repaired.
            log.warning(
                "vector table %s at %s is unreadable (%s); rebuilding it",
                self.table_name,
                self.folder,
                exc,
            )
            # This table only: the folder holds the other table too, which is fine.
            shutil.rmtree(self.folder / f"{self.table_name}.lance", ignore_errors=True)
            return self._connect().create_table(self.table_name, schema=_schema(self.dim))

    @used
    def count(self) -> int:
        with self._lock, self._shared.shared():
            return self._table.count_rows()

    @used
    def revisions(self) -> dict[str, int]:
        """Every stored id with the memory revision its vector was made from."""
        with self._lock, self._shared.shared():
            # A projected scan: reading the vectors too made start-up 5× slower at 100k rows.
            count = self._table.count_rows()
            if count == 0:
                return {}
            data = self._table.search().select(["id", "rev"]).limit(count).to_arrow()
        return dict(zip(data["id"].to_pylist(), data["rev"].to_pylist(), strict=True))

    @used
    def upsert(self, rows: Sequence[VectorRow], *, new: bool = False) -> None:
        """Store vectors; `new=True` promises no id exists yet, which skips the merge."""
        if not rows:
            return
        for row in rows:
            if row.vector.shape != (self.dim,):
                raise ValueError(f"vector of shape {row.vector.shape}, index needs ({self.dim},)")
        table = pa.Table.from_pylist(
            [{**row.__dict__, "vector": row.vector.astype(np.float32)} for row in rows],
            schema=_schema(self.dim),
        )
        with self._lock, self._shared.shared():
            self._sync()
            if new:
                self._table.add(table)
            else:
                (
                    self._table.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(table)
                )
            with self._matrix_lock:
                if self._matrix is not None:
                    self._matrix.put(rows)
            self._wrote()

    @used
    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._lock, self._shared.shared():
            self._sync()
            for start in range(0, len(ids), 500):
                chunk = ", ".join(f"'{i}'" for i in ids[start : start + 500] if _is_id(i))
                if chunk:
                    self._table.delete(f"id IN ({chunk})")
            with self._matrix_lock:
                if self._matrix is not None:
                    self._matrix.remove(ids)
            self._pending_purge = True
            self._wrote()

    @used
    def reset(self) -> None:
        """Drop every vector (before a full rebuild)."""
        with self._lock, self._shared.exclusive(), self._matrix_lock:
            db = self._connect()
            db.drop_table(self.table_name)
            self._table = db.create_table(self.table_name, schema=_schema(self.dim))
            self._matrix = None
            self._seen_version = self._table.version

    @used
    def load(self) -> float:
        """Load the in-memory matrix unless it is loaded; returns the seconds spent."""
        started = time.perf_counter()
        with self._lock, self._shared.shared():
            if self._matrix is None:
                self._seen_version = self._table.version
                data = self._table.to_arrow()
                matrix = Matrix(self.dim, capacity=max(1024, int(data.num_rows * 1.25)))
                if data.num_rows:
                    vectors = data["vector"].combine_chunks().flatten().to_numpy()
                    matrix.put_columns(
                        data["id"].to_pylist(),
                        vectors.reshape(data.num_rows, self.dim),
                        data["event_ts"].to_numpy(),
                        {
                            "type": data["type"].to_pylist(),
                            "app": data["source_app"].to_pylist(),
                            "sens": data["sensitivity"].to_pylist(),
                        },
                    )
                with self._matrix_lock:
                    self._matrix = matrix
        self._build_ann_if_due()
        return time.perf_counter() - started

    def _build_ann_if_due(self) -> None:
        """Start a background IVF build when there are enough rows and the index is missing or
        a quarter of the rows are unindexed. Unindexed rows are scanned exactly meanwhile."""
        matrix = self._matrix
        if matrix is None or len(matrix.row_of) < self.settings.ann_min_rows:
            return
        ivf = matrix.ivf
        if ivf is not None and len(matrix.ids) - ivf.rows <= ivf.rows // 4:
            return
        if self._builder is not None and self._builder.is_alive():
            return
        self._builder = threading.Thread(target=self.build_ann, name="mnemo-ann", daemon=True)
        self._builder.start()

    def wait_for_index(self) -> None:
        """Block until a background IVF build, if one is running, has finished."""
        builder = self._builder
        if builder is not None:
            builder.join()

    def build_ann(self) -> float:
        """Build the IVF index now; returns the seconds spent. Writers are not held up: the
        clustering runs outside the lock, and its result is dropped if rows moved meanwhile."""
        started = time.perf_counter()
        with self._matrix_lock:
            matrix = self._matrix
            if matrix is None:
                return 0.0
            n, generation = len(matrix.ids), matrix.generation
            vectors, alive = matrix.vectors, matrix.alive[:n].copy()
        if not alive.any():
            return 0.0
        built = ivf_index.build(vectors[:n], alive)
        with self._matrix_lock:
            if self._matrix is matrix and matrix.generation == generation:
                matrix.ivf = built
        log.info("vector ANN index built over %d rows in %.1f s", n, time.perf_counter() - started)
        return time.perf_counter() - started

    @used
    def search(
        self, vector: np.ndarray, k: int, where: VectorFilter | None = None
    ) -> list[tuple[str, float, float]]:
        """The k nearest (id, cosine similarity, event time), best first (vectors are unit)."""
        # Another process's writes are looked for only when no writer or compaction holds
        # LanceDB: then the search goes on with the matrix it has (and looks next time).
        due = time.monotonic() - self._synced_at >= SYNC_SECONDS
        if due and self._lock.acquire(blocking=False):
            try:
                with self._shared.shared(blocking=False) as held:
                    if held:
                        self._sync(throttle=True)
            finally:
                self._lock.release()
        if self._matrix is None:
            self.load()  # the first search, or after another process wrote: waits for LanceDB
        with self._matrix_lock:
            matrix = self._matrix
            if matrix is None:  # reset by a rebuild meanwhile
                return []
            return matrix.search(vector, k, where or VectorFilter(), self.settings.probe_share)

    def _wrote(self) -> None:
        self._seen_version = self._table.version
        self._build_ann_if_due()
        self._writes += 1
        if self._writes >= WRITES_PER_MAINTENANCE and not self._maintaining():
            self._writes = 0
            self._maintainer = threading.Thread(
                target=self._maintain_unless_closed, name="mnemo-vector-maintenance", daemon=True
            )
            self._maintainer.start()

    def _maintaining(self) -> bool:
        return self._maintainer is not None and self._maintainer.is_alive()

    def _maintain_unless_closed(self) -> None:
        with contextlib.suppress(Closed):  # the index closed first: the next start compacts
            self.maintain()

    @used
    def maintain(self, *, purge: bool = False) -> None:
        """Compact LanceDB's small files and drop its old versions.

        LanceDB keeps every version until cleaned, so a deleted vector still sits in old files:
        `purge=True` removes all versions but the latest, which is what makes delete final.
        """
        with maintenance(self.folder.parent, timeout=MAINTENANCE_WAIT_S) as held:
            if held:
                self._maintain(purge=purge)
            elif purge:
                self._pending_purge = True  # made final by the next maintenance

    def _maintain(self, *, purge: bool) -> None:
        with self._lock, self._shared.exclusive(timeout=EXCLUSIVE_WAIT_S) as held:
            if not held:  # another process kept using the table: compact another time
                self._pending_purge = self._pending_purge or purge
                log.info("vector index maintenance put off: the table is in use elsewhere")
                return
            purge = purge or self._pending_purge
            try:
                with warnings.catch_warnings():
                    # It warns that readers of old versions would fail: all of ours, in every
                    # process, hold the table lock shared, and this holds it exclusive.
                    warnings.filterwarnings("ignore", "optimize.cleanup_older_than=0")
                    self._sync()
                    self._table.optimize(
                        cleanup_older_than=timedelta(0) if purge else timedelta(minutes=1),
                        delete_unverified=purge,
                    )
                    self._seen_version = self._table.version
                self._pending_purge = self._pending_purge and not purge
            except (OSError, RuntimeError, ValueError) as exc:
                log.warning("vector index maintenance failed, will retry later: %s", exc)

    def close(self, *, purge: bool = True) -> None:
        """Wait for background work; with `purge`, make this process's deletions final. Then
        refuse new uses (Closed) and wait for those under way before letting go of the table."""
        if self._uses.closed:
            return
        for thread in (self._maintainer, self._builder):
            if thread is not None:
                thread.join()
        if purge and self._pending_purge:
            self.maintain(purge=True)
        if not self._uses.close(timeout=CLOSE_WAIT_S):
            log.warning("the vector index closed with a use still under way")
            return
        for thread in (self._maintainer, self._builder):  # one started meanwhile
            if thread is not None:
                thread.join()
        with self._lock:
            self._shared.close()


def _is_id(value: str) -> bool:
    return value.isalnum()
