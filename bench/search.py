"""Hybrid search at scale, against the way MIRIX's desktop app searches.

    python -m bench.search --memories 100000 [--queries 300] [--baseline-queries 10]

Builds a synthetic store (short realistic texts with times, types and apps; random unit 384-d
vectors, because the embedding model's own cost is measured in bench.llm), runs hybrid queries
with filters, then answers a sample of the same queries the MIRIX way: BM25 rebuilt in Python
over all rows on every query, plus a full-scan cosine. Prints a table, then one JSON line.
"""

import argparse
import hashlib
import json
import math
import statistics
import string
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.report import report
from core.memory import (
    EpisodicMemory,
    KnowledgeVaultItem,
    ProceduralMemory,
    ResourceMemory,
    SemanticMemory,
)
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, search

DIM = 384
PEOPLE = "Alice Bob Carol Dan Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy".split()
PROJECTS = "billing search onboarding mobile analytics payments website infra reporting".split()
APPS = ["firefox", "vscode", "slack", "terminal", "zoom", "thunderbird", "obsidian", "figma"]
TOPICS = (
    "budget roadmap deadline outage migration release design interview invoice contract "
    "dashboard latency database backup refactor hiring travel conference workshop demo "
    "sprint retrospective security audit feedback launch pricing customer renewal"
).split()
VERBS = "reviewed discussed fixed planned shipped debugged drafted approved postponed".split()


class RandomEmbedder:
    """A random unit vector per text, the same for the same text: the store's cost without a
    model's. Seeded by a hash of the text, so query vectors are reproducible."""

    name = f"random-{DIM}"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # SHAKE-256 stretches the text into 384 pseudo-random int16s: a random direction in
        # microseconds (a seeded numpy Generator per text took ~2.5 ms, all of it overhead).
        raw = b"".join(hashlib.shake_256(t.encode()).digest(DIM * 2) for t in texts)
        out = np.frombuffer(raw, dtype=np.int16).reshape(len(texts), DIM).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def rare_words(rng: np.random.Generator, n: int) -> list[str]:
    """Pseudo-words standing in for names, codes and jargon: a long tail for BM25."""
    syllables = ["ka", "lo", "mi", "ra", "te", "zu", "po", "ne", "si", "da", "vo", "ri", "ba"]
    return ["".join(rng.choice(syllables, size=rng.integers(2, 4))) for _ in range(n)]


def synthetic_memories(n: int, seed: int = 7) -> list:
    rng = np.random.default_rng(seed)
    tail = rare_words(rng, 5000)
    start = datetime(2023, 1, 1, tzinfo=UTC)

    def pick(seq: Sequence[str]) -> str:
        return seq[int(rng.integers(len(seq)))]

    def jargon() -> str:
        # Zipf-like: a few words are common, most are rare.
        return tail[min(int(rng.zipf(1.3)) - 1, len(tail) - 1)]

    memories = []
    for i in range(n):
        when = start + timedelta(minutes=int(rng.integers(0, 60 * 24 * 700)))
        app = pick(APPS)
        person, project, topic, verb = pick(PEOPLE), pick(PROJECTS), pick(TOPICS), pick(VERBS)
        kind = i % 10
        if kind < 5:
            memory = EpisodicMemory(
                event_type="activity",
                summary=f"{verb.title()} the {project} {topic} with {person} in {app}",
                details=f"Notes mention {jargon()} and {jargon()}; follow up on {topic}",
                occurred_at=when,
                source_app=app,
            )
        elif kind < 7:
            memory = SemanticMemory(
                name=f"{project.title()} {topic}",
                summary=f"{person} owns the {project} {topic}; it depends on {jargon()}",
                details=f"Related: {jargon()}, {jargon()}",
                source_app=app,
            )
        elif kind < 8:
            memory = ProceduralMemory(
                summary=f"How to handle a {project} {topic}",
                steps=[f"open {app}", f"check {jargon()}", f"ask {person}", f"update {topic}"],
                source_app=app,
            )
        elif kind < 9:
            memory = ResourceMemory(
                title=f"{project}-{topic}-{i}.md",
                summary=f"Document about {project} {topic}",
                resource_type="markdown",
                content=f"# {topic}\n{person} wrote about {jargon()} {jargon()} {jargon()}",
                source_app=app,
            )
        else:
            memory = KnowledgeVaultItem(
                entry_type="credential",
                caption=f"{project} {pick(['api key', 'password', 'token'])} for {jargon()}",
                sensitivity=pick(["low", "medium", "high"]),
                source=app,
            )
        memories.append(memory)
    return memories, tail


