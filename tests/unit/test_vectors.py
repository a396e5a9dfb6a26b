"""The vector index: exact scan in memory, LanceDB on disk, kept in step across processes."""

import numpy as np

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
    assert [int(i, 16) for i, _ in found] == list(expected)
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
    assert len(odd) == 50 and all(int(i, 16) % 2 for i, _ in odd)
    timed = index.search(query, 100, VectorFilter(since_ts=10, until_ts=19))
    assert sorted(int(i, 16) for i, _ in timed) == list(range(10, 20))
    apps = index.search(query, 100, VectorFilter(source_apps=frozenset({"app1", "nope"})))
    assert len(apps) == 33
    index.delete([f"{7:032x}"])
    assert f"{7:032x}" not in dict(index.search(query, 100))


def test_updates_replace_and_many_deletes_compact(tmp_path) -> None:
    rng = np.random.default_rng(3)
    index = VectorIndex(tmp_path / "v", 8)
    vectors = unit(rng, 2000)
    index.upsert([row(i, v) for i, v in enumerate(vectors)], new=True)
    index.load()
    index.upsert([row(5, vectors[9], rev=2)])
    assert index.revisions()[f"{5:032x}"] == 2
    assert {i for i, _ in index.search(vectors[9], 2)} == {f"{5:032x}", f"{9:032x}"}
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
    assert f"{0:032x}" not in index.revisions()


def test_a_broken_index_folder_is_rebuilt_empty(tmp_path) -> None:
    folder = tmp_path / "v"
    index = VectorIndex(folder, 8)
    index.upsert([row(0, np.ones(8) / np.sqrt(8))], new=True)
    for manifest in (folder / "memories.lance" / "_versions").iterdir():
        manifest.write_bytes(b"garbage")
    rebuilt = VectorIndex(folder, 8)
    assert rebuilt.count() == 0
