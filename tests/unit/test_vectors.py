"""The vector index: exact scan in memory, LanceDB on disk, kept in step across processes."""

import fcntl
import os

import numpy as np
import pytest

from core.locks import TableLock
from core.store.vectors import VectorFilter, VectorIndex, VectorRow


def row(i: int, vector: np.ndarray, **kw) -> VectorRow:
    values = {
        "rev": 1,
        "type": "semantic",
        "event_ts": float(i),
        "source_app": "",
        "sensitivity": "low",
    }
    values.update(kw)
    return VectorRow(id=f"{i:032x}", vector=vector.astype(np.float32), **values)  # type: ignore[arg-type]


def unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_nearest_neighbours_match_brute_force(tmp_path) -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 3000)
    index = VectorIndex(tmp_path / "v", 8)
    index.upsert([row(i, v) for i, v in enumerate(vectors)], new=True)
    query = unit(rng, 1)[0]
    expected = np.argsort(-(vectors @ query))[:10]
    found = index.search(query, 10)
    assert [int(hit[0], 16) for hit in found] == list(expected)
    assert abs(found[0][1] - float(np.max(vectors @ query))) < 1e-5


def test_filters_and_deletes(tmp_path) -> None:
    rng = np.random.default_rng(2)
    index = VectorIndex(tmp_path / "v", 8)
    vectors = unit(rng, 100)
    index.upsert(
        [
            row(i, v, type="episodic" if i % 2 else "semantic", source_app=f"app{i % 3}")
            for i, v in enumerate(vectors)
        ],
        new=True,
    )
    query = vectors[7]
    assert index.search(query, 1)[0][0] == f"{7:032x}"
    odd = index.search(query, 100, VectorFilter(types=frozenset({"episodic"})))
    assert len(odd) == 50 and all(int(hit[0], 16) % 2 for hit in odd)
    timed = index.search(query, 100, VectorFilter(since_ts=10, until_ts=19))
    assert sorted(int(hit[0], 16) for hit in timed) == list(range(10, 20))
    apps = index.search(query, 100, VectorFilter(source_apps=frozenset({"app1", "nope"})))
    assert len(apps) == 33
    index.delete([f"{7:032x}"])
    assert f"{7:032x}" not in {hit[0] for hit in index.search(query, 100)}


def test_updates_replace_and_many_deletes_compact(tmp_path) -> None:
    rng = np.random.default_rng(3)
    index = VectorIndex(tmp_path / "v", 8)
    vectors = unit(rng, 2000)
    index.upsert([row(i, v) for i, v in enumerate(vectors)], new=True)
    index.load()
    index.upsert([row(5, vectors[9], rev=2)])
    assert index.revisions()[f"{5:032x}"] == 2
    assert {hit[0] for hit in index.search(vectors[9], 2)} == {f"{5:032x}", f"{9:032x}"}
    index.delete([f"{i:032x}" for i in range(1500)])
    assert len(index.search(vectors[1600], 2000)) == 500
    assert index.count() == 500


