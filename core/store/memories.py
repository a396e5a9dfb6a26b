"""The memory store: typed memories in SQLite, their vectors in a derived index.

Memories are here; the verbatim sources (core.store.sources), the graph (core.store.graph) and
the index repair (core.store.repair) are mixins of the same class, in modules of their own.

Every write goes to SQLite first, in one transaction with its version row and provenance links;
the vector follows. A crash between the two loses nothing: `repair()` runs at every start-up and
re-embeds whatever SQLite holds that the vector index lacks or holds at an older revision.
"""

import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.embed import Embedder
from core.errors import Changed, InvalidInput, MnemoError, NotFound
from core.ids import new_id
from core.locks import maintenance
from core.memory.models import (
    CoreBlock,
    Memory,
    MemoryType,
    Version,
    parse_memory,
    sensitivity_of,
)
from core.paths import make_private, writable
from core.secrets import SecretBox
from core.settings import Settings
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.graph import GraphMixin
from core.store.repair import RepairMixin, RepairReport
from core.store.rows import (
    check_fields,
    has_secret,
    id_from_prefix,
    insert_sql,
    insert_version,
    integrity_message,
    link_source,
    sql_filters,
    vector_row,
)
from core.store.sources import SourcesMixin
from core.store.vectors import VectorIndex
from core.timeutil import from_iso, now, to_iso

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)
PURGE_DELAY_S = 5.0
QUERY_CACHE = 128  # query embeddings kept (MemoryStore.query_vector)
PURGE_WAIT_S = 120  # another process purging or backing up: wait this long, then later
CORE_LABELS = ("human", "persona")


