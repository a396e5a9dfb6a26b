"""Unlinking never creates anything: an entity the graph does not have has no link to remove
(`mnemo link --remove` says so and exits as for anything else not found)."""

from app.commands import EXIT_NOT_FOUND
from core.embed import HashingEmbedder
from core.store.memories import MemoryStore


def entity_names(folder) -> list[str]:  # type: ignore[no-untyped-def]
    with MemoryStore(folder, HashingEmbedder()) as store:
        return sorted(e.name for e in store.entities())


def test_unlinking_an_unknown_entity_creates_nothing(mnemo) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = mnemo("add", "semantic", "name=Mnemo", "summary=Memory app")
    memory_id = out.strip()
    code, out, err = mnemo("link", memory_id, "person:Bob", "--remove")
    assert code == EXIT_NOT_FOUND and out == ""
    assert "no person 'Bob' in the graph: 0 links removed" in err
    code, _, err = mnemo("link", "person:Ann", "project:Apollo", "--remove")
    assert code == EXIT_NOT_FOUND and "no person 'Ann'" in err
    assert entity_names(mnemo.folder) == []

    # A known entity, named as a link names it (first name alone), is unlinked as before.
    assert mnemo("link", memory_id, "person:Marta Silva")[0] == 0
    code, out, _ = mnemo("link", memory_id, "person:marta", "--remove")
    assert code == 0 and "removed 1 link(s)" in out
    # Marta went with her last link; nothing was made in her place.
    assert entity_names(mnemo.folder) == []


def test_finding_an_entity_changes_nothing(store: MemoryStore) -> None:
    marta = store.entity("person", "Marta")
    assert store.find_entity("person", "Marta Silva") == marta  # found, not renamed
    assert [e.name for e in store.entities()] == ["Marta"]
    assert store.find_entity("place", "Lisbon") is None
    assert store.find_entity("person", "  MARTA ") == marta
    assert [e.name for e in store.entities()] == ["Marta"]
    # `entity` still names the node in full, as before.
    assert store.entity("person", "Marta Silva").id == marta.id
    assert [e.name for e in store.entities()] == ["Marta Silva"]
