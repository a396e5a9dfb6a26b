"""The keyword index is kept in step by SQLite's own triggers; migrations are an ordered list."""

import sqlite3

import pytest

from core.embed import HashingEmbedder
from core.memory import SemanticMemory
from core.store import db as db_module
from core.store.memories import MemoryStore
from core.store.migrations import MIGRATIONS


def fts_ids(store: MemoryStore, word: str) -> set[str]:
    rows = store.db.query(
        "SELECT m.id FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid "
        "WHERE memories_fts MATCH ?",
        [word],
    )
    return {row["id"] for row in rows}


def assert_fts_consistent(store: MemoryStore) -> None:
    # FTS5's own check compares the index with the content table, row by row.
    store.db.db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
    store.db.db.execute("INSERT INTO sources_fts (sources_fts) VALUES ('integrity-check')")


def test_fts_follows_insert_update_delete(store: MemoryStore) -> None:
    a = store.add(SemanticMemory(name="Kayak", summary="Paddling on the Tagus"))
    b = store.add(SemanticMemory(name="Bike", summary="Cycling along the Tagus"))
    assert fts_ids(store, "tagus") == {a.id, b.id}
    store.update(a.id, {"summary": "Paddling on the Douro"})
    assert fts_ids(store, "tagus") == {b.id}
    assert fts_ids(store, "douro") == {a.id}
    assert fts_ids(store, "paddle") == {a.id}  # porter stemming
    store.delete(b.id)
    assert fts_ids(store, "tagus") == set()
    assert_fts_consistent(store)


def test_fts_survives_raw_sql_edits(store: MemoryStore) -> None:
    """The triggers live in the database, so even a change made outside Mnemo stays indexed."""
    a = store.add(SemanticMemory(name="Kayak", summary="Paddling"))
    with store.db.write() as db:
        db.execute("UPDATE memories SET search_text = 'sailing' WHERE id = ?", [a.id])
    assert fts_ids(store, "sailing") == {a.id}
    assert fts_ids(store, "paddling") == set()
    assert_fts_consistent(store)


def test_fresh_database_is_at_the_latest_schema(store: MemoryStore) -> None:
    assert store.db.scalar("PRAGMA user_version") == len(MIGRATIONS)
    assert store.db.scalar("PRAGMA journal_mode") == "wal"


def test_new_migrations_run_once_in_order(data_dir, settings, monkeypatch) -> None:
    MemoryStore(data_dir, HashingEmbedder(), settings).close()
    ran = []

    def add_column(db) -> None:
        ran.append("add_column")
        db.execute("ALTER TABLE memories ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(db_module, "MIGRATIONS", [*MIGRATIONS, add_column])
    MemoryStore(data_dir, HashingEmbedder(), settings).close()
    MemoryStore(data_dir, HashingEmbedder(), settings).close()
    assert ran == ["add_column"]
    with sqlite3.connect(data_dir / "mnemo.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
        columns = [row[1] for row in conn.execute("PRAGMA table_info(memories)")]
    assert "pinned" in columns


def test_a_failing_migration_leaves_the_schema_untouched(data_dir, settings, monkeypatch) -> None:
    MemoryStore(data_dir, HashingEmbedder(), settings).close()

    def half_done(db) -> None:
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(db_module, "MIGRATIONS", [*MIGRATIONS, half_done])
    with pytest.raises(RuntimeError, match="disk on fire"):
        MemoryStore(data_dir, HashingEmbedder(), settings)
    with sqlite3.connect(data_dir / "mnemo.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "half" not in tables


def test_sources_of_a_first_schema_store_become_searchable(data_dir, settings, monkeypatch) -> None:
    """A data folder from before sources had a search text: the migration fills it in, rebuilds
    their keyword index, and start-up embeds them."""
    from core.store.source_search import search_sources

    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:1])
    with MemoryStore(data_dir, HashingEmbedder(), settings) as old, old.db.write() as db:
        db.execute(
            "INSERT INTO sources (id, kind, occurred_at, text, actor, meta, created_at) "
            "VALUES ('a1', 'chat', '2023-05-08T13:56:00+00:00', 'I adopted a cat', "
            "'Caroline', '{\"context\": \"Melanie: any news?\"}', '2023-05-08T13:56:00+00:00')"
        )
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        assert store.last_repair.embedded == 1  # the source's vector
        assert store.db.scalar("SELECT search_text FROM sources") == (
            "Melanie: any news?\nCaroline: I adopted a cat"
        )
        assert [h.source.id for h in search_sources(store, "Caroline cat")] == ["a1"]
        assert [h.source.id for h in search_sources(store, "news")] == ["a1"]  # its context
        assert_fts_consistent(store)
