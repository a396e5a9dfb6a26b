"""The memory team's orchestration, on a scripted model: routing, inserts with provenance,
updates by number, relative dates, malformed answers, the core block, files, the vault, and
the shared prompt prefix."""

import json
from datetime import UTC, datetime

from agents.team import Batch, MemoryTeam
from core.memory import EpisodicMemory
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

MONDAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def turns(store: MemoryStore, *texts: str) -> Batch:
    sources = store.add_sources(
        [
            Source(kind=SourceKind.CHAT, occurred_at=MONDAY, text=text, actor="Caroline")
            for text in texts
        ]
    )
    return Batch(sources)


def answer(**kw) -> str:
    return json.dumps(kw)


def test_routed_managers_insert_memories_linked_to_the_lines_they_cite(store: MemoryStore) -> None:
    batch = turns(store, "Hi Mel!", "I went to an LGBTQ support group yesterday.")
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["support group"], managers=["episodic", "semantic"])],
            "EpisodicAnswer": [
                answer(
                    items=[
                        {
                            "op": "insert",
                            "summary": "Caroline went to an LGBTQ support group",
                            "actor": "Caroline",
                            "event_type": "meeting",
                            "when": "yesterday",
                            "sources": [2],
                        }
                    ]
                )
            ],
            "SemanticAnswer": [
                answer(
                    items=[
                        {"op": "insert", "name": "Caroline", "summary": "A friend", "sources": [99]}
                    ]
                )
            ],
        }
    )
    report = MemoryTeam(store, chat).process(batch)
    assert report.topics == ["support group"]
    assert report.managers == ["episodic", "semantic"]
    assert report.inserted == {"episodic": 1, "semantic": 1} and not report.invalid
    assert report.calls == 3

    episode = store.get(report.memory_ids[0])
    assert episode.occurred_at == datetime(2023, 5, 7, 12, 0, tzinfo=UTC)  # "yesterday"
    assert [s.text for s in store.sources_of(episode.id)] == [batch.sources[1].text]
    assert store.history(episode.id)[0].actor == "agent:episodic"
    # A citation of a line that does not exist falls back to the whole batch.
    assert len(store.sources_of(report.memory_ids[1])) == 2


def test_every_call_of_a_batch_starts_with_the_same_system_message(store: MemoryStore) -> None:
    chat = ScriptedChat({"Routing": [answer(topics=["x"], managers=["episodic", "procedural"])]})
    MemoryTeam(store, chat).process(turns(store, "Some words."))
    systems = {messages[0]["content"] for _, messages in chat.received}
    assert len(systems) == 1 and "[1] 2023-05-08 13:56 Caroline: Some words." in systems.pop()
    assert [name for name, _ in chat.received] == [
        "Routing",
        "EpisodicAnswer",
        "ProceduralAnswer",
    ]


def test_an_update_names_a_shown_memory_by_number(store: MemoryStore) -> None:
    old = store.add(EpisodicMemory(summary="Caroline joined a support group", occurred_at=MONDAY))
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["support group"], managers=["episodic"])],
            "EpisodicAnswer": [
                # Only #1 was shown: an update of #7 is refused (the grammar rules it out
                # for a real model), and the retry's answer is applied.
                answer(items=[{"op": "update", "target": 7, "summary": "not shown"}]),
                answer(
                    items=[
                        {
                            "op": "update",
                            "target": 1,
                            "summary": "Caroline joined an LGBTQ support group",
                            "sources": [1],
                        }
                    ]
                ),
            ],
        }
    )
    report = MemoryTeam(store, chat).process(turns(store, "The LGBTQ support group was great."))
    assert report.updated == 1 and not report.invalid and report.calls == 3
    assert store.get(old.id).summary == "Caroline joined an LGBTQ support group"
    history = store.history(old.id)
    assert history[-1].cause == "written by the episodic manager"
    assert len(store.sources_of(old.id)) == 1
    listing = chat.received[1][1][1]["content"]
    assert "#1 Caroline joined a support group (2023-05-08)" in listing


