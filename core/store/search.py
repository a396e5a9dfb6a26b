"""Hybrid search: keyword (FTS5 BM25) + vector (cosine) + recency, fused by reciprocal rank.

Each ranking contributes weight / (k + rank) for the candidates it ranks; recency ranks only the
candidates the other two found, so it orders relevant memories by age rather than pulling in
unrelated new ones. A query with no words is a pure recency listing under the filters.
"""

import functools
import logging
import re
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from core.memory.models import Memory, MemoryType, Sensitivity
from core.settings import SearchSettings
from core.store.fusion import fuse, tied_ranks
from core.store.memories import MemoryStore, sql_filters
from core.store.vectors import VectorFilter

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to help ranking: FTS5 would score every row containing them, for nothing.
_STOPWORDS = """a about above after again all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they this
those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves"""
STOPWORDS = frozenset(_STOPWORDS.split())
DF_CACHE_SECONDS = 300
SNIPPET_WORDS = 16
# A question has a handful of words worth matching; a pasted page has thousands, each a
# document-frequency lookup, a phrase in the MATCH and a stem in the snippet's pattern (a
# 20,000-word query took 13 s to plan). The first ones stand for the rest.
MAX_TERMS = 32


@dataclass(frozen=True)
class SearchFilters:
    types: frozenset[MemoryType] | None = None
    since: datetime | None = None
    until: datetime | None = None
    source_apps: frozenset[str] | None = None
    sensitivities: frozenset[Sensitivity] | None = None

    @classmethod
    def make(
        cls,
        *,
        types: Iterable[MemoryType | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        source_apps: Iterable[str] | None = None,
        sensitivities: Iterable[Sensitivity | str] | None = None,
        max_sensitivity: Sensitivity | str | None = None,
    ) -> "SearchFilters":
        """Build filters from loose values; `max_sensitivity` means 'this level or lower'."""
        levels: frozenset[Sensitivity] | set[Sensitivity] | None = (
            None if sensitivities is None else {Sensitivity(s) for s in sensitivities}
        )
        if max_sensitivity is not None:
            ceiling = Sensitivity(max_sensitivity).up_to()
            levels = ceiling if levels is None else levels & ceiling
        return cls(
            types=None if types is None else frozenset(MemoryType.parse(str(t)) for t in types),
            since=since,
            until=until,
            source_apps=None if source_apps is None else frozenset(source_apps),
            sensitivities=None if levels is None else frozenset(levels),
        )

    def sql(self, alias: str = "") -> tuple[str, list]:
        return sql_filters(
            types=self.types,
            since=self.since,
            until=self.until,
            source_apps=self.source_apps,
            sensitivities=self.sensitivities,
            alias=alias,
        )

    def vector(self) -> VectorFilter:
        return VectorFilter(
            types=None if self.types is None else frozenset(t.value for t in self.types),
            since_ts=None if self.since is None else self.since.timestamp(),
            until_ts=None if self.until is None else self.until.timestamp(),
            source_apps=self.source_apps,
            sensitivities=(
                None
                if self.sensitivities is None
                else frozenset(s.value for s in self.sensitivities)
            ),
        )


@dataclass
class SearchHit:
    """A found memory with how each ranking placed it (ranks start at 1; None: not found)."""

    memory: Memory
    score: float
    snippet: str
    keyword_rank: int | None = None
    bm25: float | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    recency_rank: int | None = None
    parts: dict[str, float] = field(default_factory=dict)


def query_terms(text: str) -> list[str]:
    """The words of a query worth matching, the first MAX_TERMS distinct ones: stopwords
    dropped unless nothing else is left."""
    words = list(dict.fromkeys(_WORD.findall(text.lower())))
    return ([w for w in words if w not in STOPWORDS] or words)[:MAX_TERMS]


def _phrase(term: str) -> str:
    # Quoted, so no user text is ever read as FTS5 syntax (AND, NEAR, column filters, ...).
    return '"' + term.replace('"', '""') + '"'


def search(
    store: MemoryStore,
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 10,
    settings: SearchSettings | None = None,
    snippets: bool = True,
) -> list[SearchHit]:
    """The best `limit` memories for `query` under `filters`, best first. A caller that
    shows whole memories (the browser) asks for no snippets: 200 of them cost ~16 ms."""
    filters = filters or SearchFilters()
    settings = settings or store.settings.search
    terms = query_terms(query)
    if not terms:
        return _recent(store, filters, limit)
    k = max(settings.candidates, limit)
    # SQLite and numpy both release the GIL: the keyword queries and the vector scan run side
    # by side on the machine's cores.
    pending = [
        _pool().submit(_bm25, store, match, filters, k, since_seq)
        for match, since_seq in _keyword_queries(store, terms, k, settings.keyword_budget)
    ]
    vector: list[tuple[str, float, float]] = []
    try:
        vector = store.vectors.search(store.query_vector(query), k, filters.vector())
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("vector search failed, answering from keywords alone: %s", exc)
    merged = {hit[0]: hit for future in pending for hit in future.result()}
    keyword = sorted(merged.values(), key=lambda hit: hit[1])[:k]

    vector = [hit for hit in vector if hit[1] >= settings.min_similarity]
    info: dict[str, dict] = {}
    for memory_id, bm25, event_ts in keyword:
        info[memory_id] = {"bm25": bm25, "event_ts": event_ts}
    for memory_id, similarity, event_ts in vector:
        info.setdefault(memory_id, {}).update(similarity=similarity, event_ts=event_ts)
    by_age = sorted(info, key=lambda i: info[i]["event_ts"], reverse=True)
    ranks = {
        "keyword": tied_ranks([h[0] for h in keyword], [-h[1] for h in keyword]),
        "vector": tied_ranks([h[0] for h in vector], [h[1] for h in vector]),
        "recency": tied_ranks(by_age, [info[i]["event_ts"] for i in by_age]),
    }
    weights = {
        "keyword": settings.keyword_weight,
        "vector": settings.vector_weight,
        "recency": settings.recency_weight,
    }
    parts = fuse(ranks, weights, settings.rrf_k)
    scores = {memory_id: sum(p.values()) for memory_id, p in parts.items()}
    for memory_id, weight in _weights(store, list(scores)).items():
        scores[memory_id] *= weight  # stale memories, lowered by consolidation
    best = sorted(scores, key=scores.__getitem__, reverse=True)[:limit]
    memories = store.get_many(best)
    hits = []
    for memory_id in best:
        if memory_id not in memories:  # deleted between the ranking and now
            continue
        memory = memories[memory_id]
        hits.append(
            SearchHit(
                memory=memory,
                score=scores[memory_id],
                snippet=snippet(memory.search_text(), terms) if snippets else "",
                keyword_rank=ranks["keyword"].get(memory_id),
                bm25=info[memory_id].get("bm25"),
                vector_rank=ranks["vector"].get(memory_id),
                similarity=info[memory_id].get("similarity"),
                recency_rank=ranks["recency"].get(memory_id),
                parts=parts[memory_id],
            )
        )
    return hits


def _weights(store: MemoryStore, ids: list[str]) -> dict[str, float]:
    """The rank weights below 1 among `ids` (most memories have 1)."""
    rows = store.db.query_in(
        "SELECT id, weight FROM memories WHERE weight < 1 AND id IN ({marks})", ids
    )
    return {row["id"]: row["weight"] for row in rows}


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="mnemo-search")