def queries(n: int, tail: list[str], seed: int = 11) -> list[tuple[str, SearchFilters]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = [
            str(rng.choice(TOPICS)),
            str(rng.choice(PROJECTS)),
            str(rng.choice(PEOPLE)),
            tail[min(int(rng.zipf(1.3)) - 1, len(tail) - 1)],
        ]
        text = " ".join(words[: int(rng.integers(2, 5))])
        since = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 600)))
        filters = [
            SearchFilters(),
            SearchFilters.make(types=["episodic"]),
            SearchFilters.make(types=["semantic", "procedural"]),
            SearchFilters.make(since=since, until=since + timedelta(days=60)),
            SearchFilters.make(source_apps=[str(rng.choice(APPS))], max_sensitivity="medium"),
        ][i % 5]
        out.append((f"what did I do about {text}", filters))
    return out


_PUNCTUATION = str.maketrans(string.punctuation, " " * len(string.punctuation))


def _mirix_tokens(text: str) -> list[str]:
    """MIRIX's _preprocess_text_for_bm25: punctuation to spaces, lower case, tokens > 1 char."""
    return [t for t in text.translate(_PUNCTUATION).lower().split() if len(t) > 1]


def mirix_baseline(store: MemoryStore, query: str, filters: SearchFilters, k: int = 10) -> list:
    """MIRIX's desktop search on SQLite (episodic_memory_manager, search_method="bm25"): load
    every candidate row as a full object, build rank_bm25's BM25Okapi over them for this one
    query, score; and for "embedding", a cosine against every row. Generous to MIRIX in one
    respect: its embeddings come from memory here, not from each row."""
    where, params = filters.sql()
    rows = store.db.query(f"SELECT * FROM memories WHERE {where}", params)
    events = [dict(row, data=json.loads(row["data"])) for row in rows]  # the ORM objects
    documents, valid = [], []
    for event in events:
        tokens = _mirix_tokens(event["search_text"])
        if tokens:
            documents.append(tokens)
            valid.append(event)
    # BM25Okapi.__init__ (k1=1.5, b=0.75, epsilon=0.25), as in rank_bm25.
    doc_freqs, nd, lengths = [], Counter(), []
    for document in documents:
        frequencies = Counter(document)
        doc_freqs.append(frequencies)
        nd.update(frequencies.keys())
        lengths.append(len(document))
    corpus_size, avgdl = len(documents), sum(lengths) / max(len(documents), 1)
    idf = {word: math.log(corpus_size - n + 0.5) - math.log(n + 0.5) for word, n in nd.items()}
    floor = 0.25 * sum(idf.values()) / max(len(idf), 1)
    idf = {word: value if value >= 0 else floor for word, value in idf.items()}
    # BM25Okapi.get_scores
    doc_len = np.array(lengths, dtype=np.float64)
    scores = np.zeros(corpus_size)
    for term in _mirix_tokens(query):
        freq = np.array([(doc.get(term) or 0) for doc in doc_freqs])
        scores += (idf.get(term) or 0) * (
            freq * 2.5 / (freq + 1.5 * (1 - 0.75 + 0.75 * doc_len / max(avgdl, 1e-9)))
        )
    by_bm25 = [valid[i]["id"] for i in np.argsort(-scores)[:k]]
    matrix = store.vectors._matrix
    q = store.embedder.embed([query])[0]
    sims = [(float(matrix.vectors[matrix.row_of[e["id"]]] @ q), e["id"]) for e in events]
    by_cosine = [memory_id for _, memory_id in sorted(sims, reverse=True)[:k]]
    return by_bm25 + by_cosine


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline-queries", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1000, help="memories per insert batch")
    parser.add_argument("--data-dir", help="keep the store here (default: a temporary folder)")
    args = parser.parse_args(argv)

    folder = Path(args.data_dir or tempfile.mkdtemp(prefix="mnemo-bench-"))
    settings = Settings()
    settings.security.use_keyring = False
    memories, tail = synthetic_memories(args.memories)

    store = MemoryStore(folder, RandomEmbedder(), settings)
    started = time.perf_counter()
    for i in range(0, len(memories), args.batch):
        store.add_many(memories[i : i + args.batch], cause="bench")
    insert_s = time.perf_counter() - started
    store.close()

    # A fresh open, as at app start: repair check, then the matrix loads from LanceDB and the
    # IVF index is built in the background (searches scan exactly until it is ready).
    started = time.perf_counter()
    store = MemoryStore(folder, RandomEmbedder(), settings)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    load_s = store.vectors.load()
    store.vectors.wait_for_index()
    index_build_s = time.perf_counter() - started

    plan = queries(args.queries, tail)
    for text, filters in plan[:10]:  # warm caches, as a running app would have them
        search(store, text, filters=filters)
    hybrid, found = [], 0
    for text, filters in plan:
        started = time.perf_counter()
        hits = search(store, text, filters=filters)
        hybrid.append((time.perf_counter() - started) * 1000)
        found += bool(hits)

    # How much the IVF index costs in recall: its top 50 against an exact scan's.
    matrix = store.vectors._matrix
    overlap = []
    for text, filters in plan[:50]:
        query = store.embedder.embed([text])[0]
        approx = matrix.search(query, 50, filters.vector(), settings.index.probe_share)
        exact = matrix.search(query, 50, filters.vector(), 1.0)
        overlap.append(len({h[0] for h in approx} & {h[0] for h in exact}) / max(len(exact), 1))

    baseline = []
    for text, filters in plan[: args.baseline_queries]:
        started = time.perf_counter()
        mirix_baseline(store, text, filters)
        baseline.append((time.perf_counter() - started) * 1000)
    store.vectors.maintain(purge=True)  # drop LanceDB's superseded versions before sizing
    store.close()

    figures = {
        "memories": args.memories,
        "queries": len(hybrid),
        "p50_ms": round(percentile(hybrid, 50), 2),
        "p95_ms": round(percentile(hybrid, 95), 2),
        "p99_ms": round(percentile(hybrid, 99), 2),
        "mean_ms": round(statistics.fmean(hybrid), 2),
        "queries_with_hits": found,
        "index_build_s": round(index_build_s, 3),
        "vector_load_s": round(load_s, 3),
        "vector_recall_at_50": round(statistics.fmean(overlap), 3),
        "open_s": round(open_s, 3),
        "insert_per_s": round(args.memories / insert_s),
        "baseline_queries": len(baseline),
        "baseline_p50_ms": round(percentile(baseline, 50), 1),
        "speedup_p50": round(percentile(baseline, 50) / percentile(hybrid, 50), 1),
        "disk_mb": round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1),
    }
    rows = [
        ("memories", f"{figures['memories']:,}", ""),
        ("insert", f"{figures['insert_per_s']:,} /s", "target ≥ 2,000 /s"),
        ("index build (load + IVF)", f"{figures['index_build_s']} s", ""),
        ("  of which loading vectors", f"{figures['vector_load_s']} s", ""),
        ("vector recall@50 vs exact", f"{figures['vector_recall_at_50']}", "random vectors"),
        ("store open (repair check)", f"{figures['open_s']} s", ""),
        ("hybrid p50", f"{figures['p50_ms']} ms", "target ≤ 15 ms"),
        ("hybrid p95", f"{figures['p95_ms']} ms", "target ≤ 40 ms"),
        ("hybrid p99", f"{figures['p99_ms']} ms", ""),
        ("MIRIX-style baseline p50", f"{figures['baseline_p50_ms']} ms", ""),
        ("speed-up at p50", f"{figures['speedup_p50']}×", "target ≥ 50×"),
        ("disk after compaction", f"{figures['disk_mb']} MB", ""),
    ]
    report(rows, figures)
    return figures


if __name__ == "__main__":
    main()
