"""Deleting memories, bringing one back as itself (undo), and making deletions final on disk.
A mixin of MemoryStore, kept apart for size: it shares its state.

A delete removes a memory everywhere; its `Deletion` holds what went with it (its row, history,
provenance, links, the graph's record of them, and the people or places named only by it), so
an undo brings the same memory back (same id, sources, links and history) rather than a copy.
The record lives only in the caller's memory (an undo stack); nothing of it stays on disk.
"""

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import Changed, Closed, InvalidInput
from core.locks import maintenance
from core.memory.models import Memory, MemoryType
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.rows import insert_sql
from core.store.vectors import VectorIndex
from core.timeutil import now, to_iso

log = logging.getLogger(__name__)
PURGE_DELAY_S = 5.0
PURGE_WAIT_S = 120  # another process purging or backing up: wait this long, then later


@dataclass
class Deletion:
    """A deleted memory and what went with it, as rows, for `undelete`."""

    memory: Memory
    row: dict[str, Any]
    versions: list[dict[str, Any]]
    sources: list[str]
    links: list[dict[str, Any]]
    graph_history: list[dict[str, Any]]
    entities: list[dict[str, Any]] = field(default_factory=list)  # named only by this memory


class DeletesMixin:
    # What these methods use of the store (see MemoryStore).
    db: Database
    changes: ChangeHub
    folder: Path
    vectors: VectorIndex
    source_vectors: VectorIndex
    may_purge: Callable[[], bool]
    _closed: bool
    _purge_lock: threading.Lock
    _purge_timer: threading.Timer | None
    get: Callable[..., Memory]
    meta: Callable[[str], str | None]
    _embed: Callable[[Sequence[str]], Any]
    _in_order: Callable[..., Future[None]]
    _put_vectors: Callable[..., None]

    def delete(
        self,
        ref: str,
        *,
        cause: str = "deleted",
        actor: str = "user",
        expect_rev: int | None = None,
        merged_into: str | None = None,
    ) -> Deletion:
        """Remove a memory everywhere: its row, keyword index entries, versions, provenance
        links, graph edges and vector. Core blocks cannot be deleted, only emptied. Returns
        what went, for `undelete`.

        With `expect_rev`, only if the memory is still at that revision (raises Changed): a
        merge must not delete an edit made, by another process, after it read the memory.
        `merged_into`: the memory that took this one in, recorded (ids only) for `resolve`."""
        memory = self.get(ref)
        if memory.type == MemoryType.CORE:
            raise InvalidInput("core blocks cannot be deleted; clear one with: edit core:<label>")
        with self.db.lock:
            with self.db.write() as db:
                rows = list(db.query("SELECT * FROM memories WHERE id = ?", [memory.id]))
                if not rows or (expect_rev is not None and rows[0]["rev"] != expect_rev):
                    raise Changed(f"memory {memory.id} changed meanwhile; it was kept")
                deletion = _record(db, memory, rows[0])
                db.execute("DELETE FROM memories WHERE id = ?", [memory.id])
                # People and places named only by this memory went with it (by trigger).
                ends = {n for link in deletion.links for n in (link["src"], link["dst"])}
                ends.discard(memory.id)
                gone = [e for e in ends if not _exists(db, "entities", e)]
                # (An entity goes only when no edge and no mention is left: none to keep.)
                deletion.entities = [e for e in deletion.entities if e["id"] in gone]
                went = {memory.id, *gone}  # graph history rows the triggers took
                deletion.graph_history = [
                    h for h in deletion.graph_history if {h["node"], h["other"]} & went
                ]
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('purge_pending', '1')")
                if merged_into is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO merged (id, into_id, merged_at) VALUES (?, ?, ?)",
                        [memory.id, merged_into, to_iso(now())],
                    )
            removed = self._in_order(self.vectors.delete, [memory.id])
        removed.result()
        log.info("deleted memory %s (%s) by %s: %s", memory.id, memory.type, actor, cause)
        self._schedule_purge()
        self.changes.emit("memory", "deleted", [memory.id])
        return deletion

    def undelete(self, deletions: Sequence[Deletion]) -> list[Memory]:
        """Bring deleted memories back as themselves, in one transaction: their ids, fields,
        revisions and history, their sources, links (between two of them too) and graph
        history, and the people or places that went with them (under the id a node of the
        same name has now, if one was made since). What is gone meanwhile (a source deleted
        since, the other end of a link) stays gone. Refused whole (InvalidInput) if a memory
        with one of their ids exists."""
        rows = [{k: v for k, v in d.row.items() if k != "seq"} for d in deletions]
        with self.db.lock:
            with self.db.write() as db:
                renamed: dict[str, str] = {}  # an entity's old id → its id here now
                for deletion, row in zip(deletions, rows, strict=True):
                    if _exists(db, "memories", row["id"]):
                        raise InvalidInput(f"memory {row['id']} is here already; nothing to undo")
                    db.execute(insert_sql("memories", row), list(row.values()))
                    for version in deletion.versions:
                        _insert(db, "versions", version)
                    for source_id in deletion.sources:
                        db.execute(
                            "INSERT OR IGNORE INTO memory_sources (memory_id, source_id) "
                            "SELECT ?, id FROM sources WHERE id = ?",
                            [row["id"], source_id],
                        )
                    for entity in deletion.entities:
                        renamed[entity["id"]] = _restore_entity(db, entity)
                # Links and graph history last: both ends of each may be among these.
                for deletion in deletions:
                    for link in deletion.links:
                        ends = {e: renamed.get(link[e], link[e]) for e in ("src", "dst")}
                        if all(_node(db, n) for n in ends.values()):
                            _insert(db, "links", {**link, **ends}, ignore=True)
                    for event in deletion.graph_history:
                        ends = {e: renamed.get(event[e], event[e]) for e in ("node", "other")}
                        if _node(db, ends["node"]) and (
                            not ends["other"] or _node(db, ends["other"])
                        ):
                            _insert(db, "graph_history", {**event, **ends})
            vectors = self._embed([row["search_text"] for row in rows])
            written = self._in_order(self._put_vectors, rows, vectors, new=False)
        written.result()
        ids = [row["id"] for row in rows]
        log.info("memories %s brought back (undo of their delete)", ", ".join(ids))
        self.changes.emit("memory", "added", ids)
        return [self.get(i) for i in ids]

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
        with self._purge_lock, contextlib.suppress(Closed):  # the timer's race with close()
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


