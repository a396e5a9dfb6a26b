"""CRUD for every memory type, versions, provenance, the graph, and refusals that write nothing."""

import sqlite3
from datetime import UTC, datetime

import pytest

from core.errors import Ambiguous, InvalidInput, NotFound
from core.memory import CoreBlock, EntityKind, MemoryType, SemanticMemory, Source, SourceKind
from core.store.memories import MemoryStore
from tests.conftest import sample_memories

TYPES = list(sample_memories())
EDITS = {
    "episodic": {"details": "Travel cut by 15% in the end"},
    "semantic": {"summary": "Runs multi-container apps"},
    "procedural": {"steps": ["tag", "build", "upload", "announce"]},
    "resource": {"content": "# Q3\n- ship search"},
    "knowledge_vault": {"caption": "GitHub token (work)"},
}


def table_counts(store: MemoryStore) -> dict[str, int]:
    tables = ["memories", "versions", "sources", "memory_sources", "entities", "links"]
    return {t: store.db.scalar(f"SELECT count(*) FROM {t}") for t in tables}


@pytest.mark.parametrize("kind", TYPES)
def test_create_read_update_delete(store: MemoryStore, kind: str) -> None:
    memory = sample_memories()[kind]
    stored = store.add(memory)  # type: ignore[arg-type]
    assert len(stored.id) == 32 and stored.rev == 1
    fetched = store.get(stored.id)
    assert fetched.payload() == stored.payload() == memory.payload()  # type: ignore[attr-defined]

    updated = store.update(stored.id, EDITS[kind], cause="test edit")
    for key, value in EDITS[kind].items():
        assert getattr(updated, key) == value
    assert updated.rev == 2
    history = store.history(stored.id)
    assert [v.rev for v in history] == [1, 2]
    assert history[1].cause == "test edit" and history[1].changed == sorted(EDITS[kind])
    for key in EDITS[kind]:
        assert history[1].old[key] == memory.payload()[key]  # type: ignore[attr-defined,index]

    store.delete(stored.id)
    with pytest.raises(NotFound):
        store.get(stored.id)
    assert store.db.scalar("SELECT count(*) FROM versions WHERE memory_id = ?", [stored.id]) == 0
    assert stored.id not in store.vectors.revisions()


def test_core_blocks_exist_from_the_start_and_cannot_be_duplicated_or_deleted(
    store: MemoryStore,
) -> None:
    human = store.get("core:human")
    assert isinstance(human, CoreBlock) and human.value == ""
    with pytest.raises(InvalidInput, match="exists already"):
        store.add(CoreBlock(label="human", value="duplicate"))
    with pytest.raises(InvalidInput, match="cannot be deleted"):
        store.delete("core:human")
    updated = store.update("core:human", {"value": "Name: Sam. Works on Mnemo."})
    assert store.get("core:human").value == updated.value  # type: ignore[union-attr]


def test_core_block_update_over_its_limit_is_refused(store: MemoryStore) -> None:
    before = table_counts(store)
    with pytest.raises(InvalidInput, match="limit"):
        store.update("core:persona", {"value": "x" * 5001})
    assert store.get("core:persona").value == ""  # type: ignore[union-attr]
    assert table_counts(store) == before


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"colour": "red"}, "no field 'colour'"),
        ({"id": "0" * 32}, "kept by Mnemo"),
        ({"rev": 7}, "kept by Mnemo"),
        ({"type": "episodic"}, "kept by Mnemo"),
        ({"summary": ""}, "summary"),
    ],
)
def test_invalid_update_writes_nothing(store: MemoryStore, changes: dict, complaint: str) -> None:
    stored = store.add(sample_memories()["semantic"])  # type: ignore[arg-type]
    before = table_counts(store)
    with pytest.raises(InvalidInput, match=complaint):
        store.update(stored.id, changes)
    assert table_counts(store) == before
    assert store.get(stored.id).rev == 1


def test_update_that_changes_nothing_records_no_version(store: MemoryStore) -> None:
    stored = store.add(sample_memories()["semantic"])  # type: ignore[arg-type]
    store.update(stored.id, {"name": stored.name})  # type: ignore[attr-defined]
    assert len(store.history(stored.id)) == 1


def test_add_many_is_all_or_nothing(store: MemoryStore) -> None:
    before = table_counts(store)
    batch = [SemanticMemory(name="a", summary="b"), CoreBlock(label="persona", value="again")]
    with pytest.raises(InvalidInput):
        store.add_many(batch)
    assert table_counts(store) == before