def test_vectors_persist_and_another_process_writes_are_seen(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("core.store.vectors.SYNC_SECONDS", 0)
    rng = np.random.default_rng(4)
    vectors = unit(rng, 10)
    first = VectorIndex(tmp_path / "v", 8)
    first.upsert([row(i, v) for i, v in enumerate(vectors[:5])], new=True)
    first.load()
    second = VectorIndex(tmp_path / "v", 8)  # as another process would
    second.upsert([row(i, v) for i, v in enumerate(vectors[5:], start=5)], new=True)
    assert first.search(vectors[8], 1)[0][0] == f"{8:032x}"


def test_purge_leaves_a_single_version(tmp_path) -> None:
    rng = np.random.default_rng(5)
    index = VectorIndex(tmp_path / "v", 8)
    for i, v in enumerate(unit(rng, 5)):
        index.upsert([row(i, v)], new=True)
    index.delete([f"{0:032x}"])
    index.close()  # a pending delete is purged on close
    assert len(index._table.list_versions()) == 1
    assert f"{0:032x}" not in VectorIndex(tmp_path / "v", 8).revisions()


def test_a_broken_index_folder_is_rebuilt_empty(tmp_path) -> None:
    folder = tmp_path / "v"
    index = VectorIndex(folder, 8)
    index.upsert([row(0, np.ones(8) / np.sqrt(8))], new=True)
    for manifest in (folder / "memories.lance" / "_versions").iterdir():
        manifest.write_bytes(b"garbage")
    rebuilt = VectorIndex(folder, 8)
    assert rebuilt.count() == 0


def clustered(rng: np.random.Generator, n: int, dim: int = 64, clusters: int = 100) -> np.ndarray:
    """Vectors that cluster by topic, as sentence embeddings do (random ones do not)."""
    centres = rng.standard_normal((clusters, dim))
    v = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def ann_index(tmp_path, n: int, dim: int = 64) -> tuple[VectorIndex, np.ndarray]:
    from core.settings import IndexSettings

    rng = np.random.default_rng(6)
    vectors = clustered(rng, n, dim)
    index = VectorIndex(tmp_path / "v", dim, IndexSettings(ann_min_rows=1000, probe_share=0.1))
    index.upsert(
        [row(i, v, type="episodic" if i % 4 else "semantic") for i, v in enumerate(vectors)],
        new=True,
    )
    index.load()
    index.wait_for_index()
    return index, vectors


def test_ivf_recall_on_clustered_vectors(tmp_path) -> None:
    index, vectors = ann_index(tmp_path, 20_000)
    assert index._matrix.ivf is not None
    rng = np.random.default_rng(7)
    recalls = []
    for i in rng.integers(0, len(vectors), 30):
        query = vectors[i] + 0.3 * rng.standard_normal(vectors.shape[1])
        query /= np.linalg.norm(query)
        exact = {f"{j:032x}" for j in np.argsort(-(vectors @ query))[:10]}
        found = {hit[0] for hit in index.search(query, 10)}
        recalls.append(len(found & exact) / 10)
    assert np.mean(recalls) >= 0.9


def test_rows_added_after_the_index_was_built_are_found(tmp_path) -> None:
    index, vectors = ann_index(tmp_path, 5000)
    built = index._matrix.ivf
    fresh = -vectors[0]  # far from everything indexed
    index.upsert([row(99_999, fresh)], new=True)
    assert index._matrix.ivf is built  # a small tail does not trigger a rebuild
    assert index.search(fresh, 1)[0][0] == f"{99_999:032x}"


def test_filters_hold_through_the_index(tmp_path) -> None:
    index, vectors = ann_index(tmp_path, 5000)
    hits = index.search(vectors[3], 50, VectorFilter(types=frozenset({"semantic"})))
    assert len(hits) == 50 and all(int(h[0], 16) % 4 == 0 for h in hits)


def test_compaction_drops_a_stale_index(tmp_path) -> None:
    index, vectors = ann_index(tmp_path, 4000)
    index.delete([f"{i:032x}" for i in range(3000)])  # rows move: the index no longer fits
    index.wait_for_index()
    assert index._matrix.ivf is None or index._matrix.ivf.rows == len(index._matrix.ids)
    assert index.search(vectors[3500], 1)[0][0] == f"{3500:032x}"


def _blocked(path, mode: int) -> bool:
    """Whether another process (a fresh open file) would wait for `mode` on the lock now."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_writes_and_compaction_exclude_each_other_across_processes(tmp_path) -> None:
    # `mnemo add` failed with LanceDB's "Not found: …/_versions/…" when the app compacted the
    # table under it: a write holds the table lock shared, compaction holds it exclusive.
    index = VectorIndex(tmp_path / "v", 8)
    lock_file = tmp_path / "vectors-memories.lock"
    seen: dict[str, bool] = {}
    table = index._table

    class Probe:
        def __getattr__(self, name: str):
            return getattr(table, name)

        def add(self, data):
            seen["write blocks compaction"] = _blocked(lock_file, fcntl.LOCK_EX)
            seen["write lets readers in"] = not _blocked(lock_file, fcntl.LOCK_SH)
            return table.add(data)

        def optimize(self, **kw):
            seen["compaction blocks writes"] = _blocked(lock_file, fcntl.LOCK_SH)
            return table.optimize(**kw)

    index._table = Probe()  # type: ignore[assignment]
    index.upsert([row(0, np.ones(8) / np.sqrt(8))], new=True)
    index.maintain(purge=True)
    assert seen == {
        "write blocks compaction": True,
        "write lets readers in": True,
        "compaction blocks writes": True,
    }
    assert not _blocked(lock_file, fcntl.LOCK_EX)  # and both let go


def test_table_lock_nests_and_refuses_an_upgrade(tmp_path) -> None:
    lock = TableLock(tmp_path / "t.lock")
    with lock.shared(), lock.shared() as held:
        assert held and _blocked(tmp_path / "t.lock", fcntl.LOCK_EX)
        with pytest.raises(RuntimeError), lock.exclusive():
            pass
    assert not _blocked(tmp_path / "t.lock", fcntl.LOCK_EX)
    with lock.exclusive(), lock.shared(blocking=False) as held:
        assert held and _blocked(tmp_path / "t.lock", fcntl.LOCK_SH)
    other = TableLock(tmp_path / "t.lock")
    with lock.exclusive(), other.shared(blocking=False) as held:
        assert not held  # another holder is told at once, never made to wait
    with lock.shared(), other.exclusive(timeout=0) as held:
        assert not held  # compaction gives up rather than wait on a stuck reader


def test_compaction_is_put_off_while_another_process_holds_the_table(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("core.store.vectors.EXCLUSIVE_WAIT_S", 0)
    index = VectorIndex(tmp_path / "v", 8)
    index.upsert([row(0, np.ones(8) / np.sqrt(8))], new=True)
    index.delete([f"{0:032x}"])
    reader = TableLock(tmp_path / "vectors-memories.lock")  # another process, reading
    with reader.shared():
        index.maintain(purge=True)
    assert index._pending_purge and len(index._table.list_versions()) > 1  # nothing compacted
    index.maintain(purge=True)
    assert not index._pending_purge and len(index._table.list_versions()) == 1