def _record(db: Any, memory: Memory, row: Mapping[str, Any]) -> Deletion:
    """What a delete of `memory` takes with it, read in the delete's own transaction."""
    mid = memory.id
    links = _rows(db, "SELECT * FROM links WHERE src = ? OR dst = ?", [mid, mid])
    ends = sorted({n for link in links for n in (link["src"], link["dst"])} - {mid})
    marks = ",".join("?" * len(ends))
    entities = _rows(db, f"SELECT * FROM entities WHERE id IN ({marks})", ends) if ends else []
    nodes = [mid, *(e["id"] for e in entities)]
    node_marks = ",".join("?" * len(nodes))
    return Deletion(
        memory=memory,
        row=dict(row),
        versions=_rows(db, "SELECT * FROM versions WHERE memory_id = ? ORDER BY rev", [mid]),
        sources=[
            r["source_id"]
            for r in _rows(db, "SELECT source_id FROM memory_sources WHERE memory_id = ?", [mid])
        ],
        links=links,
        graph_history=_rows(
            db,
            f"SELECT * FROM graph_history WHERE node IN ({node_marks}) "
            f"OR other IN ({node_marks}) ORDER BY seq",
            [*nodes, *nodes],
        ),
        entities=entities,
    )


def _rows(db: Any, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(sql, params)]


def _insert(db: Any, table: str, row: Mapping[str, Any], *, ignore: bool = False) -> None:
    """A row as it was, under a new sequence number (the old one may be taken since)."""
    values = {k: v for k, v in row.items() if k != "seq"}
    sql = insert_sql(table, values)
    if ignore:
        sql = sql.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
    db.execute(sql, list(values.values()))


def _restore_entity(db: Any, entity: Mapping[str, Any]) -> str:
    """An entity back under its id, or the id of the one of its kind and name made since."""
    found = db.execute(
        "SELECT id FROM entities WHERE id = ? OR (kind = ? AND name = ? COLLATE NOCASE)",
        [entity["id"], entity["kind"], entity["name"]],
    ).fetchone()
    if found:
        return str(found[0])
    _insert(db, "entities", entity)
    return str(entity["id"])


def _exists(db: Any, table: str, node_id: str) -> bool:
    return db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [node_id]).fetchone() is not None


def _node(db: Any, node_id: str) -> bool:
    return _exists(db, "memories", node_id) or _exists(db, "entities", node_id)
