"""Keeping a folder of notes (core.ingest.notes): each note a file source and a resource
memory, its tags and links edges of the memory graph, all in one transaction.

Written without the model: a note already is what a resource memory holds (a title, a summary,
its text), and a vault of a thousand notes must not cost a thousand model calls.

A note is known by its vault's name, its path in the vault and the hash of its bytes (its
source's `ref`), so importing the folder again
- leaves an unchanged note alone;
- keeps a changed note's new text as a new source (the old one stays: it is what the memory was
  made from then) and updates the note's memory in place, a new revision whose history holds
  the old text: its id, the links other notes make to it and its other fields survive. A note
  changed back to an earlier version cites that version's source again;
- leaves the memory of a note gone from the folder (deleting is the user's to do), and does not
  bring back the memory of an unchanged note the user deleted.

The edges the import owns — "links_to" (note to note, or to a topic when the linked note does
not exist: Obsidian's unresolved link, a note not written yet) and "tagged" (note to topic) —
are made to match what the notes say, so a link or tag taken out of a note leaves the graph
too (and a topic nothing points at any more goes with it); other edges are left alone.
"""

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError

from core.capture.redact import redact
from core.errors import ImportFailed, InvalidInput
from core.ids import new_id
from core.ingest.notes import Note, Vault, is_attachment
from core.memory.models import EntityKind, ResourceMemory, Source, SourceKind, parse_memory
from core.store.memories import MemoryStore
from core.store.rows import insert_sql, insert_version, link_source, source_row
from core.timeutil import from_iso, now, to_iso

Progress = Callable[[int, int], None]  # (done, total) of the embedding that follows the write
LINKS_TO = "links_to"
TAGGED = "tagged"
ACTOR = "import:notes"
_HASH = 32  # hex digits of the SHA-256 in a note's ref


@dataclass
class NotesReport:
    notes: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    links_added: int = 0
    links_removed: int = 0
    topics: int = 0  # the tag and topic nodes the notes point at
    memory_ids: list[str] = field(default_factory=list)  # the notes' memories, by path order


@dataclass(frozen=True)
class _Planned:
    note: Note
    source: Source
    memory: ResourceMemory

    @property
    def key(self) -> str:
        return note_key(self.source.ref or "")


def note_ref(vault: Vault, note: Note) -> str:
    """A note's source ref: "note:<vault>/<path>@<hash>"."""
    return f"note:{vault.name}/{note.rel}@{note.digest[:_HASH]}"


def note_key(ref: str) -> str:
    """The note a ref belongs to, whatever its version (the hash has a fixed length, so a "@"
    in a note's name does no harm)."""
    return ref[: -(_HASH + 1)]


def keep_notes(store: MemoryStore, vault: Vault, progress: Progress | None = None) -> NotesReport:
    """Store the vault's new and changed notes, and set its edges, in one transaction: all of
    it or, on any error, nothing. Vectors follow the commit (as for import_json): a crash
    in between loses nothing, since start-up repair embeds what SQLite holds."""
    planned = [_plan(vault, note) for note in vault.notes]
    report = NotesReport(notes=len(planned))
    try:
        with store.db.write() as db:
            added, updated, sources = _write(store, db, vault, planned, report)
    except (sqlite3.IntegrityError, InvalidInput) as exc:  # the transaction was rolled back
        raise ImportFailed(f"{vault.folder} was not imported: {exc}") from None
    if sources:
        store.changes.emit("source", "added", sources)
    if added:
        store.changes.emit("memory", "added", added)
    if updated:
        store.changes.emit("memory", "updated", updated)
    if report.links_added or report.links_removed:
        store.changes.emit("link", "changed", report.memory_ids)
    if sources or added or updated:
        store.repair(progress)
    return report