class MemoryStore(SourcesMixin, GraphMixin, RepairMixin):
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
        allowed = self.may_purge()
        with self._purge_lock:
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
        return id_from_prefix(self.db, "memories", ref, "memory")

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

    # -- writing ---------------------------------------------------------------------------

    def add(
        self,
        memory: Memory,
        *,
        sources: Sequence[str] = (),
        cause: str = "created",
        actor: str = "user",
    ) -> Memory:
        """Store a new memory, optionally linked to the sources it came from."""
        return self.add_many([memory], sources=sources, cause=cause, actor=actor)[0]

    def add_many(
        self,
        memories: Sequence[Memory],
        *,
        sources: Sequence[str] = (),
        cause: str = "created",
        actor: str = "user",
    ) -> list[Memory]:
        """Store new memories in one transaction: all of them, or none if any is invalid."""
        stamp = now()
        stored = [
            m.model_copy(
                update={"id": new_id(), "created_at": stamp, "updated_at": stamp, "rev": 1}
            )
            for m in memories
        ]
        rows = [self.row_for(m, self._secret_token(m)) for m in stored]
        vectors = self._embed([row["search_text"] for row in rows])
        changed_at = to_iso(stamp)
        with self.db.lock:  # queued under the lock: vectors are written in commit order
            with self.db.write() as db:
                self._check_sources(sources)
                for row in rows:
                    try:
                        db.execute(insert_sql("memories", row), list(row.values()))
                    except sqlite3.IntegrityError as exc:
                        raise InvalidInput(integrity_message(row, exc)) from None
                    insert_version(db, row["id"], 1, changed_at, cause, actor, [], None)
                    for source_id in sources:
                        link_source(db, row["id"], source_id)
            written = self._in_order(self._put_vectors, rows, vectors, new=True)
        written.result()
        self.changes.emit("memory", "added", [m.id for m in stored])
        return [
            m.model_copy(update={"secret_value": None, "secret_stored": has_secret(m)})
            if m.type == MemoryType.VAULT
            else m
            for m in stored
        ]

    def update(
        self,
        ref: str,
        changes: Mapping[str, Any],
        *,
        cause: str = "edited",
        actor: str = "user",
        expect_rev: int | None = None,
    ) -> Memory:
        """Change some fields of a memory, keeping the old value in its history.

        Unknown fields, the store's own fields and invalid values are refused with nothing
        written. An update that changes nothing records no version. With `expect_rev`, only
        if the memory is still at that revision (raises Changed): changes computed from what
        was read must not overwrite an edit made since.
        """
        memory_id = self.resolve(ref)
        for _attempt in range(3):
            row = self.db.query("SELECT * FROM memories WHERE id = ?", [memory_id])[0]
            if expect_rev is not None and row["rev"] != expect_rev:
                raise Changed(f"memory {memory_id} changed meanwhile; it was left as it is")
            kind = MemoryType(row["type"])
            check_fields(kind, changes)
            old = json.loads(row["data"])
            new = {**old, **{k: v for k, v in changes.items() if k != "secret_value"}}
            token = row["secret"]
            if "secret_value" in changes:
                secret = changes["secret_value"]
                token = None if secret in (None, "") else self.secret_box().encrypt(str(secret))
            candidate = parse_memory(
                {**new, "id": memory_id, "created_at": row["created_at"], "rev": row["rev"] + 1}
            )
            new = candidate.payload()
            changed = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k))
            if token != row["secret"]:
                changed.append("secret_value")
            if not changed:
                return self._to_memory(row)
            # Never before the version it replaces: a clock set back must not date an edit
            # earlier than the one before it (the history's times follow its revisions).
            stamp = max(now(), from_iso(row["updated_at"]))
            candidate = candidate.model_copy(update={"updated_at": stamp})
            new_row = self.row_for(candidate, token)
            vector = self._embed([new_row["search_text"]])
            with self.db.lock:  # queued under the lock: vectors are written in commit order
                with self.db.write() as db:
                    if (
                        self.db.scalar("SELECT rev FROM memories WHERE id = ?", [memory_id])
                        != row["rev"]
                    ):
                        continue  # changed under us between read and write: start again
                    assignments = ", ".join(f"{k} = ?" for k in new_row if k != "id")
                    db.execute(
                        f"UPDATE memories SET {assignments} WHERE id = ?",
                        [v for k, v in new_row.items() if k != "id"] + [memory_id],
                    )
                    old_snapshot = dict(old, secret=row["secret"]) if row["secret"] else old
                    insert_version(
                        db,
                        memory_id,
                        new_row["rev"],
                        to_iso(stamp),
                        cause,
                        actor,
                        changed,
                        old_snapshot,
                    )
                written = self._in_order(self._put_vectors, [new_row], vector, new=False)
            written.result()
            self.changes.emit("memory", "updated", [memory_id])
            return self.get(memory_id)
        raise MnemoError(f"memory {memory_id} kept changing while being updated; try again")

    def delete(
        self,
        ref: str,
        *,
        cause: str = "deleted",
        actor: str = "user",
        expect_rev: int | None = None,
    ) -> Memory:
        """Remove a memory everywhere: its row, keyword index entries, versions, provenance
        links, graph edges and vector. Core blocks cannot be deleted, only emptied.

        With `expect_rev`, only if the memory is still at that revision (raises Changed): a
        merge must not delete an edit made, by another process, after it read the memory."""
        memory = self.get(ref)
        if memory.type == MemoryType.CORE:
            raise InvalidInput("core blocks cannot be deleted; clear one with: edit core:<label>")
        with self.db.lock:
            with self.db.write() as db:
                if expect_rev is not None:
                    rev = db.execute(
                        "SELECT rev FROM memories WHERE id = ?", [memory.id]
                    ).fetchone()
                    if rev is None or rev[0] != expect_rev:
                        raise Changed(f"memory {memory.id} changed meanwhile; it was kept")
                db.execute("DELETE FROM memories WHERE id = ?", [memory.id])
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('purge_pending', '1')")
            removed = self._in_order(self.vectors.delete, [memory.id])
        removed.result()
        log.info("deleted memory %s (%s) by %s: %s", memory.id, memory.type, actor, cause)
        self._schedule_purge()
        self.changes.emit("memory", "deleted", [memory.id])
        return memory

    def _in_order(self, write: Callable[..., None], *args: Any, **kw: Any) -> Future[None]:
        """Queue a vector write behind those of earlier commits. Callers queue it while holding
        the database lock (so the queue's order is the commit order) and wait for it after
        letting go: a slow vector write (LanceDB compacting) then holds up no other writer
        of SQLite, such as an edit made in the window."""
        with self._vector_queue_lock:
            if self._vector_queue is None:
                self._vector_queue = ThreadPoolExecutor(1, thread_name_prefix="mnemo-vectors")
            return self._vector_queue.submit(write, *args, **kw)

    def _schedule_purge(self) -> None:
        """Purge a few seconds after the last delete: a burst of deletes costs one purge."""
        with self._purge_lock:
            if self._purge_timer is not None:
                self._purge_timer.cancel()
            self._purge_timer = threading.Timer(PURGE_DELAY_S, self.purge_if_pending)
            self._purge_timer.daemon = True
            self._purge_timer.start()

    def purge_if_pending(self) -> None:
        """Finish deletions that a crash or a scheduled purge left pending (unless another
        process owns that work: it purges them when it notices the change)."""
        with self._purge_lock:
            self._purge_timer = None
            if not self._closed and self.meta("purge_pending") and self.may_purge():
                self.purge()

    def purge(self) -> None:
        """Make deletions final on disk.

        SQLite's secure_delete zeroes freed pages, but FTS5 keeps a deleted row's words in its
        index segments until they are merged, and the WAL keeps old page images until a
        checkpoint; LanceDB keeps old versions until cleaned. This clears all three.
        """
        with maintenance(self.folder, timeout=PURGE_WAIT_S) as held:
            if held:  # else purge_pending stays set: the next start or delete purges
                self._purge()

    def _purge(self) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('optimize')")
            db.execute("INSERT INTO sources_fts (sources_fts) VALUES ('optimize')")
        self.vectors.maintain(purge=True)
        self.source_vectors.maintain(purge=True)
        self.db.checkpoint()
        # Cleared last: a crash before this point means the next start purges again.
        with self.db.write() as db:
            db.execute("DELETE FROM meta WHERE key = 'purge_pending'")

    def _secret_token(self, memory: Memory) -> str | None:
        secret = getattr(memory, "secret_value", None)
        return None if secret is None else self.secret_box().encrypt(secret.get_secret_value())

    def row_for(self, memory: Memory, secret_token: str | None) -> dict[str, Any]:
        assert memory.created_at is not None and memory.updated_at is not None
        return {
            "id": memory.id,
            "type": memory.type,
            "headline": memory.headline,
            "search_text": memory.search_text(),
            "data": json.dumps(memory.payload(), ensure_ascii=False),
            "secret": secret_token,
            "tree_path": "/".join(memory.tree_path),
            "event_time": to_iso(memory.event_time or memory.created_at),
            "created_at": to_iso(memory.created_at),
            "updated_at": to_iso(memory.updated_at),
            "source_app": memory.source_app,
            "sensitivity": sensitivity_of(memory).value,
            "rev": memory.rev,
        }

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts; an empty text gets the zero vector, which matches nothing (a
        model would embed it as its bare [CLS] [SEP], close to every short query)."""
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        filled = [i for i, text in enumerate(texts) if text.strip()]
        if filled:
            out[filled] = self.embedder.embed([texts[i] for i in filled])
        return out

    def _put_vectors(self, rows: Sequence[Mapping[str, Any]], vectors: Any, *, new: bool) -> None:
        try:
            self.vectors.upsert(
                [vector_row(row, vectors[i]) for i, row in enumerate(rows)], new=new
            )
        except (OSError, RuntimeError, ValueError) as exc:
            # SQLite already holds the memory; the next start-up's repair() embeds it again.
            log.error("vector write failed, repair at next start-up will redo it: %s", exc)


__all__ = ["CORE_LABELS", "MemoryStore", "RepairReport", "check_fields", "sql_filters"]
