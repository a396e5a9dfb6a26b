"""Typed reads for the window's views: pages of memories, sources by time, provenance both
ways, graph neighbourhoods and the store's figures. Each returns records, never rows."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from core.memory.models import Entity, Link, Memory, MemoryType, Source
from core.store.memories import MemoryStore, sql_filters
from core.store.rows import between

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list: `total` is the length of the whole list."""

    items: list[T]
    offset: int
    total: int


@dataclass(frozen=True)
class Stats:
    memories: dict[str, int]
    sources: int
    entities: int
    links: int
    vectors: int
    embedder: str
    schema_version: int
    database_bytes: int
    vector_bytes: int

    @property
    def total_memories(self) -> int:
        return sum(self.memories.values())


@dataclass(frozen=True)
class Neighbourhood:
    """The memories and entities within some links of one node, and the links between them."""

    center: str
    memories: dict[str, Memory] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)


# The browser's sortable columns and the SQL each sorts by.
ORDERS = {
    "when": "event_time",
    "type": "type",
    "app": "coalesce(source_app, '')",
    "memory": "headline COLLATE NOCASE",
}


def page_of_memories(
    store: MemoryStore,
    *,
    types: Iterable[MemoryType] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    source_apps: Iterable[str] | None = None,
    sensitivities: Iterable[str] | None = None,
    folder: str | None = None,
    order: str = "when",
    descending: bool = True,
    offset: int = 0,
    limit: int = 100,
) -> Page[Memory]:
    """One page of the memories that match, sorted by `order` (a key of ORDERS; newest first
    by default), with the count of all that match."""
    if order not in ORDERS:
        raise ValueError(f"cannot sort by {order!r}; by one of {', '.join(ORDERS)}")
    where, params = sql_filters(
        types=None if types is None else list(types),
        since=since,
        until=until,
        source_apps=None if source_apps is None else list(source_apps),
        sensitivities=None if sensitivities is None else list(sensitivities),
        folder=folder,
    )
    total = int(store.db.scalar(f"SELECT count(*) FROM memories WHERE {where}", params))
    direction = "DESC" if descending else "ASC"
    rows = store.db.query(
        f"SELECT id FROM memories WHERE {where} "
        f"ORDER BY {ORDERS[order]} {direction}, seq {direction} "
        f"LIMIT {int(limit)} OFFSET {int(offset)}",
        params,
    )
    ids = [row["id"] for row in rows]
    found = store.get_many(ids)
    return Page([found[i] for i in ids if i in found], offset, total)


def memory_apps(store: MemoryStore) -> list[str]:
    """The apps memories were written from (the browser's app filter), by name."""
    rows = store.db.query(
        "SELECT DISTINCT source_app FROM memories WHERE source_app IS NOT NULL "
        "AND source_app != '' ORDER BY source_app COLLATE NOCASE"
    )
    return [row["source_app"] for row in rows]


def memory_folders(store: MemoryStore, types: Iterable[MemoryType] | None = None) -> dict[str, int]:
    """Every folder of the tree (`tree_path`, "a/b") with how many memories it holds, its
    subfolders' included; the root is "" and counts them all."""
    where, params = sql_filters(types=None if types is None else list(types))
    rows = store.db.query(
        f"SELECT tree_path, count(*) AS n FROM memories WHERE {where} GROUP BY tree_path", params
    )
    folders: dict[str, int] = {}
    for row in rows:
        parts = [p for p in row["tree_path"].split("/") if p]
        for depth in range(len(parts) + 1):
            path = "/".join(parts[:depth])
            folders[path] = folders.get(path, 0) + row["n"]
    return folders


def sources_between(
    store: MemoryStore,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    kinds: Iterable[str] | None = None,
    apps: Iterable[str] | None = None,
    limit: int = 500,
) -> list[Source]:
    """Kept inputs in a time range (of some kinds, from some apps), oldest first."""
    clauses, params = between("occurred_at", since, until)
    clauses.append("1")
    for column, values in (("kind", kinds), ("app", apps)):
        if values is not None:
            values = [str(v) for v in values]
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params += values
    rows = store.db.query(
        f"SELECT id FROM sources WHERE {' AND '.join(clauses)} "
        f"ORDER BY occurred_at LIMIT {int(limit)}",
        params,
    )
    ids = [row["id"] for row in rows]
    found = store.get_sources(ids)
    return [found[i] for i in ids if i in found]


