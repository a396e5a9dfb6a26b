"""The memory store: typed memories in SQLite, their vectors in a derived index.

Every write goes to SQLite first, in one transaction with its version row and provenance links;
the vector follows. A crash between the two loses nothing: `repair()` runs at every start-up and
re-embeds whatever SQLite holds that the vector index lacks or holds at an older revision.
"""

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.embed import Embedder
from core.errors import Ambiguous, InvalidInput, MnemoError, NotFound
from core.ids import new_id
from core.memory.models import (
    MEMORY_MODELS,
    CoreBlock,
    Entity,
    EntityKind,
    Link,
    Memory,
    MemoryType,
    Source,
    Version,
    parse_memory,
    sensitivity_of,
)
from core.secrets import SecretBox
from core.settings import Settings
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.vectors import VectorIndex, VectorRow
from core.timeutil import from_iso, now, to_iso

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)
EMBED_BATCH = 64
PURGE_DELAY_S = 5.0
CORE_LABELS = ("human", "persona")


@dataclass(frozen=True)
class RepairReport:
    embedded: int
    removed: int
    model_changed: bool


class MemoryStore:
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
        self.settings = settings or Settings.load(folder)
        self.embedder = embedder
        self.db = Database(folder / "mnemo.db")
        self.store_id = self.meta("store_id") or self.set_meta("store_id", new_id())
        self.vectors = VectorIndex(folder / "vectors", embedder.dim, self.settings.index)
        self.source_vectors = VectorIndex(
            folder / "vectors", embedder.dim, self.settings.index, table="sources"
        )
        self._box: SecretBox | None = None
        self._box_lock = threading.Lock()
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
        if repair or self.meta("embedder") != embedder.name:
            self.last_repair = self.repair()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._purge_lock:
            if self._purge_timer is not None:
                self._purge_timer.cancel()
            if self.meta("purge_pending"):
                self.purge()
            self._closed = True
        with self._vector_queue_lock:
            if self._vector_queue is not None:
                self._vector_queue.shutdown(wait=True)
                self._vector_queue = None
        self.vectors.close()
        self.source_vectors.close()
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
        with self._box_lock:  # two first secrets at once must not make two keys
            if self._box is None:
                self._box = self._open_box()
            return self._box

    def _open_box(self) -> SecretBox:
        location = self.meta("vault_key_location")
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
        prefix = ref.lower()
        if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
            raise NotFound(f"{ref!r} is not a memory id (give at least 4 hex characters)")
        rows = self.db.query(
            "SELECT id FROM memories WHERE id >= ? AND id < ? LIMIT 2", [prefix, prefix + "g"]
        )
        if not rows:
            raise NotFound(f"no memory with id {ref!r}")
        if len(rows) > 1:
            raise Ambiguous(f"id prefix {ref!r} matches several memories; give more characters")
        return rows[0]["id"]

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
                        db.execute(_insert_sql("memories", row), list(row.values()))
                    except sqlite3.IntegrityError as exc:
                        raise InvalidInput(_integrity_message(row, exc)) from None
                    insert_version(db, row["id"], 1, changed_at, cause, actor, [], None)
                    for source_id in sources:
                        link_source(db, row["id"], source_id)
            written = self._in_order(self._put_vectors, rows, vectors, new=True)
        written.result()
        self.changes.emit("memory", "added", [m.id for m in stored])
        return [
            m.model_copy(update={"secret_value": None, "secret_stored": _has(m)})
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
    ) -> Memory:
        """Change some fields of a memory, keeping the old value in its history.

        Unknown fields, the store's own fields and invalid values are refused with nothing
        written. An update that changes nothing records no version.
        """
        memory_id = self.resolve(ref)
        for _attempt in range(3):
            row = self.db.query("SELECT * FROM memories WHERE id = ?", [memory_id])[0]
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
            stamp = now()
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

    def delete(self, ref: str, *, cause: str = "deleted", actor: str = "user") -> Memory:
        """Remove a memory everywhere: its row, keyword index entries, versions, provenance
        links, graph edges and vector. Core blocks cannot be deleted, only emptied."""
        memory = self.get(ref)
        if memory.type == MemoryType.CORE:
            raise InvalidInput("core blocks cannot be deleted; clear one with: edit core:<label>")
        with self.db.lock:
            with self.db.write() as db:
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
        """Finish deletions that a crash or a scheduled purge left pending."""
        with self._purge_lock:
            self._purge_timer = None
            if not self._closed and self.meta("purge_pending"):
                self.purge()

    def purge(self) -> None:
        """Make deletions final on disk.

        SQLite's secure_delete zeroes freed pages, but FTS5 keeps a deleted row's words in its
        index segments until they are merged, and the WAL keeps old page images until a
        checkpoint; LanceDB keeps old versions until cleaned. This clears all three.
        """
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
                [_vector_row(row, vectors[i]) for i, row in enumerate(rows)], new=new
            )
        except (OSError, RuntimeError, ValueError) as exc:
            # SQLite already holds the memory; the next start-up's repair() embeds it again.
            log.error("vector write failed, repair at next start-up will redo it: %s", exc)

    # -- repair ----------------------------------------------------------------------------

    def repair(self, progress: Progress | None = None) -> RepairReport:
        """Bring the vector index in step with SQLite: embed what is missing or stale, drop
        what SQLite no longer holds, and start over if the embedding model changed."""
        model_changed = self.meta("embedder") != self.embedder.name
        if model_changed:
            self.vectors.reset()
            self.source_vectors.reset()
        want = {row["id"]: row["rev"] for row in self.db.query("SELECT id, rev FROM memories")}
        have = self.vectors.revisions()
        extra = [i for i in have if i not in want]
        stale = [i for i, rev in want.items() if have.get(i) != rev]
        self.vectors.delete(extra)
        # Sources never change, so a source's vector is either there or missing.
        sources = {row["id"] for row in self.db.query("SELECT id FROM sources")}
        have_sources = self.source_vectors.revisions()
        extra_sources = [i for i in have_sources if i not in sources]
        missing_sources = [i for i in sources if i not in have_sources]
        self.source_vectors.delete(extra_sources)
        total = len(stale) + len(missing_sources)
        self._embed_ids(stale, progress, total=total)
        self._embed_source_ids(missing_sources, progress, done=len(stale), total=total)
        if model_changed:
            self.set_meta("embedder", self.embedder.name)
        embedded, removed = total, len(extra) + len(extra_sources)
        if embedded or removed:
            log.info("vector index repaired: %d embedded, %d removed", embedded, removed)
        return RepairReport(embedded=embedded, removed=removed, model_changed=model_changed)

    def reindex(self, progress: Progress | None = None) -> RepairReport:
        """Rebuild the vector index from SQLite from scratch."""
        self.vectors.reset()
        self.source_vectors.reset()
        report = self.repair(progress)
        self.vectors.maintain(purge=True)
        self.source_vectors.maintain(purge=True)
        return report

    def _embed_ids(self, ids: Sequence[str], progress: Progress | None, total: int) -> None:
        if progress and total:
            progress(0, total)
        for start in range(0, len(ids), EMBED_BATCH * 16):
            chunk = list(ids[start : start + EMBED_BATCH * 16])
            marks = ",".join("?" * len(chunk))
            rows = self.db.query(f"SELECT * FROM memories WHERE id IN ({marks})", chunk)
            vectors = self._embed([row["search_text"] for row in rows])
            self.vectors.upsert([_vector_row(row, vectors[i]) for i, row in enumerate(rows)])
            if progress:
                progress(min(start + len(chunk), total), total)

    def _embed_source_ids(
        self, ids: Sequence[str], progress: Progress | None, done: int, total: int
    ) -> None:
        for start in range(0, len(ids), EMBED_BATCH * 16):
            chunk = list(ids[start : start + EMBED_BATCH * 16])
            marks = ",".join("?" * len(chunk))
            rows = self.db.query(f"SELECT * FROM sources WHERE id IN ({marks})", chunk)
            self._put_source_vectors([_to_source(row) for row in rows], new=True)
            if progress:
                progress(done + min(start + len(chunk), len(ids)), total)

    def _put_source_vectors(self, sources: Sequence[Source], *, new: bool) -> None:
        try:
            vectors = self._embed([s.search_text() for s in sources])
            self.source_vectors.upsert(
                [_source_vector_row(s, vectors[i]) for i, s in enumerate(sources)], new=new
            )
        except (OSError, RuntimeError, ValueError) as exc:
            log.error("source vector write failed, repair at next start-up will redo it: %s", exc)

    # -- sources and provenance -------------------------------------------------------------

    def add_source(self, source: Source) -> Source:
        """Keep an input verbatim (a chat turn, a capture's text, a file) as provenance."""
        return self.add_sources([source])[0]

    def add_sources(self, sources: Sequence[Source], *, embed: bool = True) -> list[Source]:
        """Keep several inputs in one transaction: all of them, or none. With `embed=False`
        they are keyword-searchable at once and get vectors from `embed_sources` later: screen
        capture stores a source every few seconds and embeds them a batch at a time, since each
        vector write is a new LanceDB version on disk. Start-up repair embeds any left over."""
        created = now()
        stored = [
            s.model_copy(update={"id": s.id or new_id(), "created_at": created}) for s in sources
        ]
        with self.db.write() as db:
            for source in stored:
                row = _source_row(source)
                db.execute(_insert_sql("sources", row), list(row.values()))
        if embed:
            self._put_source_vectors(stored, new=True)
        self.changes.emit("source", "added", [s.id for s in stored])
        return stored

    def embed_sources(self, source_ids: Sequence[str]) -> None:
        """Give sources kept with `embed=False` their vectors, in one write."""
        self._embed_source_ids(source_ids, None, done=0, total=len(source_ids))

    def forget_pictures(self, paths: Sequence[str]) -> int:
        """Sources whose picture was recycled stop pointing at it; their text stays."""
        changed = 0
        with self.db.write() as db:
            for start in range(0, len(paths), 500):
                chunk = list(paths[start : start + 500])
                marks = ",".join("?" * len(chunk))
                changed += db.execute(
                    f"UPDATE sources SET thumbnail = NULL WHERE thumbnail IN ({marks})", chunk
                ).rowcount
        if changed:
            self.changes.emit("source", "updated")
        return changed

    def find_sources(self, kind: str, refs: Sequence[str]) -> dict[str, Source]:
        """Sources of `kind` by their outside reference (a message id, a LoCoMo dia_id)."""
        rows = self.db.query_in(
            "SELECT * FROM sources WHERE kind = ? AND ref IN ({marks})", refs, [kind]
        )
        return {row["ref"]: _to_source(row) for row in rows}

    def get_sources(self, ids: Sequence[str]) -> dict[str, Source]:
        """Sources by id, skipping ids that no longer exist."""
        rows = self.db.query_in("SELECT * FROM sources WHERE id IN ({marks})", ids)
        return {row["id"]: _to_source(row) for row in rows}

    def get_source(self, source_id: str) -> Source:
        rows = self.db.query("SELECT * FROM sources WHERE id = ?", [source_id])
        if not rows:
            raise NotFound(f"no source with id {source_id!r}")
        return _to_source(rows[0])

    def delete_source(self, source_id: str, *, actor: str = "user") -> Source:
        """Remove a kept input everywhere: its row, keyword index entry, provenance links and
        vector. The memories made from it stay; they are the user's to delete."""
        source = self.get_source(source_id)
        with self.db.write() as db:
            db.execute("DELETE FROM sources WHERE id = ?", [source.id])
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('purge_pending', '1')")
        log.info("deleted source %s (%s) by %s", source.id, source.kind, actor)
        self.source_vectors.delete([source.id])
        self._schedule_purge()
        self.changes.emit("source", "deleted", [source.id])
        return source

    def link_sources(self, ref: str, source_ids: Sequence[str]) -> None:
        memory_id = self.resolve(ref)
        with self.db.write() as db:
            self._check_sources(source_ids)
            for source_id in source_ids:
                link_source(db, memory_id, source_id)
        self.changes.emit("memory", "updated", [memory_id])

    def sources_of(self, ref: str) -> list[Source]:
        """The inputs a memory was made from, oldest first."""
        rows = self.db.query(
            "SELECT s.* FROM sources s JOIN memory_sources ms ON ms.source_id = s.id "
            "WHERE ms.memory_id = ? ORDER BY s.occurred_at",
            [self.resolve(ref)],
        )
        return [_to_source(row) for row in rows]

    def _check_sources(self, source_ids: Sequence[str]) -> None:
        for source_id in source_ids:
            if not self.db.scalar("SELECT 1 FROM sources WHERE id = ?", [source_id]):
                raise NotFound(f"no source with id {source_id!r}")

    # -- entities and the graph --------------------------------------------------------------

    def entity(self, kind: EntityKind | str, name: str) -> Entity:
        """The entity of this kind and name (case-insensitive), created if new."""
        entity = Entity(kind=EntityKind(kind), name=name)
        with self.db.write() as db:
            rows = db.query(
                "SELECT * FROM entities WHERE kind = ? AND name = ? COLLATE NOCASE",
                [entity.kind.value, entity.name],
            )
            found = next(iter(rows), None)
            if found is None:
                found = {
                    "id": new_id(),
                    "kind": entity.kind.value,
                    "name": entity.name,
                    "created_at": to_iso(now()),
                }
                db.execute(_insert_sql("entities", found), list(found.values()))
                self.changes.emit("entity", "added", [found["id"]])
        return Entity(
            id=found["id"],
            kind=found["kind"],
            name=found["name"],
            created_at=from_iso(found["created_at"]),
        )

    def entities(self) -> list[Entity]:
        rows = self.db.query("SELECT * FROM entities ORDER BY kind, name")
        return [
            Entity(id=r["id"], kind=r["kind"], name=r["name"], created_at=from_iso(r["created_at"]))
            for r in rows
        ]

    def link(self, src: str, dst: str, relation: str = "related") -> Link:
        """A directed edge between two memories or entities (ids or memory-id prefixes)."""
        link = Link(src=self._node(src), dst=self._node(dst), relation=relation, created_at=now())
        if link.src == link.dst:
            raise InvalidInput("a memory cannot be linked to itself")
        with self.db.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO links (src, dst, relation, created_at) VALUES (?, ?, ?, ?)",
                [link.src, link.dst, link.relation, to_iso(now())],
            )
        self.changes.emit("link", "added", [link.src, link.dst])
        return link

    def unlink(self, src: str, dst: str, relation: str | None = None) -> int:
        src, dst = self._node(src), self._node(dst)
        sql, params = "DELETE FROM links WHERE src = ? AND dst = ?", [src, dst]
        if relation is not None:
            sql, params = sql + " AND relation = ?", [*params, relation]
        with self.db.write() as db:
            removed = db.execute(sql, params).rowcount
        if removed:
            self.changes.emit("link", "deleted", [src, dst])
        return removed

    def links(self, ref: str | None = None) -> list[Link]:
        """Edges touching one node, or every edge of the graph."""
        if ref is None:
            rows = self.db.query("SELECT * FROM links ORDER BY created_at")
        else:
            node = self._node(ref)
            rows = self.db.query(
                "SELECT * FROM links WHERE src = ? OR dst = ? ORDER BY created_at", [node, node]
            )
        return [
            Link(src=r["src"], dst=r["dst"], relation=r["relation"], created_at=r["created_at"])
            for r in rows
        ]

    def _node(self, ref: str) -> str:
        if self.db.scalar("SELECT 1 FROM entities WHERE id = ?", [ref]):
            return ref
        return self.resolve(ref)