def _keyword_queries(
    store: MemoryStore, terms: list[str], k: int, budget: int
) -> list[tuple[str, int | None]]:
    """The FTS5 queries (MATCH expression, first rowid or None) that find the k best memories
    by BM25 over `terms` while scoring about `budget` rows each.

    FTS5 scores every row a query matches before sorting (~2 µs a row here), so an OR of common
    words over 100k memories costs 50 ms and more. Rare words (their document frequencies add up
    to at most `budget`) are searched over all of history; common words only where they all occur
    together, or anywhere in a recent window of about `budget` rows. bm25() is the same function
    of the same phrases in each query, so their results merge by score.
    """
    df = _doc_freq(store, terms)
    rare: set[str] = set()
    scored = 0  # rows the rare terms match, kept as a running sum: planning stays linear
    for term in sorted(terms, key=df.__getitem__):
        if scored + df[term] > budget:
            break
        rare.add(term)
        scored += df[term]
    common = [t for t in terms if t not in rare]
    if not common:
        return [(" OR ".join(_phrase(t) for t in terms), None)]
    whole = [_phrase(t) for t in terms if t in rare]
    if len(common) > 1:
        whole.append("(" + " AND ".join(map(_phrase, common)) + ")")
    low, high = store.db.tuples(
        # Two subqueries: SQLite answers a lone min() or max() from the index, both at once by scan.
        "SELECT (SELECT min(seq) FROM memories), (SELECT max(seq) FROM memories)"
    )[0]
    span = (high or 0) - (low or 0)
    window_start = (high or 0) - int(span * budget / max(sum(df[t] for t in common), 1))
    queries: list[tuple[str, int | None]] = [(" OR ".join(map(_phrase, terms)), window_start)]
    if whole:
        queries.append((" OR ".join(whole), None))
    return queries


