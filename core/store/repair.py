"""Keeping the vector index in step with SQLite: repair at start-up (a crash between the two
writes loses nothing) and a full rebuild. A mixin of MemoryStore: it shares its state."""

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.store.db import Database
from core.store.rows import vector_row
from core.store.vectors import VectorIndex

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (done, total)
EMBED_BATCH = 64


@dataclass(frozen=True)
class RepairReport:
    embedded: int
    removed: int
    model_changed: bool


class RepairMixin:
    # What these methods use of the store (see MemoryStore).
    db: Database
    vectors: VectorIndex
    source_vectors: VectorIndex
    embedder: Any
    meta: Callable[[str], str | None]
    set_meta: Callable[[str, str], str]
    _embed: Callable[[Sequence[str]], np.ndarray]
    _embed_source_ids: Callable[..., None]
    _in_order: Callable[..., Future[None]]

    def repair(self, progress: Progress | None = None) -> RepairReport:
        """Bring the vector index in step with SQLite: embed what is missing or stale, drop
        what SQLite no longer holds, and start over if the embedding model changed."""
        model_changed = self.meta("embedder") != self.embedder.name
        if model_changed:
            self.vectors.reset()
            self.source_vectors.reset()
        # The index first: a memory added between the two reads is then only embedded twice,
        # where read the other way round its fresh vector would be dropped as an extra.
        have = self.vectors.revisions()
        want = {row["id"]: row["rev"] for row in self.db.query("SELECT id, rev FROM memories")}
        extra = [i for i in have if i not in want]
        stale = [i for i, rev in want.items() if have.get(i) != rev]
        self.vectors.delete(extra)
        # Sources never change, so a source's vector is either there or missing.
        have_sources = self.source_vectors.revisions()
        sources = {row["id"] for row in self.db.query("SELECT id FROM sources")}
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
            rows = list(self.db.query_in("SELECT * FROM memories WHERE id IN ({marks})", chunk))
            vectors = self._embed([row["search_text"] for row in rows])
            # Repair runs beside the app's writes: a memory edited while its text was being
            # embedded keeps the vector its edit wrote. Queued under the database lock, so the
            # queue's order is the commit order (see MemoryStore._in_order).
            with self.db.lock:
                revs = {
                    row["id"]: row["rev"]
                    for row in self.db.query_in(
                        "SELECT id, rev FROM memories WHERE id IN ({marks})", chunk
                    )
                }
                fresh = [
                    vector_row(row, vectors[i])
                    for i, row in enumerate(rows)
                    if revs.get(row["id"]) == row["rev"]
                ]
                written = self._in_order(self.vectors.upsert, fresh)
            written.result()
            if progress:
                progress(min(start + len(chunk), total), total)