def sql_filters(
    *,
    types: Iterable[MemoryType] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    source_apps: Iterable[str] | str | None = None,
    sensitivities: Iterable[str] | None = None,
    alias: str = "",
) -> tuple[str, list[Any]]:
    """A WHERE clause over the memories table for the common filters, with its parameters."""
    clauses, params = ["1"], []
    column = f"{alias}." if alias else ""
    if isinstance(source_apps, str):
        source_apps = [source_apps]
    for name, values in (
        ("type", types),
        ("source_app", source_apps),
        ("sensitivity", sensitivities),
    ):
        if values is not None:
            values = [str(v) for v in values]
            clauses.append(f"{column}{name} IN ({','.join('?' * len(values))})")
            params += values
    if since is not None:
        clauses.append(f"{column}event_time >= ?")
        params.append(to_iso(since))
    if until is not None:
        clauses.append(f"{column}event_time <= ?")
        params.append(to_iso(until))
    return " AND ".join(clauses), params


def _has(memory: Memory) -> bool:
    return getattr(memory, "secret_value", None) is not None


def check_fields(kind: MemoryType, changes: Mapping[str, Any]) -> None:
    """Refuse fields a memory of this type does not have, naming the ones it does."""
    model = MEMORY_MODELS[kind]
    for key in changes:
        if key in model.BOOKKEEPING or key in ("type", "secret_stored"):
            raise InvalidInput(f"{key!r} is kept by Mnemo and cannot be edited")
        if key not in model.model_fields:
            fields = ", ".join(
                f
                for f in model.model_fields
                if f not in model.BOOKKEEPING | {"type", "secret_stored"}
            )
            raise InvalidInput(f"{kind.value} memories have no field {key!r}; fields: {fields}")