def test_malformed_answers_are_dropped_and_the_rest_goes_on(store: MemoryStore) -> None:
    chat = ScriptedChat(
        {
            "Routing": ["not json", "{}", '{"topics": 3}'],  # every attempt invalid
            "EpisodicAnswer": ['{"items": [{"op": "insert"'] * 3,  # cut off, thrice
            "SemanticAnswer": [
                answer(items=[{"op": "insert", "name": "Lisbon", "summary": "A city"}])
            ],
        }
    )
    report = MemoryTeam(store, chat).process(turns(store, "Lisbon is lovely."))
    assert report.managers == ["episodic", "semantic"]  # the default route
    assert [line.split(":")[0] for line in report.invalid] == ["meta", "episodic"]
    assert report.inserted == {"semantic": 1}
    assert report.calls == 3 + 3 + 1  # each invalid answer was retried twice


def test_an_insert_missing_a_required_field_is_refused_whole(store: MemoryStore) -> None:
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["x"], managers=["procedural"])],
            # Steps are required in an insert: each attempt is refused by validation.
            "ProceduralAnswer": [answer(items=[{"op": "insert", "summary": "No steps"}])] * 3,
        }
    )
    before = store.counts()
    report = MemoryTeam(store, chat).process(turns(store, "Do it."))
    assert report.inserted == {} and report.invalid[0].startswith("procedural:")
    assert "steps" in report.invalid[0] and report.calls == 1 + 3
    assert store.counts() == before


def test_core_lines_are_appended_within_the_limit(store: MemoryStore) -> None:
    store.update("core:human", {"char_limit": 100, "value": "Name: Caroline\n" + "x" * 70})
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["job"], managers=["core"])],
            "CoreAnswer": [
                answer(items=[{"block": "human", "op": "append", "text": "Works as a counselor"}])
            ],
        }
    )
    MemoryTeam(store, chat).process(turns(store, "I work as a counselor now."))
    value = store.get("core:human").value
    assert value.endswith("Works as a counselor") and len(value) <= 90
    assert "Name: Caroline" not in value  # the oldest line made room


def test_a_file_becomes_a_resource_with_its_whole_text(store: MemoryStore) -> None:
    text = "# Release checklist\n" + "\n".join(f"{i}. step {i}" for i in range(400))
    source = store.add_source(
        Source(kind=SourceKind.FILE, occurred_at=MONDAY, text=text, title="release.md")
    )
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["release"], managers=[])],
            "ResourceAnswer": [
                answer(items=[{"op": "insert", "title": "Release checklist", "summary": "How"}])
            ],
        }
    )
    report = MemoryTeam(store, chat).process(Batch([source], kind="file"))
    assert "resource" in report.managers
    resource = store.get(report.memory_ids[-1])
    assert resource.content == text and resource.resource_type == "file"
    shown = chat.received[0][1][0]["content"]
    assert "0. step 0" in shown and "399. step 399" not in shown  # the model saw the start only


def test_a_file_the_model_skips_is_still_filed_as_a_resource(store: MemoryStore) -> None:
    text = "# Packing list\nPassport\nCharger\n"
    source = store.add_source(
        Source(kind=SourceKind.FILE, occurred_at=MONDAY, text=text, title="pack.md")
    )
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["travel"], managers=["resource"])],
            "ResourceAnswer": [answer(items=[{"op": "skip"}])],
        }
    )
    report = MemoryTeam(store, chat).process(Batch([source], kind="file"))
    (resource,) = store.memories(types=["resource"])
    assert report.memory_ids == [resource.id] and report.inserted == {"resource": 1}
    assert (resource.title, resource.summary, resource.content) == ("pack.md", "Packing list", text)
    assert [s.id for s in store.sources_of(resource.id)] == [source.id]


def test_vault_values_are_encrypted_and_empty_ones_dropped(store: MemoryStore) -> None:
    chat = ScriptedChat(
        {
            "Routing": [answer(topics=["wifi"], managers=["knowledge_vault"])],
            "KnowledgeVaultAnswer": [
                answer(
                    items=[
                        {
                            "op": "insert",
                            "caption": "Home wifi password",
                            "secret_value": "zebra-quokka-42",
                            "sensitivity": "high",
                        },
                        {"op": "insert", "caption": "Blank", "secret_value": " "},
                    ]
                )
            ],
        }
    )
    report = MemoryTeam(store, chat).process(turns(store, "The wifi password is zebra-quokka-42"))
    assert report.inserted == {"knowledge_vault": 1} and len(report.invalid) == 1
    item = store.get(report.memory_ids[0], reveal=True)
    assert item.secret_value.get_secret_value() == "zebra-quokka-42"
    raw = store.db.query("SELECT data FROM memories WHERE id = ?", [item.id])[0]["data"]
    assert "zebra-quokka-42" not in raw
