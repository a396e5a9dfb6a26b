"""Reads the window relies on: a memory as it was at an earlier revision."""

import pytest

from core.errors import InvalidInput
from core.memory import SemanticMemory
from core.store.memories import MemoryStore
from core.store.reads import as_of, memory_apps, memory_folders, page_of_memories


def test_a_memory_as_it_was_at_each_revision(store: MemoryStore) -> None:
    cat = store.add(SemanticMemory(name="Miso", summary="A grey cat"))
    store.update(cat.id, {"summary": "A grey tabby"})
    store.update(cat.id, {"name": "Miso the cat", "details": "From the Elm Street shelter"})
    first, second, third = (as_of(store, cat.id, rev) for rev in (1, 2, 3))
    assert (first["name"], first["summary"], first["details"]) == ("Miso", "A grey cat", "")
    assert (second["name"], second["summary"]) == ("Miso", "A grey tabby")
    assert third == store.get(cat.id).payload()


def test_pages_sort_and_filter_by_folder_app_and_sensitivity(store: MemoryStore) -> None:
    store.add_many(
        [
            SemanticMemory(name="b", summary="x", tree_path=["work"], source_app="Slack"),
            SemanticMemory(name="A", summary="x", tree_path=["work", "mnemo"]),
            SemanticMemory(name="c", summary="x", tree_path=["work_old"]),  # not under "work"
            SemanticMemory(name="d", summary="x", tree_path=["50%"]),
            SemanticMemory(name="e", summary="x", tree_path=["Work", "x"]),  # not "work"
        ]
    )
    by_name = page_of_memories(store, types=["semantic"], order="memory", descending=False)
    assert [m.headline for m in by_name.items] == ["A", "b", "c", "d", "e"]
    work = page_of_memories(store, folder="work", order="memory", descending=False)
    assert [m.headline for m in work.items] == ["A", "b"] and work.total == 2
    assert [m.headline for m in page_of_memories(store, folder="50%").items] == ["d"]
    assert [m.headline for m in page_of_memories(store, source_apps=["Slack"]).items] == ["b"]
    assert page_of_memories(store, sensitivities=["high"]).total == 0
    assert memory_apps(store) == ["Slack"]
    folders = memory_folders(store)
    assert folders["work"] == 2 and folders["work/mnemo"] == 1 and folders["work_old"] == 1
    assert folders[""] == store.db.scalar("SELECT count(*) FROM memories")


def test_graph_history_records_hand_edits_and_goes_with_the_node(store: MemoryStore) -> None:
    marta = store.entity("person", "Marta")
    note = store.add(SemanticMemory(name="Birthday", summary="Marta's is in May"))
    store.link(note.id, marta.id, "mentions")  # the memory team's link: no history
    assert store.graph_history(note.id) == []
    store.link(note.id, marta.id, "related", actor="user")
    store.unlink(note.id, marta.id, "related", actor="user")
    store.rename_entity(marta.id, "Marta Silva")
    events = store.graph_history(marta.id)
    assert [e.describe() for e in events] == [
        "linked to 'Birthday' (related)",
        "unlinked from 'Birthday' (related)",
        "renamed (was 'Marta')",
    ]
    assert store.graph_history(note.id)[0].other_name == "Marta Silva"
    other = store.entity("place", "Lisbon")
    with pytest.raises(InvalidInput, match="merge the two"):
        store.rename_entity(other.id, "marta silva")
    store.link(store.add(SemanticMemory(name="Sister", summary="Marta")).id, marta.id)
    store.delete(note.id)
    assert [e.action for e in store.graph_history(marta.id)] == ["renamed"]
    assert store.db.scalar("SELECT count(*) FROM graph_history WHERE other = ?", [note.id]) == 0
