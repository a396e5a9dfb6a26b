"""A full disk, a corrupt settings file, a broken vector index: clear errors, nothing lost."""

from pathlib import Path

import pytest

from core.embed import HashingEmbedder
from core.errors import InvalidInput, StorageFull
from core.memory import ResourceMemory, SemanticMemory
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import search


def test_a_full_disk_rolls_back_the_whole_write(store: MemoryStore) -> None:
    kept = store.add(SemanticMemory(name="Before", summary="written while there was room"))
    pages = store.db.scalar("PRAGMA page_count")
    # SQLite's per-connection size cap stands in for a full disk: same error, same code path.
    store.db.db.execute(f"PRAGMA max_page_count = {pages + 2}")
    big = [ResourceMemory(title=f"doc {i}", content="x " * 5000) for i in range(20)]
    with pytest.raises(StorageFull, match="nothing was written"):
        store.add_many(big)
    store.db.db.execute("PRAGMA max_page_count = 1073741823")
    assert store.counts()["resource"] == 0
    assert store.db.scalar("PRAGMA integrity_check") == "ok"
    store.db.db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
    assert search(store, "room")[0].memory.id == kept.id
    store.add(SemanticMemory(name="After", summary="works again once there is space"))


def test_a_malformed_settings_file_is_named_not_reset(data_dir: Path) -> None:
    (data_dir / "settings.toml").write_text("[search]\nrrf_k = 'sixty'\n")
    with pytest.raises(InvalidInput, match=r"settings\.toml"):
        Settings.load(data_dir)
    (data_dir / "settings.toml").write_text("[search\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        Settings.load(data_dir)


def test_settings_round_trip(data_dir: Path) -> None:
    settings = Settings()
    settings.search.recency_weight = 0.5
    settings.save(data_dir)
    assert Settings.load(data_dir).search.recency_weight == 0.5


def test_a_deleted_vector_index_is_rebuilt_from_sqlite(data_dir: Path, settings) -> None:
    import shutil

    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        memory = store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    shutil.rmtree(data_dir / "vectors")
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        assert store.last_repair.embedded == 3  # two core blocks and the memory
        assert search(store, "boats harbour")[0].vector_rank == 1
        assert store.get(memory.id).headline == "Harbour"


def test_an_unreadable_vector_table_is_rebuilt_alone(data_dir: Path, settings) -> None:
    """It used to throw the whole vector folder away, the healthy table with it; a second
    process that found a table half made by the first one did the same."""
    import shutil

    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    shutil.rmtree(data_dir / "vectors" / "sources.lance" / "_versions")
    with MemoryStore(data_dir, HashingEmbedder(), settings, repair=False) as store:
        assert store.source_vectors.revisions() == {}
        assert len(store.vectors.revisions()) == 3  # the memories' table was kept as it was


def test_changing_the_embedding_model_re_embeds_everything(data_dir: Path, settings) -> None:
    with MemoryStore(data_dir, HashingEmbedder(384), settings) as store:
        store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    with MemoryStore(data_dir, HashingEmbedder(128), settings) as store:
        assert store.last_repair.model_changed and store.last_repair.embedded == 3
        assert search(store, "harbour boats")[0].vector_rank == 1
