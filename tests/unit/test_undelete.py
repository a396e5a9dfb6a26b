"""Undoing a delete brings the memory back as itself: the same id, fields, revision and history,
sources, links, graph history and the people or places that went with it (core.store.deletes)."""

from datetime import UTC, datetime

import pytest

from core.errors import InvalidInput, NotFound
from core.memory import EpisodicMemory, KnowledgeVaultItem, SemanticMemory
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.store.search import search

MAY = datetime(2023, 5, 8, 9, 30, tzinfo=UTC)


def test_a_deleted_memory_comes_back_as_itself(store: MemoryStore) -> None:
    line = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=MAY, text="Miso is grey"))
    cat = store.add(SemanticMemory(name="Miso", summary="A grey cat"), sources=[line.id])
    store.update(cat.id, {"summary": "A grey tabby from the shelter"}, cause="edited")
    friend = store.add(SemanticMemory(name="Bean", summary="Miso's friend from next door"))
    store.link(cat.id, friend.id, "friend of", actor="user")
    shelter = store.entity("place", "Elm Street shelter")  # named only by Miso: it goes too
    store.link(cat.id, shelter.id, "mentions")
    before = (store.get(cat.id), store.history(cat.id), store.graph_history(cat.id))

    deletion = store.delete(cat.id)
    with pytest.raises(NotFound):
        store.get(cat.id)
    assert shelter.id not in {e.id for e in store.entities()}
    assert store.graph_history(friend.id) == []

    (back,) = store.undelete([deletion])
    assert back == before[0]  # same id, fields, times and revision
    assert store.history(cat.id) == before[1]
    assert store.graph_history(cat.id) == before[2]
    assert [s.id for s in store.sources_of(cat.id)] == [line.id]
    assert {(x.src, x.dst, x.relation) for x in store.links(cat.id)} == {
        (cat.id, friend.id, "friend of"),
        (cat.id, shelter.id, "mentions"),
    }
    assert [e.name for e in store.entities([shelter.id])] == ["Elm Street shelter"]
    assert [event.action for event in store.graph_history(friend.id)] == ["linked"]
    assert [h.memory.id for h in search(store, "grey tabby shelter", limit=3)][:1] == [cat.id]


def test_two_linked_memories_deleted_one_after_the_other_come_back_linked(
    store: MemoryStore,
) -> None:
    a, b = store.add_many(
        [
            EpisodicMemory(summary="Trip day 1 in Porto", occurred_at=MAY),
            EpisodicMemory(summary="Trip day 2 in Porto", occurred_at=MAY),
        ]
    )
    store.link(a.id, b.id, "followed by")
    deletions = [store.delete(a.id), store.delete(b.id)]  # the link went with the first
    store.undelete(deletions)
    assert [(x.src, x.dst) for x in store.links(a.id)] == [(a.id, b.id)]


def test_what_went_meanwhile_stays_gone_and_a_renamed_node_is_found(store: MemoryStore) -> None:
    line = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=MAY, text="Lisbon in June"))
    trip = store.add(SemanticMemory(name="Lisbon trip", summary="June"), sources=[line.id])
    place = store.entity("place", "Lisbon")
    store.link(trip.id, place.id, "mentions")
    deletion = store.delete(trip.id)
    store.delete_source(line.id)
    again = store.entity("place", "lisbon")  # made anew meanwhile, under another id
    assert again.id != place.id

    (back,) = store.undelete([deletion])
    assert store.sources_of(back.id) == []
    assert [(x.dst, x.relation) for x in store.links(back.id)] == [(again.id, "mentions")]


def test_a_vault_item_comes_back_with_its_secret_still_sealed(store: MemoryStore) -> None:
    item = store.add(
        KnowledgeVaultItem(
            entry_type="password",
            source="bank",
            sensitivity="high",
            secret_value="hunter2-CANARY",
            caption="Bank login",
        )
    )
    (back,) = store.undelete([store.delete(item.id)])
    assert back.id == item.id
    revealed = store.get(item.id, reveal=True)
    assert revealed.secret_value.get_secret_value() == "hunter2-CANARY"  # type: ignore[attr-defined]
    assert b"hunter2-CANARY" not in (store.folder / "mnemo.db").read_bytes()


def test_undoing_twice_is_refused_and_changes_nothing(store: MemoryStore) -> None:
    note = store.add(SemanticMemory(name="Note", summary="kept once"))
    deletion = store.delete(note.id)
    store.undelete([deletion])
    with pytest.raises(InvalidInput, match="here already"):
        store.undelete([deletion])
    assert len(store.history(note.id)) == 1
