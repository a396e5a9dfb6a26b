"""The store's verbatim inputs (chat turns, screen captures, files) and the provenance links
from memories to them. A mixin of MemoryStore, kept apart for size: it shares its state."""

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from core.capture.pictures import picture_file
from core.embed import Embedder
from core.errors import NotFound
from core.ids import new_id
from core.memory.models import Source
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.rows import (
    id_from_prefix,
    insert_sql,
    link_source,
    source_row,
    source_vector_row,
    to_source,
)
from core.store.vectors import VectorIndex
from core.timeutil import now

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)
EMBED_BATCH = 64


class SourcesMixin:
    # What these methods use of the store (see MemoryStore).
    db: Database
    changes: ChangeHub
    embedder: Embedder
    folder: Path
    source_vectors: VectorIndex
    resolve: Callable[[str], str]
    _embed: Callable[[Sequence[str]], np.ndarray]
    _schedule_purge: Callable[[], None]
    _in_order: Callable[..., Future[None]]

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
                row = source_row(source)
                db.execute(insert_sql("sources", row), list(row.values()))
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
        return {row["ref"]: to_source(row) for row in rows}

    def speakers(self) -> list[str]:
        """Everyone who has a line in the kept chats, as they are named there."""
        rows = self.db.query(
            "SELECT DISTINCT actor FROM sources WHERE kind = 'chat' AND actor IS NOT NULL"
        )
        return [row["actor"] for row in rows]

    def get_sources(self, ids: Sequence[str]) -> dict[str, Source]:
        """Sources by id, skipping ids that no longer exist."""
        rows = self.db.query_in("SELECT * FROM sources WHERE id IN ({marks})", ids)
        return {row["id"]: to_source(row) for row in rows}

    def resolve_source(self, ref: str) -> str:
        """A source's full id from its id or a unique prefix (≥ 4 hex characters), as the
        chat agent cites them."""
        return id_from_prefix(self.db, "sources", ref, "source")

    def get_source(self, source_id: str) -> Source:
        rows = self.db.query("SELECT * FROM sources WHERE id = ?", [source_id])
        if not rows:
            raise NotFound(f"no source with id {source_id!r}")
        return to_source(rows[0])

    def delete_source(self, source_id: str, *, actor: str = "user") -> Source:
        """Remove a kept input everywhere: its row, keyword index entry, provenance links,
        vector and screen picture (unless another capture shows the same picture). The
        memories made from it stay; they are the user's to delete."""
        source = self.get_source(source_id)
        with self.db.write() as db:
            db.execute("DELETE FROM sources WHERE id = ?", [source.id])
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('purge_pending', '1')")
            shared = source.thumbnail and self.db.scalar(
                "SELECT 1 FROM sources WHERE thumbnail = ?", [source.thumbnail]
            )
        picture = None if shared else picture_file(self.folder, source.thumbnail)
        if picture is not None:  # never a path outside the data folder, whatever the row says
            picture.unlink(missing_ok=True)
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

    def vault_sources(self, *, high_only: bool = False) -> set[str]:
        """The inputs vault items were filed from: their words may hold the value itself
        ("the garage code is 7731" passes redaction), so whoever may not see a vault value
        may not see them either. The mark is on the line (migrations.vault_lines), set when
        an item is filed from it and raised with the item's sensitivity, so it outlives the
        item: deleting a secret does not make the line that spelled it out readable."""
        where = "vault = 'high'" if high_only else "vault IS NOT NULL"
        return {row["id"] for row in self.db.query(f"SELECT id FROM sources WHERE {where}")}

    def sources_of(self, ref: str) -> list[Source]:
        """The inputs a memory was made from, oldest first."""
        rows = self.db.query(
            "SELECT s.* FROM sources s JOIN memory_sources ms ON ms.source_id = s.id "
            "WHERE ms.memory_id = ? ORDER BY s.occurred_at",
            [self.resolve(ref)],
        )
        return [to_source(row) for row in rows]

    def _check_sources(self, source_ids: Sequence[str]) -> None:
        for source_id in source_ids:
            if not self.db.scalar("SELECT 1 FROM sources WHERE id = ?", [source_id]):
                raise NotFound(f"no source with id {source_id!r}")

    def _embed_source_ids(
        self, ids: Sequence[str], progress: Progress | None, done: int, total: int
    ) -> None:
        for start in range(0, len(ids), EMBED_BATCH * 16):
            chunk = list(ids[start : start + EMBED_BATCH * 16])
            found = self.get_sources(chunk)
            self._put_source_vectors(list(found.values()), new=True)
            if progress:
                progress(done + min(start + len(chunk), len(ids)), total)

    def _put_source_vectors(self, sources: Sequence[Source], *, new: bool) -> None:
        try:
            vectors = self._embed([s.search_text() for s in sources])
            self.source_vectors.upsert(
                [source_vector_row(s, vectors[i]) for i, s in enumerate(sources)], new=new
            )
        except (OSError, RuntimeError, ValueError) as exc:
            log.error("source vector write failed, repair at next start-up will redo it: %s", exc)
