"""The memory store: typed memories in SQLite, their vectors in a derived index.

Opening, closing and reading memories are here; writing them (core.store.writes), deleting
them (core.store.deletes), the verbatim sources (core.store.sources), the graph
(core.store.graph) and the index repair (core.store.repair) are mixins of the same class, in
modules of their own.

Every write goes to SQLite first, in one transaction with its version row and provenance links;
the vector follows. A crash between the two loses nothing: `repair()` runs at every start-up and
re-embeds whatever SQLite holds that the vector index lacks or holds at an older revision.
"""

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.embed import Embedder
from core.errors import NotFound
from core.ids import new_id
from core.memory.models import (
    CoreBlock,
    Memory,
    MemoryType,
    Version,
    parse_memory,
)
from core.paths import make_private, writable
from core.secrets import SecretBox
from core.settings import Settings
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.deletes import DeletesMixin
from core.store.graph import GraphMixin
from core.store.repair import RepairMixin, RepairReport
from core.store.rows import (
    check_fields,
    id_from_prefix,
    sql_filters,
)
from core.store.sources import SourcesMixin
from core.store.vectors import VectorIndex
from core.store.writes import WritesMixin
from core.timeutil import from_iso

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)
QUERY_CACHE = 128  # query embeddings kept (MemoryStore.query_vector)
CORE_LABELS = ("human", "persona")