def test_ids_resolve_by_prefix(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = store.add(SemanticMemory(name="a", summary="b"))
    assert store.resolve(stored.id[:8]) == stored.id
    ids = iter(["abcd" + "0" * 28, "abcd" + "1" * 28])
    monkeypatch.setattr("core.store.writes.new_id", lambda: next(ids))
    store.add_many([SemanticMemory(name="c", summary="d"), SemanticMemory(name="e", summary="f")])
    with pytest.raises(Ambiguous):
        store.resolve("abcd")
    assert store.resolve("abcd1") == "abcd" + "1" * 28
    with pytest.raises(NotFound):
        store.resolve("ffffffff" if not stored.id.startswith("ffffffff") else "eeeeeeee")
    with pytest.raises(NotFound, match="not a memory id"):
        store.resolve("zz'; DROP TABLE memories; --")


def test_sources_are_kept_verbatim_with_provenance(store: MemoryStore) -> None:
    turn = store.add_source(
        Source(
            kind=SourceKind.CHAT,
            occurred_at=datetime(2024, 5, 1, 9, tzinfo=UTC),
            text="I moved to Lisbon last month",
            actor="user",
            ref="D1:3",
        )
    )
    memory = store.add(SemanticMemory(name="Home", summary="Lives in Lisbon"), sources=[turn.id])
    assert [s.text for s in store.sources_of(memory.id)] == ["I moved to Lisbon last month"]
    assert store.get_source(turn.id).ref == "D1:3"
    with pytest.raises(NotFound):
        store.add(SemanticMemory(name="x", summary="y"), sources=["0" * 32])


def test_graph_links_between_memories_and_entities(store: MemoryStore) -> None:
    a = store.add(SemanticMemory(name="Mnemo", summary="A memory app"))
    b = store.add(SemanticMemory(name="LanceDB", summary="A vector database"))
    alice = store.entity(EntityKind.PERSON, "Alice")
    assert store.entity("person", "alice").id == alice.id  # names match case-insensitively
    store.link(a.id, b.id, "uses")
    store.link(a.id, alice.id, "owner")
    assert {(link.dst, link.relation) for link in store.links(a.id)} == {
        (b.id, "uses"),
        (alice.id, "owner"),
    }
    with pytest.raises(InvalidInput):
        store.link(a.id, a.id)
    with pytest.raises(NotFound):
        store.link(a.id, "f" * 32)
    store.delete(b.id)
    assert [link.dst for link in store.links(a.id)] == [alice.id]
    assert store.unlink(a.id, alice.id) == 1


def test_vault_secret_is_encrypted_at_rest(store: MemoryStore, data_dir) -> None:
    vault = sample_memories()["knowledge_vault"]
    stored = store.add(vault)  # type: ignore[arg-type]
    assert stored.secret_stored and stored.secret_value is None  # type: ignore[attr-defined]
    revealed = store.get(stored.id, reveal=True)
    assert revealed.secret_value.get_secret_value() == "ghp_CANARY0123456789abcdef"  # type: ignore[union-attr]
    store.db.checkpoint()
    raw = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert b"ghp_CANARY" not in raw
    store.update(stored.id, {"secret_value": "ghp_ROTATED"})
    old = store.history(stored.id)[-1].old
    assert old is not None and "ghp_CANARY" not in str(old) and old["secret"]


def test_store_refuses_a_database_from_a_newer_version(data_dir, settings) -> None:
    MemoryStore(data_dir, _embedder(), settings).close()
    with sqlite3.connect(data_dir / "mnemo.db") as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(Exception, match="newer Mnemo"):
        MemoryStore(data_dir, _embedder(), settings)


def _embedder():
    from core.embed import HashingEmbedder

    return HashingEmbedder()


def test_list_filters_by_type_time_and_app(store: MemoryStore) -> None:
    for memory in sample_memories().values():
        store.add(memory)  # type: ignore[arg-type]
    assert [m.type for m in store.memories(types=[MemoryType.EPISODIC])] == ["episodic"]
    assert [m.type for m in store.memories(source_app="zoom")] == ["episodic"]
    old = store.memories(until=datetime(2025, 1, 1, tzinfo=UTC))
    assert [m.type for m in old] == ["episodic"]
    assert len(store.memories(limit=2)) == 2
