"""Entities (people, projects, places) and the links of the memory graph. A mixin of
MemoryStore, kept apart for size: it shares its state."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
        """The entity of this name (case-insensitive, whatever its kind: one node per name),
        created if new. A person's first name alone finds the one person whose full name
        starts with it, and a full name finds the person known so far by its first name, so
        "Marta" and "Marta Silva" are one node; a name of two words or more that ends another
        ("Avenida Palace", "Hotel Avenida Palace") is that one."""
        entity = Entity(kind=EntityKind(kind), name=" ".join(name.split()))
        with self.db.write() as db:
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
                    if found is not None:
                        # "Marta" was "Marta Silva" all along: the node takes the full name,
                        # so a "Marta Costa" later is someone else.
                        db.execute(
                            "UPDATE entities SET name = ? WHERE id = ?", [entity.name, found["id"]]
                        )
                        found = {**found, "name": entity.name}
            if found is None and " " in entity.name:
                # "Avenida Palace" and "Hotel Avenida Palace": one name ends the other.
                found = _one(
                    db,
                    """SELECT * FROM entities WHERE instr(name, ' ') > 0 AND (
                        name LIKE '% ' || ? ESCAPE '\\' OR ? LIKE '% ' || name)""",
                    [like_literal(entity.name), entity.name],
                    unique=True,
                )
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

    def merge_entities(self, keep: str, drop: str) -> "EntityMerge":
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
        self.changes.emit("entity", "deleted", [drop])
        self.changes.emit("link", "added", [keep])
        return EntityMerge(
            keep, dropped, sorted(mentions), links, sorted(mentions - had), keep_links
        )

    def split_entity(self, merge: "EntityMerge") -> Entity:
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
                found = {
                    "id": new_id(),
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
        self.changes.emit("entity", "added", [found["id"]])
        return _entity(found)

    def entities(self) -> list[Entity]:
        rows = self.db.query("SELECT * FROM entities ORDER BY kind, name")
        return [_entity(r) for r in rows]

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


@dataclass
class EntityMerge:
    """What a merge moved: enough to undo it."""

    keep: str
    dropped: Entity
    mentions: list[str]  # the dropped entity's
    links: list[Link]  # the dropped entity's
    gained: list[str]  # mentions the kept entity had only through the dropped one
    keep_links: set[tuple[str, str, str]] = field(default_factory=set)  # the kept one's own


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
