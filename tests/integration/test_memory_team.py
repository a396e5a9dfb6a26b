"""The memory team on the real bundled model: a short conversation and a document go in;
memories land with provenance back to the input. A 135M model's judgement is not asserted;
the mechanics are: every answer is schema-valid, every memory points at input it was given."""

import json
from pathlib import Path

import pytest

from agents import gate
from agents.chat import ChatAgent
from agents.ingest import ingest_file, ingest_sessions
from agents.team import MemoryTeam
from core.engine import Engine
from core.ingest.chats import read_chats

CHAT = {
    "title": "Evening chat",
    "started_at": "2024-05-10T19:00:00Z",
    "turns": [
        {"speaker": "user", "text": "Yesterday I met Alice about the Q3 budget; we cut travel."},
        {
            "speaker": "user",
            "text": "My sister Carol's birthday is on 3 March; she loves climbing.",
        },
        {
            "speaker": "user",
            "text": "To deploy: run the tests, build the image, docker compose up.",
        },
    ],
}


@pytest.mark.slow
def test_a_conversation_and_a_document_become_memories_with_provenance(
    data_dir: Path, tmp_path: Path
) -> None:
    chat_file = tmp_path / "chat.json"
    chat_file.write_text(json.dumps(CHAT))
    notes = tmp_path / "release.md"
    notes.write_text("# Release checklist\n1. Tag the commit\n2. Build the wheel\n3. Upload\n")

    with Engine(data_dir) as engine:
        team = MemoryTeam(engine.store, engine.chat)
        report = ingest_sessions(team, read_chats(chat_file))
        file_report = ingest_file(team, notes)
        (batch,) = report.batches

        # The bundled 135M model is small: chat lines are kept in their own words (no model
        # call); the document still goes through the model (and the gate).
        assert team.extractive and report.turns == 3 and batch.calls == 0
        assert file_report.calls >= 1 and file_report.prompt_tokens > 0
        turn_ids = {s.id for s in engine.store.find_sources("chat", _refs(engine)).values()}
        written = set(batch.memory_ids)
        assert written, "the team kept none of the lines"
        summaries = [engine.store.get(i).headline for i in written]
        assert any("Carol's birthday is on 3 March" in text for text in summaries)
        for memory_id in written:
            memory = engine.store.get(memory_id)
            if memory.type != "core":
                assert gate.check(memory, engine.store.sources_of(memory_id)) is None
            cited = {s.id for s in engine.store.sources_of(memory_id)}
            assert cited, f"{memory_id} has no provenance"
            if memory_id not in file_report.memory_ids:  # else the document is cited too
                assert cited <= turn_ids
        resources = [m for m in engine.store.memories(types=["resource"])]
        assert any(m.content.startswith("# Release checklist") for m in resources)
        assert file_report.inserted.get("resource", 0) >= 1

        # The same conversation again: nothing new to keep or read.
        again = ingest_sessions(team, read_chats(chat_file))
        assert (again.turns, again.known, again.batches) == (0, 3, [])

        # Asking: a streamed answer whose citations resolve to memories and kept turns.
        agent = ChatAgent(engine.store, engine.chat, team)
        stream = agent.stream("When is Carol's birthday?")
        assert stream.answer.items  # retrieval is done before the first token
        pieces = list(stream)
        answer = stream.answer
        assert answer.text == "".join(pieces).strip() and answer.text
        assert answer.citations
        kinds = {item.kind for item in answer.items}
        assert "source" in kinds
        for item in answer.citations:
            if item.kind == "memory":
                assert engine.store.get(item.id).id == item.id
            else:
                assert engine.store.get_source(item.id).id == item.id
            for source_id in item.source_ids:
                assert engine.store.get_source(source_id)
        birthday = [i for i in answer.items if "3 March" in i.label]
        assert birthday, "the turn that holds the answer was not retrieved"


def _refs(engine: Engine) -> list[str]:
    rows = engine.store.db.query("SELECT ref FROM sources WHERE kind = 'chat'")
    return [row["ref"] for row in rows]
