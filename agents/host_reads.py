"""The host's typed reads for views (memories, sources, the graph, stats, search) and the
user's edits of the graph. A mixin of Host (agents.host), kept apart for size."""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from agents.host_parts import HostParts
from core.memory.models import CoreBlock, Memory, MemoryType, Source, Version


class ReadsMixin(HostParts):
    def memory(self, ref: str, *, reveal: bool = False) -> Memory:
        return self.store.get(ref, reveal=reveal)

    def source(self, source_id: str) -> Source:
        return self.store.get_source(source_id)

    def history(self, ref: str) -> list[Version]:
        return self.store.history(ref)

    def sources_of(self, ref: str) -> list[Source]:
        return self.store.sources_of(ref)

    def picture_file(self, source: Source) -> Path | None:
        """The file of a capture's picture, only if it is one of the store's own inside the
        data folder (core.capture.pictures.picture_file); None for any other path."""
        from core.capture.pictures import picture_file

        return picture_file(self.store.folder, source.thumbnail)

    def memories_of_source(self, source_id: str) -> list[Memory]:
        from core.store.reads import memories_of_source

        return memories_of_source(self.store, source_id)

    def memories_page(self, *, offset: int = 0, limit: int = 100, **filters: Any) -> Any:
        """A page of memories; filters and order as core.store.reads.page_of_memories."""
        from core.store.reads import page_of_memories

        return page_of_memories(self.store, offset=offset, limit=limit, **filters)

    def memory_apps(self) -> list[str]:
        from core.store.reads import memory_apps

        return memory_apps(self.store)

    def memory_folders(self, types: Sequence[MemoryType] | None = None) -> dict[str, int]:
        from core.store.reads import memory_folders

        return memory_folders(self.store, types)

    def sources_between(
        self, since: datetime | None = None, until: datetime | None = None, **kw: Any
    ) -> list[Source]:
        from core.store.reads import sources_between

        return sources_between(self.store, since, until, **kw)

    def sources_matching(
        self,
        query: str,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        kinds: Sequence[str] | None = None,
        limit: int = 20_000,
    ) -> list[str]:
        """The ids of the inputs in a time range holding every word of `query` (as word
        starts), oldest first: the timeline's search (core.store.source_search)."""
        from core.store.source_search import sources_matching

        return sources_matching(
            self.store, query, since=since, until=until, kinds=kinds, limit=limit
        )

    def neighbourhood(self, ref: str, depth: int = 1) -> Any:
        from core.store.reads import neighbourhood

        return neighbourhood(self.store, ref, depth)

    def graph(self, limit: int = 2000) -> Any:
        """The memory graph's nodes and edges (core.store.reads.graph)."""
        from core.store.reads import graph

        return graph(self.store, limit)

    def delete_sources(self, ids: Sequence[str]) -> int:
        """Delete kept inputs everywhere (text, search entries, vectors, pictures); the memories
        written from them stay. Returns how many went."""
        from core.errors import NotFound

        deleted = 0
        for n, source_id in enumerate(ids, 1):
            try:
                self.store.delete_source(source_id)
                deleted += 1
            except NotFound:
                pass  # already gone
            self.progress("Deleting captures", n, len(ids))
        return deleted

    def merge_entities(self, keep: str, drop: str) -> Any:
        """Two nodes for one person become one; returns what moved (for split_entity)."""
        return self.store.merge_entities(keep, drop, actor="user")

    def split_entity(self, merge: Any) -> Any:
        return self.store.split_entity(merge, actor="user")

    def restore_entity(self, entity: Any) -> str:
        return str(self.store.restore_entity(entity))

    def rename_entity(self, entity_id: str, name: str) -> Any:
        return self.store.rename_entity(entity_id, name, actor="user")

    def link(self, src: str, dst: str, relation: str = "related") -> Any:
        """A link the user drew (recorded in both ends' graph history)."""
        return self.store.link(src, dst, relation, actor="user")

    def unlink(self, src: str, dst: str, relation: str | None = None) -> int:
        return self.store.unlink(src, dst, relation, actor="user")

    def graph_history(self, node: str) -> Any:
        return self.store.graph_history(node)

    def as_of(self, ref: str, rev: int) -> dict[str, Any]:
        """A memory's fields as they were at revision `rev` (to restore that version)."""
        from core.store.reads import as_of

        return as_of(self.store, ref, rev)

    def core_blocks(self) -> list[CoreBlock]:
        return self.store.core_blocks()

    def stats(self) -> Any:
        from core.store.reads import stats

        return stats(self.store)

    def search(self, query: str, **kw: Any) -> Any:
        return self.engine.search(query, **kw)

    def search_memories(
        self,
        query: str,
        *,
        types: Sequence[MemoryType] | None = None,
        since: datetime | None = None,
        source_apps: Sequence[str] | None = None,
        sensitivities: Sequence[str] | None = None,
        folder: str | None = None,
        limit: int = 200,
    ) -> list[Memory]:
        """The memories that match, best first (the browser's search as you type)."""
        from core.store.search import SearchFilters

        filters = SearchFilters.make(
            types=types, since=since, source_apps=source_apps, sensitivities=sensitivities
        )
        # The vector index knows no folders: a folder narrows a wider set of hits.
        wide = limit * 4 if folder else limit
        hits = self.engine.search(query, filters=filters, limit=wide, snippets=False)
        found = [hit.memory for hit in hits]
        if folder:
            found = [m for m in found if f"{'/'.join(m.tree_path)}/".startswith(f"{folder}/")]
        return found[:limit]

    def search_sources(self, query: str, **kw: Any) -> Any:
        """The kept inputs (chat turns, captures, files) that match, best first."""
        from core.store.source_search import search_sources

        return search_sources(self.store, query, **kw)