def insert_version(
    db: Any,
    memory_id: str,
    rev: int,
    changed_at: str,
    cause: str,
    actor: str,
    changed: list[str],
    old: dict[str, Any] | None,
) -> None:
    db.execute(
        "INSERT INTO versions (memory_id, rev, changed_at, cause, actor, changed, old) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            memory_id,
            rev,
            changed_at,
            cause,
            actor,
            json.dumps(changed),
            None if old is None else json.dumps(old),
        ],
    )


def link_source(db: Any, memory_id: str, source_id: str) -> None:
    db.execute(
        "INSERT OR IGNORE INTO memory_sources (memory_id, source_id) VALUES (?, ?)",
        [memory_id, source_id],
    )


def _insert_sql(table: str, row: Mapping[str, Any]) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"


def _integrity_message(row: Mapping[str, Any], exc: sqlite3.IntegrityError) -> str:
    if row["type"] == "core":
        label = json.loads(row["data"])["label"]
        return f"core block {label!r} exists already; edit it with: edit core:{label}"
    return f"cannot store memory: {exc}"


def _vector_row(row: Mapping[str, Any], vector: Any) -> VectorRow:
    return VectorRow(
        id=row["id"],
        rev=row["rev"],
        type=str(row["type"]),
        event_ts=from_iso(row["event_time"]).timestamp(),
        source_app=row["source_app"] or "",
        sensitivity=row["sensitivity"],
        vector=vector,
    )


def _source_vector_row(source: Source, vector: Any) -> VectorRow:
    return VectorRow(
        id=source.id,
        rev=1,
        type=source.kind.value,
        event_ts=source.occurred_at.timestamp(),
        source_app=source.app or "",
        sensitivity="low",
        vector=vector,
    )


def _source_row(source: Source) -> dict[str, Any]:
    data = source.model_dump(mode="json")
    data["meta"] = json.dumps(source.meta, ensure_ascii=False)
    data["search_text"] = source.search_text()
    data["occurred_at"] = to_iso(source.occurred_at)
    data["created_at"] = to_iso(source.created_at or now())
    return data


def _to_source(row: Mapping[str, Any]) -> Source:
    data = {k: v for k, v in row.items() if k not in ("seq", "search_text")}
    data["meta"] = json.loads(data["meta"])
    return Source.model_validate(data)
