"""The three conversations a new user tried (docs/demo/three-conversations.json: a trip to
Lisbon, a sister's peanut allergy and birthday, a CI move from Jenkins to GitHub Actions),
ingested with the real bundled models, end to end: what a person sees in the memory browser
and what the chat answers. The four failures that report found are each checked here."""

import re
from pathlib import Path

import pytest

from agents.chat import ChatAgent
from agents.ingest import ingest_sessions
from agents.team import MemoryTeam
from core.engine import Engine
from core.ingest.chats import read_chats
from core.memory.models import MemoryType

DEMO = Path(__file__).resolve().parents[2] / "docs/demo/three-conversations.json"


@pytest.mark.slow
def test_three_conversations_become_memories_a_person_would_keep(data_dir: Path) -> None:
    with Engine(data_dir) as engine:
        team = MemoryTeam(engine.store, engine.chat)
        report = ingest_sessions(team, read_chats(DEMO))
        store = engine.store
        memories = [m for m in store.memories() if m.type != MemoryType.CORE]
        texts = [m.search_text() for m in memories]

        # No schema echo ("memory_name"), no date alone, no summary repeating a name.
        assert texts and not any(re.search(r"memory_name|^\d{4}-\d{2}-\d{2}$", t) for t in texts)
        # The facts of each conversation are there, in the user's words, dated by the turn.
        for fact in ("Hotel Avenida Palace", "turns 30 on 3 June", "14 Jenkins jobs"):
            assert any(fact in t for t in texts), fact
        hotel = next(m for m in memories if "Avenida Palace" in m.search_text())
        assert hotel.event_time is not None and hotel.event_time.date().isoformat() == "2026-11-02"
        # Only the user's lines: the assistant's advice is not the user's life.
        assert not any(s.actor == "assistant" for m in memories for s in store.sources_of(m.id))
        assert sum(report.batches[i].calls for i in range(len(report.batches))) == 0

        # Entities for the graph: one node each, linked to where they were said.
        names = {e.name: e for e in store.entities()}
        assert {"Lisbon", "Marta", "Jenkins"} <= set(names)
        assert names["Marta"].kind == "person" and store.mentions(names["Marta"].id)

        # The human block learnt who the user is.
        human = store.core_block("human").value
        assert "allergic to peanuts" in human and "Marta" in human

        # Answers: grounded, cited, never the prompt streamed back.
        agent = ChatAgent(store, engine.chat)
        for question, expected in [
            ("Which hotel am I staying at in Lisbon?", "Avenida Palace"),
            ("What is my sister allergic to?", "peanuts"),
            ("How many Jenkins jobs do we have?", "14"),
        ]:
            answer = agent.ask(question)
            assert expected in answer.text, (question, answer.text)
            assert re.search(r"\[\d\]$", answer.text) and answer.citations
            assert "Notes:" not in answer.text and "Question:" not in answer.text