def _bm25(
    store: MemoryStore, match: str, filters: SearchFilters, k: int, since_seq: int | None = None
) -> list[tuple[str, float, float]]:
    """(id, bm25, event time in epoch seconds) of the k best matches; lower bm25 is better."""
    where, params = filters.sql(alias="m")
    if since_seq is not None:
        where, params = f"{where} AND memories_fts.rowid >= ?", [*params, since_seq]
    rows = store.db.tuples(
        "SELECT m.id, bm25(memories_fts), (julianday(m.event_time) - 2440587.5) * 86400.0 "
        "FROM memories_fts "
        "JOIN memories m ON m.seq = memories_fts.rowid "
        f"WHERE memories_fts MATCH ? AND {where} ORDER BY bm25(memories_fts) LIMIT ?",
        [match, *params, k],
    )
    return [(row[0], row[1], row[2]) for row in rows]


_df_cache: "weakref.WeakKeyDictionary[MemoryStore, dict[str, tuple[int, float]]]" = (
    weakref.WeakKeyDictionary()
)


def _doc_freq(store: MemoryStore, terms: list[str]) -> dict[str, int]:
    """How many memories contain each term. Counting a posting list is cheap (0.85 ms for
    11k rows here) but the budget needs only an order of magnitude, so counts are cached."""
    cache = _df_cache.setdefault(store, {})
    now = time.monotonic()
    for term in terms:
        if term not in cache or now - cache[term][1] > DF_CACHE_SECONDS:
            count = store.db.scalar(
                "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?", [_phrase(term)]
            )
            cache[term] = (count, now)
    return {term: cache[term][0] for term in terms}


_SUFFIX = re.compile(r"(ing|edly|ed|es|s|ly)$")


def snippet(text: str, terms: list[str], words: int = SNIPPET_WORDS) -> str:
    """A window of `words` words around the first query term, terms marked [like this].

    Terms match words that start with their crude stem, close to FTS5's porter matching and
    ~100× cheaper than its snippet() (1.9 ms for ten hits at 100k rows here).
    """
    tokens = text.split()
    marked = tokens
    stems = {_SUFFIX.sub("", t) if len(t) > 4 else t for t in terms}
    if stems:
        alternatives = "|".join(map(re.escape, stems))
        pattern = re.compile(r"^(\W*)((?:" + alternatives + r")\w*)(.*)$", re.IGNORECASE)
        marked = [pattern.sub(r"\1[\2]\3", token) for token in tokens]
    first = next((i for i, t in enumerate(marked) if t != tokens[i]), 0)
    start = max(0, min(first - words // 4, len(tokens) - words))
    window = " ".join(marked[start : start + words])
    return ("…" if start else "") + window + ("…" if start + words < len(tokens) else "")


def _recent(store: MemoryStore, filters: SearchFilters, limit: int) -> list[SearchHit]:
    where, params = filters.sql()
    rows = store.db.query(
        f"SELECT id FROM memories WHERE {where} ORDER BY event_time DESC LIMIT ?",
        [*params, limit],
    )
    memories = store.get_many([row["id"] for row in rows])
    return [
        SearchHit(
            memory=memories[row["id"]],
            score=1 / (rank + 1),
            snippet=snippet(memories[row["id"]].search_text(), []),
            recency_rank=rank,
            parts={"recency": 1 / (rank + 1)},
        )
        for rank, row in enumerate(rows, start=1)
        if row["id"] in memories
    ]
