"""The chat agent's orchestration, on a scripted model: retrieval over memories and sources,
the time filter, the token budget, citations, the vault, "remember …" and "forget …"."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from agents.chat import ChatAgent, intent_of
from core.memory import EpisodicMemory, KnowledgeVaultItem, SemanticMemory
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.store.source_search import search_sources
from tests.standins import ScriptedChat

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def said(store: MemoryStore, text: str, days_ago: int, actor: str = "user") -> Source:
    return store.add_source(
        Source(
            kind=SourceKind.CHAT,
            occurred_at=NOW - timedelta(days=days_ago),
            text=text,
            actor=actor,
        )
    )


def numbered(messages: list[dict[str, str]], text: str) -> int:
    """The number the prompt gave the note that contains `text`."""
    for line in messages[-1]["content"].splitlines():
        if text in line and line.startswith("["):
            return int(line[1 : line.index("]")])
    raise AssertionError(f"{text!r} is not among the notes:\n{messages[-1]['content']}")


@pytest.mark.parametrize(
    ("message", "intent", "rest"),
    [
        ("Remember that my locker code is 4411", "remember", "my locker code is 4411"),
        ("please remember: Ana likes tea", "remember", "Ana likes tea"),
        ("Forget about the dentist", "forget", "the dentist"),
        ("forget my old address", "forget", "my old address"),
        ("Do you remember my cat?", "ask", "Do you remember my cat?"),
        ("what did I forget to buy?", "ask", "what did I forget to buy?"),
    ],
)
def test_intent_is_read_from_the_first_words(message: str, intent: str, rest: str) -> None:
    assert intent_of(message) == (intent, rest)


def test_answer_cites_what_the_model_cited_from_memories_and_sources(store: MemoryStore) -> None:
    turn = said(store, "I adopted a grey cat named Miso from the Elm Street shelter", 2)
    memory = store.add(
        SemanticMemory(name="Miso", summary="The user's grey cat, adopted from a shelter"),
        sources=[turn.id],
    )
    said(store, "The weather was rainy all week", 1)
    chat = ScriptedChat({"SearchPlan": [json.dumps({"queries": ["cat name", "pet"]})]})
    agent = ChatAgent(store, chat, plan_queries=True)
    stream = agent.stream("What is my cat called?", now=NOW)
    assert {i.id for i in stream.answer.items} >= {turn.id, memory.id}  # known before answering
    stream.close()

    plan_messages = chat.received[0][1]
    assert chat.received[0][0] == "SearchPlan" and "cat" in plan_messages[-1]["content"]
    # The model's answer cites the source's number: only that one is a citation.
    original = chat._generate

    def answering(model, messages, max_tokens, temperature, schema):  # type: ignore[no-untyped-def]
        if schema is not None:  # the search plan
            yield json.dumps({"queries": ["cat name", "pet"]})
            return
        n = numbered(messages, "Miso from the Elm Street shelter")
        yield f"Your cat is Miso [{n}]."

    chat._generate = answering  # type: ignore[method-assign]
    answer = agent.ask("What is my cat called?", now=NOW)
    chat._generate = original  # type: ignore[method-assign]
    assert answer.cited_by_model
    assert [(c.kind, c.id) for c in answer.citations] == [("source", turn.id)]
    assert answer.queries == ["What is my cat called?", "cat name", "pet"]
    assert "Miso" in answer.text
    memory_item = next(i for i in answer.items if i.id == memory.id)
    assert memory_item.source_ids == [turn.id]  # a memory's citation leads back to its input


def test_uncited_answer_returns_everything_it_was_shown(store: MemoryStore) -> None:
    said(store, "Dinner with Ana at the Thai place on Friday", 3)
    chat = ScriptedChat({"text": ["You had dinner with Ana."]})
    answer = ChatAgent(store, chat, plan_queries=False).ask("Who did I have dinner with?", now=NOW)
    assert answer.text == "You had dinner with Ana."
    assert not answer.cited_by_model
    assert answer.citations == answer.items and answer.items


def test_a_plan_the_model_garbles_leaves_the_question_itself(store: MemoryStore) -> None:
    said(store, "Ana's birthday is on the 3rd of March", 10)
    chat = ScriptedChat({"SearchPlan": ["not json"] * 5, "text": ["On the 3rd of March."]})
    answer = ChatAgent(store, chat, plan_queries=True).ask("When is Ana's birthday?", now=NOW)
    assert answer.queries == ["When is Ana's birthday?"]
    assert any("birthday" in i.label for i in answer.items)


def test_time_words_filter_the_search_and_fall_back_when_nothing_is_in_range(
    store: MemoryStore,
) -> None:
    said(store, "I went hiking on the ridge trail", 1)
    said(store, "I went hiking in the canyon", 30)
    agent = ChatAgent(store, ScriptedChat({}), plan_queries=False)
    items, _, span = agent.retrieve("Where did I go hiking yesterday?", now=NOW)
    assert span == (
        datetime(2026, 11, 22, tzinfo=UTC),
        datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert [i.label for i in items] == ["user: I went hiking on the ridge trail"]
    items, _, _ = agent.retrieve("Where did I go hiking last year?", now=NOW)
    assert len(items) == 2  # nothing in 2025: searched again without the filter


def test_the_token_budget_bounds_the_notes(store: MemoryStore) -> None:
    for n in range(12):
        said(store, f"Note {n} about the garden: " + "tomatoes and basil " * 20, n)
    chat = ScriptedChat({"text": ["ok"]})
    answer = ChatAgent(store, chat, plan_queries=False, budget_tokens=300).ask(
        "What grows in the garden?", now=NOW
    )
    shown = sum(len(i.text) for i in answer.items)
    assert 1 <= len(answer.items) < 10
    assert shown // 4 <= 300 + 50
    assert [i.number for i in answer.items] == list(range(1, len(answer.items) + 1))


def test_high_sensitivity_vault_values_never_reach_the_model(store: MemoryStore) -> None:
    store.add(
        KnowledgeVaultItem(
            caption="Bank password",
            entry_type="password",
            secret_value="HIGH-CANARY-771",
            sensitivity="high",
        )
    )
    store.add(
        KnowledgeVaultItem(
            caption="Home wifi password",
            entry_type="password",
            secret_value="wifi-medium-552",
            sensitivity="medium",
        )
    )
    chat = ScriptedChat({"SearchPlan": [json.dumps({"queries": ["password"]})]})
    answer = ChatAgent(store, chat, plan_queries=True).ask(
        "What is my bank password? And the wifi password?"
    )
    sent = json.dumps([messages for _, messages in chat.received])
    assert "HIGH-CANARY-771" not in sent and "Bank password" not in sent
    assert "wifi-medium-552" in sent  # medium values are what the user asks for
    assert all("Bank" not in i.label for i in answer.items)


def test_remember_goes_to_the_memory_team(store: MemoryStore) -> None:
    chat = ScriptedChat(
        {
            "Routing": [json.dumps({"topics": ["locker"], "managers": ["semantic"]})],
            "SemanticAnswer": [
                json.dumps(
                    {
                        "items": [
                            {
                                "op": "insert",
                                "name": "Gym locker",
                                "summary": "The user's gym locker code is 4411",
                                "sources": [1],
                            }
                        ]
                    }
                )
            ],
        }
    )
    answer = ChatAgent(store, chat).ask("Remember that my gym locker code is 4411", now=NOW)
    assert answer.intent == "remember"
    assert "Gym locker" in answer.text
    (written,) = answer.citations
    assert store.sources_of(written.id)[0].text == "my gym locker code is 4411"


def test_forget_lists_matches_and_deletes_only_when_confirmed(store: MemoryStore) -> None:
    turn = said(store, "My dentist appointment is on Tuesday with Dr. Patel", 2)
    memory = store.add(
        EpisodicMemory(summary="Dentist appointment with Dr. Patel", occurred_at=NOW),
        sources=[turn.id],
    )
    other = said(store, "I bought new running shoes", 1)
    agent = ChatAgent(store, ScriptedChat({}))
    answer = agent.ask("forget the dentist appointment")
    assert answer.intent == "forget"
    assert {i.id for i in answer.items} == {memory.id, turn.id}
    assert store.get(memory.id)  # listing deletes nothing

    assert agent.forget(answer.items) == 2
    assert search_sources(store, "dentist Patel") == []
    assert agent.find_to_forget("dentist").items == []
    assert store.get_source(other.id).text == "I bought new running shoes"
    assert agent.forget(answer.items) == 0  # already gone: nothing to do, no error


def test_a_memory_in_a_lines_own_words_and_the_line_take_one_slot(store: MemoryStore) -> None:
    text = "I adopted a grey cat named Miso from the Elm Street shelter last spring."
    turn = said(store, text, 3)
    store.add(
        EpisodicMemory(event_type="conversation", summary=text, occurred_at=turn.occurred_at),
        sources=[turn.id],
    )
    other = said(store, "My neighbour's cat sleeps on our porch every afternoon.", 2)
    items, _, _ = ChatAgent(store, ScriptedChat({})).retrieve("my cat", now=NOW, limit=2)
    pointed = [set(item.source_ids) for item in items]
    assert len(items) == 2 and {turn.id} in pointed and {other.id} in pointed


def test_a_question_naming_someone_searches_their_own_lines(store: MemoryStore) -> None:
    for n in range(12):  # Caroline tells Melanie about painting a lot
        said(store, f"Melanie, I painted the class number {n} today!", n, "Caroline")
    theirs = said(
        store,
        "I painted my first watercolour of the lake at sunrise, it took hours.",
        20,
        "Melanie",
    )
    agent = ChatAgent(store, ScriptedChat({}))
    items, _, _ = agent.retrieve("What did Melanie paint?", now=NOW, limit=5)
    assert theirs.id in {i.id for i in items}
    agent._speakers_in = lambda question: []  # type: ignore[method-assign]
    without, _, _ = agent.retrieve("What did Melanie paint?", now=NOW, limit=5)
    assert theirs.id not in {i.id for i in without}  # Caroline's many lines crowd it out


def test_my_sister_is_searched_by_her_name_as_the_user_told_it(store: MemoryStore) -> None:
    store.update(
        store.core_block("human").id, {"value": "- “My sister Marta turns 30 on 3 June.” (x)"}
    )
    agent = ChatAgent(store, ScriptedChat({}))
    queries, _ = agent.plan("What does my sister like?", NOW)
    assert queries == ["What does my sister like?", "What does my sister like? Marta"]
