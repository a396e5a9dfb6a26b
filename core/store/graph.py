"""Entities (people, projects, places) and the links of the memory graph. A mixin of
MemoryStore, kept apart for size: it shares its state."""

from collections.abc import Callable

from core.errors import InvalidInput
from core.ids import new_id
from core.memory.models import Entity, EntityKind, Link
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.rows import insert_sql
from core.timeutil import from_iso, now, to_iso


class GraphMixin:
    # What these methods use of the store (see MemoryStore).
    db: Database
    changes: ChangeHub
    resolve: Callable[[str], str]

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
                db.execute(insert_sql("entities", found), list(found.values()))
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