def _plan(vault: Vault, note: Note) -> _Planned:
    """The note's source and memory, validated before anything is written. Secrets are
    redacted from both, as from every kept input."""
    text = redact(note.text)
    meta: dict[str, object] = {"vault": vault.name, "note": note.rel}
    if text.found:
        meta["redacted"] = dict(text.found)
    title = redact(note.title).text
    try:
        source = Source(
            kind=SourceKind.FILE,
            occurred_at=note.modified,
            text=text.text,
            title=title,
            path=str(note.path.resolve()),
            ref=note_ref(vault, note),
            meta=meta,
        )
        memory = ResourceMemory(
            title=title,
            summary=redact(note.summary).text,
            resource_type="note",
            content=redact(note.body).text,
            tree_path=[vault.name, *note.folders],
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ImportFailed(f"{note.path} cannot be kept: {first['msg']}") from None
    return _Planned(note, source, memory)


def _write(
    store: MemoryStore, db: Any, vault: Vault, planned: list[_Planned], report: NotesReport
) -> tuple[list[str], list[str], list[str]]:
    """Inside the transaction: the notes, then their edges. Returns the ids of the memories
    added and updated and of the sources added."""
    stamp = now()
    known = _known(db, vault)
    memory_of: dict[str, str | None] = {}  # note path -> its memory
    added: list[str] = []
    updated: list[str] = []
    sources: list[str] = []
    for plan in planned:
        ref = plan.source.ref or ""
        memory_id = known.memory.get(plan.key)
        if known.latest.get(plan.key) == ref:
            report.unchanged += 1
        else:
            source_id = known.sources.get(ref)  # known: a note changed back to that version
            if source_id is None:
                source_id = new_id()
                row = source_row(plan.source.model_copy(update={"id": source_id}))
                row["created_at"] = to_iso(stamp)
                db.execute(insert_sql("sources", row), list(row.values()))
                sources.append(source_id)
            if memory_id is None:
                memory_id = _insert_memory(store, db, plan.memory, stamp)
                added.append(memory_id)
                report.added += 1
            else:
                rewritten = _update_memory(store, db, memory_id, plan.memory, stamp)
                if rewritten:
                    updated.append(memory_id)
                # Changed: a new version kept, or the memory rewritten (a front matter
                # edit changes the file but may leave the memory's fields as they were).
                if rewritten or sources[-1:] == [source_id]:
                    report.updated += 1
                else:
                    report.unchanged += 1
            link_source(db, memory_id, source_id)
        memory_of[plan.note.rel] = memory_id
        if memory_id is not None:
            report.memory_ids.append(memory_id)
    _set_edges(store, db, vault, memory_of, report)
    return added, updated, sources


@dataclass
class _Known:
    sources: dict[str, str] = field(default_factory=dict)  # ref -> source id
    latest: dict[str, str] = field(default_factory=dict)  # note key -> its last ref kept
    memory: dict[str, str] = field(default_factory=dict)  # note key -> its memory


def _known(db: Any, vault: Vault) -> _Known:
    """What earlier imports of this vault kept, from its notes' refs (one range of the ref
    index, not a scan of every source)."""
    prefix = f"note:{vault.name}/"
    rows = db.query(
        """SELECT s.id, s.ref, m.id AS memory_id FROM sources s
        LEFT JOIN memory_sources ms ON ms.source_id = s.id
        LEFT JOIN memories m ON m.id = ms.memory_id AND m.type = 'resource'
        WHERE s.kind = 'file' AND s.ref >= ? AND s.ref < ? ORDER BY s.seq""",
        [prefix, prefix[:-1] + "0"],  # "0" follows "/": every ref that starts with the prefix
    )
    known = _Known()
    for row in rows:
        key = note_key(row["ref"])
        known.sources[row["ref"]] = row["id"]
        known.latest[key] = row["ref"]
        if row["memory_id"] is not None:
            known.memory[key] = row["memory_id"]
    return known


def _insert_memory(store: MemoryStore, db: Any, memory: ResourceMemory, stamp: Any) -> str:
    stored = memory.model_copy(
        update={"id": new_id(), "created_at": stamp, "updated_at": stamp, "rev": 1}
    )
    row = store.row_for(stored, None)
    db.execute(insert_sql("memories", row), list(row.values()))
    insert_version(db, stored.id, 1, to_iso(stamp), "imported from notes", ACTOR, [], None)
    return stored.id


def _update_memory(
    store: MemoryStore, db: Any, memory_id: str, memory: ResourceMemory, stamp: Any
) -> bool:
    """The note's fields (title, summary, content) of its memory as the note has them now, as
    MemoryStore.update records a change: a new revision, the old values in its history.
    Returns whether anything changed."""
    (row,) = db.query("SELECT * FROM memories WHERE id = ?", [memory_id])
    old = json.loads(row["data"])
    fields = {"title": memory.title, "summary": memory.summary, "content": memory.content}
    # Never before the revision it replaces (a clock set back), as in MemoryStore.update.
    at = max(stamp, from_iso(row["updated_at"]))
    candidate = parse_memory(
        {
            **old,
            **fields,
            "id": memory_id,
            "created_at": row["created_at"],
            "updated_at": at,
            "rev": row["rev"] + 1,
        }
    )
    new = candidate.payload()
    changed = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k))
    if not changed:
        return False
    new_row = store.row_for(candidate, row["secret"])
    assignments = ", ".join(f"{k} = ?" for k in new_row if k != "id")
    db.execute(
        f"UPDATE memories SET {assignments} WHERE id = ?",
        [v for k, v in new_row.items() if k != "id"] + [memory_id],
    )
    insert_version(db, memory_id, new_row["rev"], to_iso(at), "note changed", ACTOR, changed, old)
    return True