class MemoryStore(WritesMixin, DeletesMixin, SourcesMixin, GraphMixin, RepairMixin):
    """All of Mnemo's memories in one data folder. Safe to share between threads."""

    def __init__(
        self,
        folder: Path,
        embedder: Embedder,
        settings: Settings | None = None,
        *,
        repair: bool = True,
    ) -> None:
        """Open (or create) the store in `folder`. With `repair=False` the vector index is
        brought in step later by calling `repair()` (the app does it in the background, while
        keyword search already works), and so is a purge left pending by a crash (call
        `purge_if_pending()`); a changed embedding model is repaired at once anyway, since the
        old vectors cannot be searched with the new model."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private(folder)
        self.settings = settings or Settings.load(folder)
        self.embedder = embedder
        # A read-only folder (a read-only mount, a copy the user may only read) or a disk too
        # full to open the store for writing still opens for reading and searching; each write
        # is refused with ReadOnlyFolder or StorageFull, which say so.
        path = folder / "mnemo.db"
        read_only = not writable(folder) or (path.exists() and not writable(path))
        self.db = Database(path, read_only=read_only)
        self.read_only = self.db.read_only
        self.store_id = self.meta("store_id") or self.set_meta("store_id", new_id())
        self.vectors = VectorIndex(folder / "vectors", embedder.dim, self.settings.index)
        self.source_vectors = VectorIndex(
            folder / "vectors", embedder.dim, self.settings.index, table="sources"
        )
        self._box: SecretBox | None = None
        self._box_lock = threading.Lock()
        self._queries: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        # Whether this process may make deletions final now (a purge compacts LanceDB): the
        # app's host allows it only to the owner of the folder's background work.
        self.may_purge: Callable[[], bool] = lambda: True
        self._vector_queue: ThreadPoolExecutor | None = None
        self._vector_queue_lock = threading.Lock()
        self.changes = ChangeHub()
        self._closed = False
        self._purge_lock = threading.Lock()
        self._purge_timer: threading.Timer | None = None
        self._ensure_core_blocks()
        if repair and self.meta("purge_pending"):
            self.purge()
        self.last_repair: RepairReport | None = None
        if self.read_only:  # nothing can be written: search uses the index as it is
            log.info("the memory store in %s opened for reading only", folder)
        elif repair or self.meta("embedder") != embedder.name:
            self.last_repair = self.repair()

    def query_vector(self, query: str) -> np.ndarray:
        """A search query's embedding, kept for the next searches: one question searches
        memories and sources (and `ask` plans several queries), and each embedding costs
        ~8 ms of a search's ~15 on two cores."""
        key = (self.embedder.name, query)
        with self._query_lock:
            vector = self._queries.get(key)
            if vector is not None:
                self._queries.move_to_end(key)
                return vector
        vector = self.embedder.embed([query])[0]
        with self._query_lock:
            self._queries[key] = vector
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Make this process's deletions final (where it may), then close the vector queue,
        the indexes and the database. Each part waits for its uses under way and refuses new
        ones with Closed, so closing is safe beside readers and writers on other threads."""
        allowed = self.may_purge()
        with self._purge_lock:
            if self._closed:
                return
            if self._purge_timer is not None:
                self._purge_timer.cancel()
            if allowed and self.meta("purge_pending"):
                self.purge()
            self._closed = True
        with self._vector_queue_lock:
            if self._vector_queue is not None:
                self._vector_queue.shutdown(wait=True)
                self._vector_queue = None
        self.vectors.close(purge=allowed)
        self.source_vectors.close(purge=allowed)
        self.db.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, key: str) -> str | None:
        """A value the store keeps about itself (an agent's last run, the embedder's name)."""
        return self.db.scalar("SELECT value FROM meta WHERE key = ?", [key])

    def set_meta(self, key: str, value: str) -> str:
        with self.db.write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])
        return value

    def secret_box(self) -> SecretBox:
        """The vault key, opened on first use so that a locked keyring blocks only the vault."""
        # The database lock first, as every writer takes it: opening the key may write its
        # location, and a writer holding the database lock may need the key.
        with self.db.lock, self._box_lock:  # two first secrets at once must not make two keys
            if self._box is None:
                self._box = self._open_box()
            return self._box

    def _open_box(self) -> SecretBox:
        location = self.meta("vault_key_location")
        if location is None and self.read_only:  # a first key cannot be made or recorded
            raise self.db.refused("no vault secret can be saved")
        box = SecretBox.open(
            self.folder,
            self.store_id,
            location=location,
            use_keyring=self.settings.security.use_keyring,
        )
        if location is None:
            self.set_meta("vault_key_location", box.where)
        return box

    def _ensure_core_blocks(self) -> None:
        present = {
            m.label for m in self.memories(types=[MemoryType.CORE]) if isinstance(m, CoreBlock)
        }
        missing = [CoreBlock(label=label) for label in CORE_LABELS if label not in present]
        if missing:
            self.add_many(missing, cause="created", actor="mnemo")

    # -- reading ---------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The full id for an id, a unique id prefix (≥ 4 characters) or `core:<label>`."""
        ref = ref.strip()
        if ref.lower().startswith(("core:", "core/")):
            label = ref[5:].lower()
            found = self.db.scalar(
                "SELECT id FROM memories WHERE type = 'core' AND json_extract(data, '$.label') = ?",
                [label],
            )
            if found is None:
                raise NotFound(f"no core block {label!r}: the blocks are human and persona")
            return found
        try:
            return id_from_prefix(self.db, "memories", ref, "memory")
        except NotFound:
            self._say_where_merged(ref)
            raise

    def _say_where_merged(self, ref: str) -> None:
        """Raise NotFound naming where a memory consolidation merged away went (if it was)."""
        into, seen = ref.strip().lower(), set[str]()
        while into not in seen and len(seen) < 20:  # merged into one merged in turn
            seen.add(into)
            row = self.db.query("SELECT into_id FROM merged WHERE id = ?", [into])
            if not row:
                break
            into = row[0]["into_id"]
        if len(seen) == 1:
            return
        if self.db.query("SELECT 1 FROM memories WHERE id = ?", [into]):
            raise NotFound(
                f"memory {ref!r} was merged into {into} (a near-duplicate) by consolidation; "
                f"see it with: mnemo show {into}"
            )
        raise NotFound(f"memory {ref!r} was merged into {into}, which was deleted since")

    def get(self, ref: str, *, reveal: bool = False) -> Memory:
        """One memory by id or prefix. Vault secrets are decrypted only when `reveal` is set."""
        memory_id = self.resolve(ref)
        rows = self.db.query("SELECT * FROM memories WHERE id = ?", [memory_id])
        if not rows:
            raise NotFound(f"no memory with id {ref!r}")
        return self._to_memory(rows[0], reveal=reveal)

    def core_block(self, label: str) -> CoreBlock:
        """The core block `human` or `persona`."""
        block = self.get(f"core:{label}")
        assert isinstance(block, CoreBlock)
        return block

    def core_blocks(self) -> list[CoreBlock]:
        """Both core blocks, `human` first."""
        return [self.core_block(label) for label in CORE_LABELS]

    def get_many(self, ids: Sequence[str]) -> dict[str, Memory]:
        """Memories by full id, skipping ids that no longer exist."""
        rows = self.db.query_in("SELECT * FROM memories WHERE id IN ({marks})", ids)
        return {row["id"]: self._to_memory(row) for row in rows}

    def memories(
        self,
        *,
        types: Iterable[MemoryType] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        source_app: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Memory]:
        """Memories newest first (by the time they are about), filtered."""
        where, params = sql_filters(types=types, since=since, until=until, source_apps=source_app)
        sql = f"SELECT * FROM memories WHERE {where} ORDER BY event_time DESC, seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [self._to_memory(row) for row in self.db.query(sql, params)]

    def history(self, ref: str) -> list[Version]:
        """Every change to a memory, oldest first; `old` is None for its creation."""
        memory_id = self.resolve(ref)
        rows = self.db.query("SELECT * FROM versions WHERE memory_id = ? ORDER BY rev", [memory_id])
        return [
            Version(
                memory_id=row["memory_id"],
                rev=row["rev"],
                changed_at=from_iso(row["changed_at"]),
                cause=row["cause"],
                actor=row["actor"],
                changed=json.loads(row["changed"]),
                old=json.loads(row["old"]) if row["old"] else None,
            )
            for row in rows
        ]

    def counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT type, count(*) AS n FROM memories GROUP BY type")
        return {t.value: 0 for t in MemoryType} | {row["type"]: row["n"] for row in rows}

    def _to_memory(self, row: Mapping[str, Any], *, reveal: bool = False) -> Memory:
        data = json.loads(row["data"])
        data.update(
            id=row["id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            rev=row["rev"],
        )
        if row["secret"] is not None:
            data["secret_stored"] = True
            if reveal:
                data["secret_value"] = self.secret_box().decrypt(row["secret"])
        return parse_memory(data)


__all__ = ["CORE_LABELS", "MemoryStore", "RepairReport", "check_fields", "sql_filters"]
