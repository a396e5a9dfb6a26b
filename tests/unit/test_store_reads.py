"""Reads the window relies on: a memory as it was at an earlier revision."""

from core.memory import SemanticMemory
from core.store.memories import MemoryStore
from core.store.reads import as_of


def test_a_memory_as_it_was_at_each_revision(store: MemoryStore) -> None:
    cat = store.add(SemanticMemory(name="Miso", summary="A grey cat"))
    store.update(cat.id, {"summary": "A grey tabby"})
    store.update(cat.id, {"name": "Miso the cat", "details": "From the Elm Street shelter"})
    first, second, third = (as_of(store, cat.id, rev) for rev in (1, 2, 3))
    assert (first["name"], first["summary"], first["details"]) == ("Miso", "A grey cat", "")
    assert (second["name"], second["summary"]) == ("Miso", "A grey tabby")
    assert third == store.get(cat.id).payload()