def _set_edges(
    store: MemoryStore, db: Any, vault: Vault, memory_of: dict[str, str | None], report: NotesReport
) -> None:
    """Every note's "links_to" and "tagged" edges as its text says. All the edges wanted are
    added before any is removed: a topic that loses its last edge goes (a database trigger),
    and must not go while another note still points at it."""
    topics: dict[str, str] = {}

    def topic(name: str) -> str:
        folded = name.casefold()
        if folded not in topics:
            topics[folded] = store.entity(EntityKind.TOPIC, name).id
        return topics[folded]

    wanted: dict[str, set[tuple[str, str]]] = {}
    for note in vault.notes:
        src = memory_of.get(note.rel)
        if src is None:
            continue
        edges = wanted.setdefault(src, set())
        for target in note.links:
            linked = vault.resolve(note, target)
            if linked is not None:
                dst = memory_of.get(linked.rel)  # None: its memory was deleted by the user
                if dst is not None and dst != src:
                    edges.add((dst, LINKS_TO))
            elif not is_attachment(target):
                name = " ".join(PurePosixPath(target).name.removesuffix(".md").split())
                if name:
                    edges.add((topic(name), LINKS_TO))
        for tag in note.tags:
            edges.add((topic(tag), TAGGED))
    report.topics = len(set(topics.values()))
    stale: list[tuple[str, str, str]] = []
    for src, edges in wanted.items():
        have = {
            (r["dst"], r["relation"])
            for r in db.query(
                "SELECT dst, relation FROM links WHERE src = ? AND relation IN (?, ?)",
                [src, LINKS_TO, TAGGED],
            )
        }
        for dst, relation in sorted(edges - have):
            report.links_added += db.execute(
                "INSERT OR IGNORE INTO links (src, dst, relation, created_at) VALUES (?, ?, ?, ?)",
                [src, dst, relation, to_iso(now())],
            ).rowcount
        stale += [(src, dst, relation) for dst, relation in have - edges]
    for src, dst, relation in stale:
        report.links_removed += db.execute(
            "DELETE FROM links WHERE src = ? AND dst = ? AND relation = ?", [src, dst, relation]
        ).rowcount
