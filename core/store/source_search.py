"""Search over the verbatim sources: what was actually said, shown or read, word for word.

Memories are what the agents made of the inputs; a small model misses details, so the chat
agent also searches the inputs themselves. Keyword (FTS5 BM25 over each source's search text)
and vector rankings are fused by reciprocal rank, as for memories.

Measured on the LoCoMo development conversations (762 questions; turns indexed after the turn
they answer), recall@10 of the evidence turns: BM25 alone 0.711; fused with MiniLM vectors at
k=60, vector weight 0.25: 0.691, 0.5: 0.665; at k=10, weight 0.25: 0.718 (0.1: 0.712, 0.5:
0.715; k=5: 0.716, k=20: 0.713). MiniLM misleads more than it helps on conversational turns, so
vectors get a quarter of the keywords' weight, and a small k lets the best keyword hits lead
(`search.source_vector_weight`, `search.source_rrf_k`); the vectors still find turns that share
no word with the question. These were tuned on the development split.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.memory.models import Source, SourceKind
from core.store.fusion import best as fused_best
from core.store.fusion import fuse, tied_ranks
from core.store.memories import MemoryStore
from core.store.rows import between
from core.store.search import _phrase, query_terms, snippet
from core.store.vectors import VectorFilter

log = logging.getLogger(__name__)


@dataclass
class SourceHit:
    source: Source
    score: float
    snippet: str
    keyword_rank: int | None = None
    vector_rank: int | None = None


def search_sources(
    store: MemoryStore,
    query: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[SourceKind | str] | None = None,
    actor: str | None = None,
    limit: int = 10,
) -> list[SourceHit]:
    """The best `limit` sources for `query` from `since` to `until` (both included, as for
    memories), best first; `actor`: only what that speaker said."""
    settings = store.settings.search
    terms = query_terms(query)
    if not terms:
        return []
    k = max(settings.candidates, limit)
    kind_values = None if kinds is None else frozenset(SourceKind(x).value for x in kinds)
    spans, times = between("s.occurred_at", since, until)
    where = ["sources_fts MATCH ?", *spans]
    params: list[Any] = [" OR ".join(map(_phrase, terms)), *times]
    if kind_values is not None:
        where.append(f"s.kind IN ({','.join('?' * len(kind_values))})")
        params.extend(sorted(kind_values))
    if actor is not None:
        where.append("s.actor = ? COLLATE NOCASE")
        params.append(actor)
    keyword = [
        (row[0], row[1])
        for row in store.db.tuples(
            "SELECT s.id, bm25(sources_fts) FROM sources_fts "
            "JOIN sources s ON s.seq = sources_fts.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY bm25(sources_fts) LIMIT ?",
            [*params, k],
        )
    ]
    try:
        vector = store.source_vectors.search(
            store.query_vector(query),
            k,
            VectorFilter(
                types=kind_values,
                since_ts=None if since is None else since.timestamp(),
                until_ts=None if until is None else until.timestamp(),
            ),
        )
    except (OSError, RuntimeError, ValueError) as exc:  # an embedding model that cannot load
        log.warning("source vector search failed, answering from keywords alone: %s", exc)
        vector = []
    vector = [hit for hit in vector if hit[1] >= settings.min_similarity]
    if actor is not None and vector:
        # The vector index does not hold speakers: the pool is filtered after the search.
        theirs = store.db.query_in(
            "SELECT id FROM sources WHERE actor = ? COLLATE NOCASE AND id IN ({marks})",
            [hit[0] for hit in vector],
            [actor],
        )
        ids = {row["id"] for row in theirs}
        vector = [hit for hit in vector if hit[0] in ids]

    keyword_ranks = tied_ranks([h[0] for h in keyword], [-h[1] for h in keyword])
    vector_ranks = tied_ranks([h[0] for h in vector], [h[1] for h in vector])
    parts = fuse(
        {"keyword": keyword_ranks, "vector": vector_ranks},
        {"keyword": settings.keyword_weight, "vector": settings.source_vector_weight},
        settings.source_rrf_k,
    )
    best = fused_best(parts, limit)
    if not best:
        return []
    found = store.get_sources(best)
    return [
        SourceHit(
            source=found[source_id],
            score=sum(parts[source_id].values()),
            snippet=snippet(found[source_id].line, terms),
            keyword_rank=keyword_ranks.get(source_id),
            vector_rank=vector_ranks.get(source_id),
        )
        for source_id in best
        if source_id in found  # deleted between the ranking and now
    ]


MAX_FILTER_TERMS = 16  # words of one filter query; the rest are ignored


def sources_matching(
    store: MemoryStore,
    query: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[SourceKind | str] | None = None,
    limit: int = 20_000,
) -> list[str]:
    """The ids of the sources from `since` to `until` (both included) whose search text holds
    every word of `query`, each as the start of a word ("depl" finds "deploy"s: a view
    filters as the user types), oldest first. A query with no words matches nothing.

    A filter, not a ranking (search_sources ranks): the timeline narrows a day of up to
    20,000 captures to those that match, through the FTS index instead of reading their text."""
    terms = query_terms(query)[:MAX_FILTER_TERMS]
    if not terms:
        return []
    spans, times = between("s.occurred_at", since, until)
    where = ["sources_fts MATCH ?", *spans]
    params: list[Any] = [" AND ".join(f"{_phrase(term)}*" for term in terms), *times]
    if kinds is not None:
        values = sorted({SourceKind(x).value for x in kinds})
        where.append(f"s.kind IN ({','.join('?' * len(values))})")
        params.extend(values)
    rows = store.db.tuples(
        "SELECT s.id FROM sources_fts JOIN sources s ON s.seq = sources_fts.rowid "
        f"WHERE {' AND '.join(where)} ORDER BY s.occurred_at LIMIT ?",
        [*params, int(limit)],
    )
    return [row[0] for row in rows]
