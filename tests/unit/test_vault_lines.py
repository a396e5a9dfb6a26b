"""The lines a vault item was filed from may spell its value out ("the garage code is 7731"
passes redaction): they are hidden wherever the value is, and stay hidden after the item is
deleted, because the mark is on the line itself rather than derived from the item's provenance."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.chat import ChatAgent
from agents.host import Host
from app.serve.service import MemoryService
from core.embed import HashingEmbedder
from core.ingest.chats import Session, Turn
from core.ingest.keep import keep_session
from core.memory import KnowledgeVaultItem, SemanticMemory, Source, SourceKind
from core.settings import Settings
from core.store import db as db_module
from core.store.memories import MemoryStore
from core.store.migrations import MIGRATIONS, vault_lines
from core.store.source_search import search_sources
from core.store.transfer import export_json, import_json
from tests.standins import ScriptedChat

CODE = "7731"
LINE = f"the garage door code is {CODE}"
MAY = datetime(2026, 5, 1, 9, tzinfo=UTC)


def said(store: MemoryStore, text: str, minutes: int = 0) -> Source:
    return store.add_source(
        Source(
            kind=SourceKind.CHAT,
            occurred_at=MAY + timedelta(minutes=minutes),
            text=text,
            actor="user",
        )
    )


def garage(sensitivity: str = "low") -> KnowledgeVaultItem:
    return KnowledgeVaultItem(caption="Garage door", secret_value=CODE, sensitivity=sensitivity)


def test_the_line_stays_hidden_after_the_item_is_deleted(store: MemoryStore) -> None:
    line, other = said(store, LINE), said(store, "the weather was fine", 1)
    item = store.add(garage("high"), sources=[line.id])
    assert store.vault_sources() == {line.id} == store.vault_sources(high_only=True)
    store.delete(item.id)
    assert store.vault_sources() == {line.id} == store.vault_sources(high_only=True)
    assert other.id not in store.vault_sources()
    assert store.get_source(line.id).text == LINE  # hidden from others, still the user's


def test_a_mark_follows_the_item_up_and_never_down(store: MemoryStore) -> None:
    line, later = said(store, LINE), said(store, "and the gate is 1234", 1)
    item = store.add(garage("low"), sources=[line.id])
    assert store.vault_sources() == {line.id} and store.vault_sources(high_only=True) == set()
    store.update(item.id, {"sensitivity": "high"})
    assert store.vault_sources(high_only=True) == {line.id}
    store.update(item.id, {"sensitivity": "medium"})
    assert store.vault_sources(high_only=True) == {line.id}  # never lowered
    store.link_sources(item.id, [later.id])  # filed from one more line, by hand
    assert store.vault_sources() == {line.id, later.id}
    # Provenance of other memories marks nothing.
    note = store.add(SemanticMemory(name="Weather", summary="fine"))
    store.link_sources(note.id, [said(store, "sunny all day", 2).id])
    assert store.vault_sources() == {line.id, later.id}


def test_tools_and_the_chat_agent_never_see_the_line_of_a_deleted_item(
    data_dir: Path,
) -> None:
    host = Host(data_dir, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
    host.start()
    try:
        store = host.store
        line = said(store, LINE)
        # Another memory made from the same line: `get` lists its sources.
        note = store.add(
            SemanticMemory(name="Garage", summary="The door has a code"), sources=[line.id]
        )
        item = store.add(garage("low"), sources=[line.id])
        store.delete(item.id)
        query = "garage door code"
        raw = search_sources(store, query)
        # Found both ways (keyword and vector): the hiding is not left to one ranking.
        assert raw[0].source.id == line.id
        assert raw[0].keyword_rank == 1 and raw[0].vector_rank == 1

        service = MemoryService(host)
        found = service.search(query, include_sources=True)
        assert line.id not in {s.id for s in found.sources}
        assert service.get(note.id).sources == []
        agent = ChatAgent(store, ScriptedChat({}), plan_queries=False, reveal_vault=False)
        items, _, _ = agent.retrieve(query, now=MAY)
        assert line.id not in {i.id for i in items}
        assert CODE not in json.dumps([i.text for i in items])
    finally:
        host.close()


def test_exports_without_secrets_leave_the_line_out(
    store: MemoryStore, tmp_path: Path, settings: Settings
) -> None:
    session = Session(
        title="chores",
        started_at=MAY,
        turns=[
            Turn("user", LINE, MAY),
            Turn("assistant", "Noted, I will keep it safe.", MAY + timedelta(minutes=1)),
        ],
    )
    (line, reply), _ = keep_session(store, session)
    assert CODE in reply.meta["context"]  # the turn after it is indexed with it
    item = store.add(garage("low"), sources=[line.id])
    store.delete(item.id)

    plain = export_json(store)
    assert CODE not in json.dumps(plain)
    assert [s["id"] for s in plain["sources"]] == [reply.id]
    assert all(line.id not in pair for pair in plain["provenance"])

    # With secrets the line goes, marked: imported elsewhere it is still hidden there.
    full = export_json(store, include_secrets=True)
    assert {s["id"]: s.get("vault") for s in full["sources"]} == {line.id: "low", reply.id: None}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(full))
    with MemoryStore(tmp_path / "other", HashingEmbedder(), settings) as other:
        import_json(other, path)
        assert other.vault_sources() == {line.id}
        assert CODE not in json.dumps(export_json(other))
        # A file's mark raises the mark of a line the store has already; never lowers it.
        full["sources"][0]["vault"] = "high"
        path.write_text(json.dumps(full))
        import_json(other, path)
        assert other.vault_sources(high_only=True) == {line.id}


def test_the_migration_marks_the_lines_hidden_by_provenance(
    data_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = MIGRATIONS.index(vault_lines)
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:before])
    with MemoryStore(data_dir, HashingEmbedder(), settings) as old:
        low, high, plain = said(old, LINE), said(old, "the gate is 1234", 1), said(old, "hi", 2)
        old.add(garage("low"), sources=[low.id, high.id])
        old.add(garage("high"), sources=[high.id])
        old.add(SemanticMemory(name="Hello", summary="a greeting"), sources=[plain.id])
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        assert store.vault_sources() == {low.id, high.id}
        assert store.vault_sources(high_only=True) == {high.id}
        for item in store.memories():
            if item.type == "knowledge_vault":
                store.delete(item.id)
        assert store.vault_sources() == {low.id, high.id}


def test_the_lines_go_with_the_item_only_when_the_user_says(mnemo) -> None:  # type: ignore[no-untyped-def]
    with MemoryStore(mnemo.folder, HashingEmbedder()) as store:
        kept, gone = said(store, LINE), said(store, "and the gate is 1234", 1)
        first = store.add(garage(), sources=[kept.id]).id
        second = store.add(garage(), sources=[gone.id]).id
    code, out, _ = mnemo("delete", first, "--yes")
    assert code == 0 and out.strip() == f"deleted {first}"
    code, out, _ = mnemo("delete", second, "--yes", "--with-sources")
    assert code == 0 and out.strip() == f"deleted {second} and 1 input(s) it was made from"
    with MemoryStore(mnemo.folder, HashingEmbedder()) as store:
        assert set(store.get_sources([kept.id, gone.id])) == {kept.id}
        assert store.vault_sources() == {kept.id}  # stayed, and stayed hidden
