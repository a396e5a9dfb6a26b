"""Entities for the graph: found by spaCy in the lines and memories, one node per name across
sessions, gone when everything that named them is gone."""

from datetime import UTC, datetime, timedelta

from agents.entities import clean, find, record
from core.memory.models import EntityKind, EpisodicMemory, Source, SourceKind
from core.store.memories import MemoryStore

MAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def chat(text: str, actor: str = "user", day: int = 0) -> Source:
    return Source(
        kind=SourceKind.CHAT, occurred_at=MAY + timedelta(days=day), text=text, actor=actor
    )


def test_people_places_and_organisations_are_found() -> None:
    lisbon, sister, nothing = find(
        [
            "I'm staying at the Hotel Avenida Palace in Lisbon for my talk at Web Summit.",
            "My sister Marta is allergic to peanuts; her birthday is on 14 March.",
            "Hey! How have you been? Thanks so much, that means a lot.",
        ]
    )
    names = {f.name: f.kind for f in lisbon}
    assert names["Lisbon"] == EntityKind.PLACE and "Hotel Avenida Palace" in names
    # spaCy's small pipeline labels this Marta a place; "my sister" makes her a person.
    assert [(f.name, f.kind) for f in sister] == [("Marta", EntityKind.PERSON)]
    assert nothing == []


def test_what_cannot_be_a_name_is_dropped() -> None:
    assert clean("the Hotel Avenida Palace's") == "Hotel Avenida Palace"
    assert [clean(t) for t in ("I", "yesterday", "lisbon", "§3.1 | 42 ¶", "x")] == [None] * 5


def test_one_node_per_person_across_sessions(store: MemoryStore) -> None:
    first = store.add_sources([chat("My sister Marta is allergic to peanuts, so no satay.")])
    record(store, first, [])
    later = store.add_sources(
        [
            chat("Marta's birthday party is at the climbing gym in Porto.", day=30),
            chat("marta said the climbing gym in Porto opens at nine on Sundays.", day=31),
            chat("I met Marta Silva's old teacher at the market yesterday.", day=60),
        ]
    )
    record(store, later, [])
    martas = [e for e in store.entities() if e.name.casefold().startswith("marta")]
    assert len(martas) == 1 and martas[0].kind == EntityKind.PERSON
    assert set(store.mentions(martas[0].id)) >= {first[0].id, later[0].id}
    names = [e.name.casefold() for e in store.entities()]
    assert len(names) == len(set(names))  # no name is two nodes
    hotel = store.entity("organization", "Hotel Avenida Palace")
    assert store.entity("place", "Avenida Palace").id == hotel.id


def test_speakers_are_people_and_memories_link_to_the_names_they_hold(
    store: MemoryStore,
) -> None:
    (line,) = store.add_sources([chat("I signed the lease for the flat in Lisbon today!", "Ana")])
    memory = store.add(
        EpisodicMemory(
            event_type="conversation",
            summary="Ana signed the lease for the flat in Lisbon.",
            actor="Ana",
            occurred_at=MAY,
        ),
        sources=[line.id],
    )
    assert record(store, [line], [memory]) >= 3
    by_name = {e.name: e for e in store.entities()}
    assert by_name["Ana"].kind == EntityKind.PERSON
    assert store.mentions(by_name["Ana"].id) == [line.id]
    edges = {(link.src, link.dst, link.relation) for link in store.links(memory.id)}
    assert (memory.id, by_name["Lisbon"].id, "mentions") in edges


def test_deleting_what_named_an_entity_deletes_the_entity(store: MemoryStore) -> None:
    (line,) = store.add_sources([chat("My brother Tomas moved to Toronto last spring.")])
    memory = store.add(
        EpisodicMemory(
            event_type="move", summary="Tomas moved to Toronto with Priya.", occurred_at=MAY
        ),
        sources=[line.id],
    )
    record(store, [line], [memory])
    assert {"Tomas", "Toronto", "Priya"} <= {e.name for e in store.entities()}
    store.delete(memory.id)
    # Priya was named by the memory only; the line still names Tomas and Toronto.
    assert {e.name for e in store.entities()} == {"Tomas", "Toronto"}
    store.delete_source(line.id)
    assert store.entities() == []


def test_two_nodes_for_one_person_merge_and_the_merge_undoes(store: MemoryStore) -> None:
    lines = store.add_sources(
        [chat("Marta called about the party.", day=1), chat("Marta S. sent the menu.", day=2)]
    )
    marta, other = store.entity("person", "Marta"), store.entity("person", "Ms Silva")
    store.mention(marta.id, [lines[0].id])
    store.mention(other.id, [lines[1].id])
    memory = store.add(EpisodicMemory(summary="The menu came from Ms Silva", occurred_at=MAY))
    store.link(memory.id, other.id, "mentions")

    merge = store.merge_entities(marta.id, other.id)
    assert {e.name for e in store.entities()} == {"Marta"}
    assert set(store.mentions(marta.id)) == {lines[0].id, lines[1].id}
    assert (memory.id, marta.id, "mentions") in {(x.src, x.dst, x.relation) for x in store.links()}

    back = store.split_entity(merge)
    assert {e.name for e in store.entities()} == {"Marta", "Ms Silva"}
    assert store.mentions(marta.id) == [lines[0].id] and store.mentions(back.id) == [lines[1].id]
    edges = {(x.src, x.dst) for x in store.links()}
    assert (memory.id, back.id) in edges and (memory.id, marta.id) not in edges


def test_a_huge_document_is_read_for_names_by_its_opening(store: MemoryStore) -> None:
    from core.memory.models import ResourceMemory

    book = store.add(
        ResourceMemory(
            title="Notes",
            summary="Meeting notes",
            content="Priya Nair met the team in Lisbon. " + "blah " * 400_000,  # 2M characters
        )
    )
    assert record(store, [], [book]) >= 1
    assert {"Priya Nair", "Lisbon"} & {e.name for e in store.entities()}


def test_names_are_read_from_redacted_text(store: MemoryStore) -> None:
    lines = store.add_sources([chat("Remember the wifi password is Marigold at Lisbon's flat.")])
    record(store, lines, [])
    names = {e.name for e in store.entities()}
    assert "Marigold" not in names and "Lisbon" in names


def test_a_full_name_takes_over_the_first_name_so_namesakes_stay_apart(store: MemoryStore) -> None:
    marta = store.entity("person", "Marta")
    assert store.entity("person", "Marta Silva").id == marta.id
    assert store.entity("person", "Marta Costa").id != marta.id
    assert {e.name for e in store.entities()} == {"Marta Silva", "Marta Costa"}


def test_a_merge_undoes_after_a_source_it_moved_was_deleted(store: MemoryStore) -> None:
    lines = store.add_sources([chat("Ana called."), chat("Ana B. wrote.")])
    ana, other = store.entity("person", "Ana"), store.entity("person", "Ms B")
    store.mention(ana.id, [lines[0].id])
    store.mention(other.id, [lines[1].id])
    merge = store.merge_entities(ana.id, other.id)
    store.delete_source(lines[1].id)
    back = store.split_entity(merge)
    assert back.name == "Ms B" and store.mentions(back.id) == []