def memories_of_source(store: MemoryStore, source_id: str) -> list[Memory]:
    """The memories written from one input, newest first."""
    rows = store.db.query("SELECT memory_id FROM memory_sources WHERE source_id = ?", [source_id])
    found = store.get_many([row["memory_id"] for row in rows])
    return sorted(found.values(), key=lambda m: m.updated_at or m.created_at, reverse=True)  # type: ignore[arg-type, return-value]


def neighbourhood(store: MemoryStore, ref: str, depth: int = 1) -> Neighbourhood:
    """Everything within `depth` links of a memory or entity."""
    center = store._node(ref)
    seen = {center}
    frontier = {center}
    links: dict[tuple[str, str, str], Link] = {}
    for _ in range(max(depth, 0)):
        reached: set[str] = set()
        for node in frontier:
            for link in store.links(node):
                links[(link.src, link.dst, link.relation)] = link
                reached |= {link.src, link.dst}
        frontier = reached - seen
        seen |= reached
        if not frontier:
            break
    entities = {e.id: e for e in store.entities(sorted(seen))}
    memories = store.get_many([node for node in seen if node not in entities])
    return Neighbourhood(center, memories, entities, list(links.values()))


def stats(store: MemoryStore) -> Stats:
    folder = store.folder
    return Stats(
        memories=store.counts(),
        sources=int(store.db.scalar("SELECT count(*) FROM sources")),
        entities=int(store.db.scalar("SELECT count(*) FROM entities")),
        links=int(store.db.scalar("SELECT count(*) FROM links")),
        vectors=store.vectors.count(),
        embedder=store.embedder.name,
        schema_version=int(store.db.scalar("PRAGMA user_version")),
        database_bytes=sum(p.stat().st_size for p in folder.glob("mnemo.db*") if p.is_file()),
        vector_bytes=sum(p.stat().st_size for p in (folder / "vectors").rglob("*") if p.is_file()),
    )


def as_of(store: MemoryStore, ref: str, rev: int) -> dict[str, Any]:
    """A memory's fields as they were at revision `rev`: its fields now, with every later
    change's old values put back (the secret is not part of it)."""
    memory = store.get(ref)
    state = dict(memory.payload())
    for version in reversed(store.history(memory.id)):
        if version.rev <= rev:
            break
        for key in version.changed:
            if version.old is not None and key in version.old and key != "secret_value":
                state[key] = version.old[key]
    return state


@dataclass(frozen=True)
class GraphNode:
    id: str
    kind: str  # an entity's kind (person, place, …) or a memory's type
    label: str
    is_entity: bool
    when: datetime | None = None  # a memory's time; an entity's first appearance


@dataclass(frozen=True)
class Graph:
    nodes: list[GraphNode]
    edges: list[tuple[str, str, str]]  # (src, dst, relation)


def graph(store: MemoryStore, limit: int = 2000) -> Graph:
    """The memory graph: every entity and the memories linked to one another or to entities,
    with their links; the `limit` nodes with the most links when there are more."""
    links = store.links()
    degree: dict[str, int] = {}
    for link in links:
        degree[link.src] = degree.get(link.src, 0) + 1
        degree[link.dst] = degree.get(link.dst, 0) + 1
    entities = {e.id: e for e in store.entities()}
    for entity_id in entities:
        degree.setdefault(entity_id, 0)
    kept = set(sorted(degree, key=lambda node: -degree[node])[:limit])
    memories = store.get_many([node for node in kept if node not in entities])
    nodes = [
        GraphNode(e.id, str(e.kind), e.name, True, e.created_at)
        for e in entities.values()
        if e.id in kept
    ]
    nodes += [
        GraphNode(m.id, str(m.type), m.headline, False, m.event_time or m.created_at)
        for m in memories.values()
    ]
    present = {node.id for node in nodes}
    edges = [(e.src, e.dst, e.relation) for e in links if e.src in present and e.dst in present]
    return Graph(nodes, edges)
