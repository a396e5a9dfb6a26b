"""Closing while other threads read, write and search never crashes the process, whoever calls
it and whenever: close waits for the uses under way and refuses new ones with Closed ("the
memory store is closed"), the only error a late caller sees (core.uses).

Seen before: a fresh clone's `make test` segfaulted when the app quit while a browser read was
under way, because Database.close closed a connection another thread was stepping on.

Each round starts the workers, waits until every one of them has done some work (an event, not
a time), then closes from the main thread while they go on; the workers run until refused.
"""

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.embed import HashingEmbedder
from core.errors import Closed
from core.memory import SemanticMemory
from core.settings import Settings
from core.store.db import Database
from core.store.matrix import VectorRow
from core.store.memories import MemoryStore
from core.store.source_search import search_sources
from core.store.vectors import VectorIndex
from core.uses import Uses

DB_ROUNDS = 300
STORE_ROUNDS = 40


class Workers:
    """Threads that repeat their work until it is refused; every other error is kept."""

    def __init__(self, jobs: list[Callable[[int], object]]) -> None:
        self.errors: list[BaseException] = []
        self.refused = 0
        self._started = [threading.Event() for _ in jobs]
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._loop, args=(job, started), daemon=True)
            for job, started in zip(jobs, self._started, strict=True)
        ]
        for thread in self.threads:
            thread.start()

    def _loop(self, job: Callable[[int], object], started: threading.Event) -> None:
        n = 0
        while True:
            try:
                job(n)
            except Closed as exc:
                assert "closed" in str(exc)
                with self._lock:
                    self.refused += 1
                return
            except BaseException as exc:
                with self._lock:
                    self.errors.append(exc)
                return
            finally:
                started.set()
            n += 1

    def wait_until_busy(self) -> None:
        for started in self._started:
            assert started.wait(120)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(120)
            assert not thread.is_alive(), "a worker never saw the close"


def test_uses_wait_for_the_one_under_way_and_refuse_the_next() -> None:
    uses = Uses("thing")
    inside, release = threading.Event(), threading.Event()

    def use() -> None:
        with uses():
            inside.set()
            release.wait()

    worker = threading.Thread(target=use)
    worker.start()
    inside.wait()
    closing = threading.Thread(target=uses.close)
    closing.start()
    closing.join(0.2)  # close is still waiting for the use (a bound, not a timing assertion)
    assert closing.is_alive()
    with pytest.raises(Closed, match="the thing is closed"), uses():
        pass
    release.set()
    closing.join()
    worker.join()


def test_a_use_under_way_may_go_deeper_while_closing() -> None:
    uses = Uses("thing")
    with uses():
        assert uses.close(timeout=0)  # this thread's own use is not waited for
        with uses():  # the work under way finishes whole
            pass
    with pytest.raises(Closed), uses():
        pass


def test_database_close_under_readers_and_writers(tmp_path: Path) -> None:
    for round_ in range(DB_ROUNDS):
        db = Database(tmp_path / f"r{round_ % 3}.db")

        def write(n: int, db: Database = db) -> None:
            with db.write() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [f"k{n}", "v"]
                )

        def read(_n: int, db: Database = db) -> None:
            db.query("SELECT key, value FROM meta ORDER BY key LIMIT 50")
            db.scalar("SELECT count(*) FROM meta")
            list(
                db.query_in(
                    "SELECT * FROM meta WHERE key IN ({marks})", [f"k{i}" for i in range(600)]
                )
            )
            db.tuples("SELECT * FROM meta LIMIT 5")

        workers = Workers([write, write, read, read, read])
        workers.wait_until_busy()
        db.close()
        workers.join()
        assert not workers.errors, workers.errors[:3]
        assert workers.refused == 5
        assert db.connections == 0


def test_vector_index_close_under_searches_and_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for round_ in range(STORE_ROUNDS):
        index = VectorIndex(tmp_path / f"vectors{round_ % 2}", 8)

        def row(n: int) -> VectorRow:
            vector = rng.standard_normal(8).astype(np.float32)
            return VectorRow(
                f"{n:032x}", 1, "semantic", 0.0, "", "low", vector / np.linalg.norm(vector)
            )

        def write(n: int, index: VectorIndex = index) -> None:
            index.upsert([row(n)])
            if n % 3 == 2:
                index.delete([f"{n - 1:032x}"])

        def search(_n: int, index: VectorIndex = index) -> None:
            index.search(rng.standard_normal(8).astype(np.float32), 5)
            index.count()

        workers = Workers([write, search, search])
        workers.wait_until_busy()
        index.close()
        workers.join()
        assert not workers.errors, workers.errors[:3]
        assert workers.refused == 3


def test_store_close_under_reads_writes_and_searches(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    embedder = HashingEmbedder()
    for _round in range(STORE_ROUNDS):
        store = MemoryStore(folder, embedder, Settings())
        kept = store.add(SemanticMemory(name="Kept", summary="a memory nobody deletes")).id

        def write(n: int, store: MemoryStore = store) -> None:
            added = store.add(SemanticMemory(name=f"Note {n}", summary=f"budget review number {n}"))
            store.update(added.id, {"summary": f"budget review {n}, edited"})
            if n % 2:
                store.delete(added.id)

        def read(n: int, store: MemoryStore = store, kept: str = kept) -> None:
            store.get(kept)
            store.get(kept[:8])
            store.memories(limit=20)
            store.history(kept)

        def search(n: int, store: MemoryStore = store) -> None:
            store_search(store, "budget review")
            search_sources(store, "budget")

        workers = Workers([write, read, read, search, search])
        workers.wait_until_busy()
        store.close()
        workers.join()
        assert not workers.errors, workers.errors[:3]
        assert workers.refused == 5
        store.close()  # a second close is harmless


def store_search(store: MemoryStore, query: str) -> object:
    from core.store.search import search

    return search(store, query, limit=5)


@pytest.mark.slow
def test_the_real_embedder_closes_under_embeddings(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from core.llm import minilm
    from core.llm.embedder import LlamaEmbedder, bundled_name

    path = minilm.gguf_path(tmp_path_factory.mktemp("minilm"))
    for _round in range(5):
        embedder = LlamaEmbedder(path, name=bundled_name(), dim=384)
        embedder.embed(["load the model first"])

        def embed(n: int, embedder: LlamaEmbedder = embedder) -> None:
            vectors = embedder.embed(
                [f"the budget review number {n}", "a second, longer text " * 20]
            )
            assert vectors.shape == (2, 384)

        workers = Workers([embed, embed, embed])
        workers.wait_until_busy()
        embedder.close()
        workers.join()
        assert not workers.errors, workers.errors[:3]
        assert workers.refused == 3
        with pytest.raises(Closed, match="embedding model is closed"):
            embedder.embed(["never loads the model again"])


def test_a_closed_host_refuses_with_closed(tmp_path: Path) -> None:
    """A view's read that arrives after quit gets the clear error the GUI drops quietly."""
    from agents.host import Host

    host = Host(tmp_path / "data", embedder=HashingEmbedder(), watch_s=None)
    host.start(background=False)
    note = host.store.add(SemanticMemory(name="Note", summary="kept"))
    host.close()
    host.close()  # a second close is harmless
    for read in (lambda: host.memory(note.id), lambda: host.search("kept"), host.stats):
        with pytest.raises(Closed, match="closed"):
            read()
