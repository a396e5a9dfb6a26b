"""A writer killed between the SQLite commit and the vector write loses nothing."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.embed import HashingEmbedder
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import search

ROOT = Path(__file__).resolve().parents[2]

KILLED_BEFORE_VECTORS = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from core.embed import HashingEmbedder
    from core.memory import SemanticMemory
    from core.store.memories import MemoryStore
    from core.store.vectors import VectorIndex

    store = MemoryStore(Path(sys.argv[1]), HashingEmbedder())
    def die(self, rows, new=False):
        os.kill(os.getpid(), signal.SIGKILL)  # after the SQLite commit, before LanceDB
    VectorIndex.upsert = die
    store.add(SemanticMemory(name="Lighthouse", summary="the keeper paints it every spring"))
    """
)

WRITE_FOREVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from core.embed import HashingEmbedder
    from core.memory import SemanticMemory
    from core.store.memories import MemoryStore

    store = MemoryStore(Path(sys.argv[1]), HashingEmbedder())
    print("ready", flush=True)
    i = 0
    while True:
        batch = [SemanticMemory(name=f"note {i}-{j}", summary=f"crash test {i}") for j in range(20)]
        added = store.add_many(batch)
        store.update(added[0].id, {"details": "edited"})
        if i % 3 == 0:
            store.delete(added[1].id)
        i += 1
    """
)


def run_child(script: str, data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_consistent(store: MemoryStore) -> None:
    assert store.db.scalar("PRAGMA integrity_check") == "ok"
    store.db.db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
    rows = store.db.query("SELECT id, rev FROM memories")
    assert store.vectors.revisions() == {row["id"]: row["rev"] for row in rows}


@pytest.mark.slow
def test_kill_between_sqlite_and_lancedb_is_repaired(data_dir: Path) -> None:
    MemoryStore(data_dir, HashingEmbedder(), Settings()).close()
    child = run_child(KILLED_BEFORE_VECTORS, data_dir)
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()  # type: ignore[union-attr]

    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        assert store.last_repair.embedded == 1
        assert_consistent(store)
        hits = search(store, "lighthouse keeper")
        assert hits[0].memory.headline == "Lighthouse"
        assert hits[0].vector_rank == 1  # found by its vector too, not only by keywords


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.9, 1.7])
def test_kill_at_a_random_moment_leaves_a_consistent_store(data_dir: Path, delay: float) -> None:
    MemoryStore(data_dir, HashingEmbedder(), Settings()).close()
    child = run_child(WRITE_FOREVER, data_dir)
    assert child.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)

    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        assert_consistent(store)
        assert store.counts()["semantic"] > 0
        for memory in store.memories(limit=50):
            assert len(store.history(memory.id)) == memory.rev  # every change has its version
