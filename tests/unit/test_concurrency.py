"""The GUI thread, the scheduler and the agents share one store: writes and reads at once."""

import threading
from collections.abc import Callable
from pathlib import Path

from core.memory import SemanticMemory
from core.store.memories import MemoryStore
from core.store.search import search


def test_threads_writing_and_reading_at_once(store: MemoryStore) -> None:
    errors: list[BaseException] = []
    per_thread = 40

    def writer(n: int) -> None:
        try:
            for i in range(per_thread):
                memory = store.add(SemanticMemory(name=f"w{n} item {i}", summary=f"topic{n} note"))
                if i % 5 == 0:
                    store.update(memory.id, {"details": "touched"})
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(60):
                search(store, "topic1 note")
                store.memories(limit=20)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.counts()["semantic"] == 4 * per_thread
    revisions = store.vectors.revisions()
    rows = store.db.query("SELECT id, rev FROM memories")
    assert {r["id"]: r["rev"] for r in rows} == revisions
    hits = search(store, "topic2", limit=100)
    assert sum(h.memory.headline.startswith("w2 ") for h in hits) == per_thread


def test_a_model_file_two_processes_derive_at_once_is_made_once(tmp_path: Path) -> None:
    """The app and `mnemo search` starting on a new folder both converted MiniLM into one
    temporary file; the second rename failed with FileNotFoundError."""
    from core.llm.bundled import derived_file

    target = tmp_path / "models" / "model.gguf"
    in_make, release = threading.Event(), threading.Event()
    makers: list[str] = []

    def make(name: str) -> Callable[[Path], None]:
        def write(tmp: Path) -> None:
            makers.append(name)
            in_make.set()
            release.wait()
            tmp.write_text(name)

        return write

    results: dict[str, Path] = {}
    first = threading.Thread(
        target=lambda: results.update(a=derived_file(target, {"v": 1}, make("a")))
    )
    first.start()
    in_make.wait()
    second = threading.Thread(
        target=lambda: results.update(b=derived_file(target, {"v": 1}, make("b")))
    )
    second.start()
    release.set()
    first.join()
    second.join()
    assert makers == ["a"]
    assert results == {"a": target, "b": target} and target.read_text() == "a"
    assert list(target.parent.glob("*.tmp")) == []
