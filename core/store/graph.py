"""Entities (people, projects, places) and the links of the memory graph. A mixin of
MemoryStore, kept apart for size: it shares its state."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import InvalidInput, NotFound
from core.ids import new_id
from core.memory.models import Entity, EntityKind, Link
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.rows import insert_sql, like_literal
from core.timeutil import from_iso, now, to_iso


class GraphMixin:
    # What these methods use of the store (see MemoryStore).
    db: Database
    changes: ChangeHub
    resolve: Callable[[str], str]

    def entity(self, kind: EntityKind | str, name: str) -> Entity:
        """The entity of this name (see `find_entity`), created if new. A full name that finds
        the person known so far by the first name alone gives that node the full name."""
        entity = Entity(kind=EntityKind(kind), name=" ".join(name.split()))
        with self.db.write() as db:
            found = _match(db, entity)
            if found is not None and _first_name_of(found, entity):
                # "Marta" was "Marta Silva" all along: the node takes the full name, so a
                # "Marta Costa" later is someone else.
                db.execute("UPDATE entities SET name = ? WHERE id = ?", [entity.name, found["id"]])
                found = {**found, "name": entity.name}
            if found is None:
                found = {
                    "id": new_id(),
                    "kind": entity.kind.value,
                    "name": entity.name,
                    "created_at": to_iso(now()),
                }
                db.execute(insert_sql("entities", found), list(found.values()))
                self.changes.emit("entity", "added", [found["id"]])
        return _entity(found)

    def find_entity(self, kind: EntityKind | str, name: str) -> Entity | None:
        """The entity of this name, if there is one; nothing is created or renamed. A name
        matches case-insensitively, whatever its kind (one node per name). A person's first
        name alone finds the one person whose full name starts with it, and a full name finds
        the person known so far by its first name, so "Marta" and "Marta Silva" are one node;
        a name of two words or more that ends another ("Avenida Palace", "Hotel Avenida
        Palace") is that one."""
        found = _match(self.db, Entity(kind=EntityKind(kind), name=" ".join(name.split())))
        return None if found is None else _entity(found)

    def mention(self, entity_id: str, source_ids: Sequence[str]) -> None:
        """Record that these kept inputs mention the entity."""
        with self.db.write() as db:
            db.conn.executemany(
                "INSERT OR IGNORE INTO entity_sources (entity_id, source_id) VALUES (?, ?)",
                [(entity_id, s) for s in source_ids],
            )

    def mentions(self, entity_id: str) -> list[str]:
        """The ids of the kept inputs that mention an entity, oldest first."""
        rows = self.db.query(
            """SELECT s.id FROM entity_sources e JOIN sources s ON s.id = e.source_id
            WHERE e.entity_id = ? ORDER BY s.occurred_at""",
            [entity_id],
        )
        return [r["id"] for r in rows]

    def merge_entities(self, keep: str, drop: str, *, actor: str | None = None) -> "EntityMerge":
        """Make two nodes one ("Marta" and "Marta Silva" are the same person): `drop`'s
        mentions and links move to `keep`, and `drop` goes. Returns what moved, so the merge can
        be undone (`split_entity`)."""
        if keep == drop:
            raise InvalidInput("an entity cannot be merged with itself")
        with self.db.write() as db:
            rows = list(db.query("SELECT * FROM entities WHERE id IN (?, ?)", [keep, drop]))
            if len(rows) != 2:
                raise NotFound("both entities must exist to be merged")
            dropped = _entity(next(r for r in rows if r["id"] == drop))
            mentions, had = (
                {
                    r["source_id"]
                    for r in db.query(
                        "SELECT source_id FROM entity_sources WHERE entity_id = ?", [entity]
                    )
                }
                for entity in (drop, keep)
            )
            links = [
                Link(src=r["src"], dst=r["dst"], relation=r["relation"])
                for r in db.query("SELECT * FROM links WHERE src = ? OR dst = ?", [drop, drop])
            ]
            keep_links = {
                (r["src"], r["dst"], r["relation"])
                for r in db.query("SELECT * FROM links WHERE src = ? OR dst = ?", [keep, keep])
            }
            db.execute(
                "INSERT OR IGNORE INTO entity_sources (entity_id, source_id) "
                "SELECT ?, source_id FROM entity_sources WHERE entity_id = ?",
                [keep, drop],
            )
            for link in links:
                src = keep if link.src == drop else link.src
                dst = keep if link.dst == drop else link.dst
                if src != dst:
                    db.execute(
                        "INSERT OR IGNORE INTO links (src, dst, relation, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        [src, dst, link.relation, to_iso(now())],
                    )
            db.execute("DELETE FROM entities WHERE id = ?", [drop])
            if actor is not None:
                _record(db, keep, "", "merged", dropped.name, actor)
        self.changes.emit("entity", "deleted", [drop])
        self.changes.emit("link", "added", [keep])
        return EntityMerge(
            keep, dropped, sorted(mentions), links, sorted(mentions - had), keep_links
        )

    def split_entity(self, merge: "EntityMerge", *, actor: str | None = None) -> Entity:
        """Undo a merge: the dropped entity comes back (with a new id) with its own mentions
        and links; the kept one loses those it gained only from it."""
        with self.db.write() as db:
            # The name may have come back meanwhile (ingested again): that node is the one.
            found = _one(
                db,
                "SELECT * FROM entities WHERE name = ? COLLATE NOCASE",
                [merge.dropped.name],
            )
            if found is None:
                # Under its old id, so undo steps recorded before the merge still find it.
                taken = _one(db, "SELECT id FROM entities WHERE id = ?", [merge.dropped.id])
                found = {
                    "id": new_id() if taken else merge.dropped.id,
                    "kind": merge.dropped.kind.value,
                    "name": merge.dropped.name,
                    "created_at": to_iso(merge.dropped.created_at or now()),
                }
                db.execute(insert_sql("entities", found), list(found.values()))
            for source_id in merge.mentions:  # those not deleted since
                db.execute(
                    "INSERT OR IGNORE INTO entity_sources (entity_id, source_id) "
                    "SELECT ?, id FROM sources WHERE id = ?",
                    [found["id"], source_id],
                )
            for source_id in merge.gained:
                db.execute(
                    "DELETE FROM entity_sources WHERE entity_id = ? AND source_id = ?",
                    [merge.keep, source_id],
                )
            for link in merge.links:
                src = found["id"] if link.src == merge.dropped.id else link.src
                dst = found["id"] if link.dst == merge.dropped.id else link.dst
                if not all(_exists(db, node) for node in (src, dst)):
                    continue  # a memory deleted since the merge
                db.execute(
                    "INSERT OR IGNORE INTO links (src, dst, relation, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [src, dst, link.relation, to_iso(now())],
                )
                moved_src = merge.keep if link.src == merge.dropped.id else link.src
                moved_dst = merge.keep if link.dst == merge.dropped.id else link.dst
                if (moved_src, moved_dst, link.relation) not in merge.keep_links:
                    db.execute(
                        "DELETE FROM links WHERE src = ? AND dst = ? AND relation = ?",
                        [moved_src, moved_dst, link.relation],
                    )
            if actor is not None:
                _record(db, merge.keep, found["id"], "split", merge.dropped.name, actor)
        self.changes.emit("entity", "added", [found["id"]])
        return _entity(found)

    def entities(self, ids: Sequence[str] | None = None) -> list[Entity]:
        """Every entity, or those of `ids` that exist (ids of other nodes are skipped)."""
        if ids is None:
            rows = self.db.query("SELECT * FROM entities ORDER BY kind, name")
        else:
            rows = list(self.db.query_in("SELECT * FROM entities WHERE id IN ({marks})", ids))
        return [_entity(r) for r in rows]

    def link(
        self, src: str, dst: str, relation: str = "related", *, actor: str | None = None
    ) -> Link:
        """A directed edge between two memories or entities (ids or memory-id prefixes). With
        an `actor` (a change made by hand), both ends' graph history records it."""
        link = Link(src=self._node(src), dst=self._node(dst), relation=relation, created_at=now())
        if link.src == link.dst:
            raise InvalidInput("a memory cannot be linked to itself")
        with self.db.write() as db:
            added = db.execute(
                "INSERT OR IGNORE INTO links (src, dst, relation, created_at) VALUES (?, ?, ?, ?)",
                [link.src, link.dst, link.relation, to_iso(now())],
            ).rowcount
            if added and actor is not None:
                _record_both(db, link.src, link.dst, "linked", relation, actor)
        self.changes.emit("link", "added", [link.src, link.dst])
        return link

    def unlink(
        self, src: str, dst: str, relation: str | None = None, *, actor: str | None = None
    ) -> int:
        """Remove the edges from `src` to `dst` (of one relation, or all); returns how many."""
        src, dst = self._node(src), self._node(dst)
        sql, params = "DELETE FROM links WHERE src = ? AND dst = ?", [src, dst]
        if relation is not None:
            sql, params = sql + " AND relation = ?", [*params, relation]
        with self.db.write() as db:
            removed = db.execute(sql, params).rowcount
            if removed and actor is not None:
                _record_both(db, src, dst, "unlinked", relation or "", actor)
        if removed:
            self.changes.emit("link", "deleted", [src, dst])
        return removed

    def rename_entity(self, entity_id: str, name: str, *, actor: str = "user") -> Entity:
        """Give a person, place or thing another name (its history keeps the old one)."""
        name = " ".join(name.split())
        if not name:
            raise InvalidInput("a name cannot be empty")
        with self.db.write() as db:
            found = _one(db, "SELECT * FROM entities WHERE id = ?", [entity_id])
            if found is None:
                raise NotFound(f"no entity with id {entity_id}")
            clash = _one(
                db,
                "SELECT * FROM entities WHERE name = ? COLLATE NOCASE AND id != ?",
                [name, entity_id],
            )
            if clash is not None:
                raise InvalidInput(f"{clash['name']!r} is already a node: merge the two instead")
            db.execute("UPDATE entities SET name = ? WHERE id = ?", [name, entity_id])
            _record(db, entity_id, "", "renamed", found["name"], actor)
        self.changes.emit("entity", "updated", [entity_id])
        return _entity({**found, "name": name})

    def restore_entity(self, entity: Entity) -> str:
        """Bring back an entity that went (its last link taken away, an undo puts it back):
        under its own id, or the id of the node that has its name now. Returns that id."""
        with self.db.write() as db:
            found = _one(db, "SELECT * FROM entities WHERE id = ?", [entity.id])
            if found is None:
                found = _one(
                    db, "SELECT * FROM entities WHERE name = ? COLLATE NOCASE", [entity.name]
                )
            if found is None:
                found = {
                    "id": entity.id,
                    "kind": entity.kind.value,
                    "name": entity.name,
                    "created_at": to_iso(entity.created_at or now()),
                }
                db.execute(insert_sql("entities", found), list(found.values()))
                self.changes.emit("entity", "added", [found["id"]])
        return str(found["id"])

    def graph_history(self, node: str) -> list["GraphEvent"]:
        """The changes made by hand to a node's place in the graph, oldest first, each naming
        the other end as it is now."""
        rows = self.db.query(
            """SELECT h.*, coalesce(e.name, m.headline, '') AS other_name
            FROM graph_history h
            LEFT JOIN entities e ON e.id = h.other
            LEFT JOIN memories m ON m.id = h.other
            WHERE h.node = ? ORDER BY h.seq""",
            [node],
        )
        return [
            GraphEvent(
                at=from_iso(r["at"]),
                action=r["action"],
                detail=r["detail"],
                other=r["other"],
                other_name=r["other_name"],
                actor=r["actor"],
            )
            for r in rows
        ]

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


@dataclass(frozen=True)
class GraphEvent:
    """One change made by hand to a node's place in the graph."""

    at: datetime
    action: str  # linked, unlinked, renamed, merged, split
    detail: str  # the relation; for renamed, merged and split, the other name
    other: str  # the other end's id, "" when none
    other_name: str  # its name or headline now ("" when it is gone)
    actor: str

    def describe(self) -> str:
        if self.action == "renamed":
            return f"renamed (was {self.detail!r})"
        if self.action == "merged":
            return f"merged {self.detail!r} into it"
        if self.action == "split":
            return f"split {self.detail!r} out again"
        relation = f" ({self.detail})" if self.detail else ""
        to = "to" if self.action == "linked" else "from"
        return f"{self.action} {to} {self.other_name or 'a node gone since'!r}{relation}"


def _record(db: Any, node: str, other: str, action: str, detail: str, actor: str) -> None:
    db.execute(
        "INSERT INTO graph_history (node, other, action, detail, actor, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [node, other, action, detail, actor, to_iso(now())],
    )


def _record_both(db: Any, a: str, b: str, action: str, detail: str, actor: str) -> None:
    """Both ends' history, for the ends that still exist (an unlink can take a person or
    place with its last link: its history went with it)."""
    for node, other in ((a, b), (b, a)):
        if _exists(db, node):
            _record(db, node, other if _exists(db, other) else "", action, detail, actor)


@dataclass
class EntityMerge:
    """What a merge moved: enough to undo it."""

    keep: str
    dropped: Entity
    mentions: list[str]  # the dropped entity's
    links: list[Link]  # the dropped entity's
    gained: list[str]  # mentions the kept entity had only through the dropped one
    keep_links: set[tuple[str, str, str]] = field(default_factory=set)  # the kept one's own


def _match(db: Any, entity: Entity) -> dict[str, Any] | None:
    """The row of the entity `entity` names (see GraphMixin.find_entity), or None."""
    found = _one(db, "SELECT * FROM entities WHERE name = ? COLLATE NOCASE", [entity.name])
    if found is None and entity.kind == EntityKind.PERSON:
        first = entity.name.split()[0]
        if first == entity.name:
            found = _one(
                db,
                "SELECT * FROM entities WHERE kind = 'person' AND name LIKE ? ESCAPE '\\'",
                [f"{like_literal(first)} %"],
                unique=True,
            )
        else:
            found = _one(
                db,
                "SELECT * FROM entities WHERE kind = 'person' AND name = ? COLLATE NOCASE",
                [first],
            )
    if found is None and " " in entity.name:
        # "Avenida Palace" and "Hotel Avenida Palace": one name ends the other.
        found = _one(
            db,
            """SELECT * FROM entities WHERE instr(name, ' ') > 0 AND (
                name LIKE '% ' || ? ESCAPE '\\' OR ? LIKE '% ' || name)""",
            [like_literal(entity.name), entity.name],
            unique=True,
        )
    return found


def _first_name_of(found: dict[str, Any], entity: Entity) -> bool:
    """Whether `found` is the person `entity` names, known so far by the first name alone."""
    first = entity.name.split()[0]
    return (
        entity.kind == EntityKind.PERSON
        and first != entity.name
        and found["kind"] == "person"
        and found["name"].lower() == first.lower()
    )


def _one(db: Any, sql: str, params: list[Any], *, unique: bool = False) -> dict[str, Any] | None:
    rows = list(db.query(sql, params))
    if unique and len(rows) != 1:
        return None
    return rows[0] if rows else None


def _exists(db: Any, node: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM memories WHERE id = ? UNION ALL SELECT 1 FROM entities WHERE id = ?",
            [node, node],
        ).fetchone()
    )


def _entity(row: dict[str, Any]) -> Entity:
    return Entity(
        id=row["id"], kind=row["kind"], name=row["name"], created_at=from_iso(row["created_at"])
    )
