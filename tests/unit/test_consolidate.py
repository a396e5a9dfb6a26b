"""Consolidation: duplicates merged with history, conflicts flagged, stale memories ranked lower,
full core blocks rewritten (on a scripted model), and the scheduled job."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from agents.consolidate import Consolidator, schedule
from core.errors import NotFound
from core.memory import EpisodicMemory, SemanticMemory
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.store.search import search
from core.timeutil import now
from tests.standins import ScriptedChat


def source(store: MemoryStore, text: str) -> str:
    return store.add_source(Source(kind=SourceKind.CHAT, occurred_at=now(), text=text)).id


def test_near_duplicates_merge_into_the_older_with_history(store: MemoryStore) -> None:
    first, second = source(store, "a"), source(store, "b")
    older = store.add(
        SemanticMemory(name="Miso", summary="Miso is the user's grey cat"), sources=[first]
    )
    newer = store.add(
        SemanticMemory(name="Miso", summary="Miso is the user's grey cat", details="Likes tuna"),
        sources=[second],
    )
    other = store.add(SemanticMemory(name="Rust", summary="A systems programming language"))
    store.link(newer.id, other.id, "mentions")

    # The tests' hashing embedder puts these at cosine 0.913; MiniLM would be closer.
    report = Consolidator(store, duplicate_similarity=0.9).run()
    assert report.merged == [(older.id, newer.id)]
    kept = store.get(older.id)
    assert kept.details == "Likes tuna"  # type: ignore[attr-defined]
    assert {s.id for s in store.sources_of(older.id)} == {first, second}
    assert [(link.src, link.relation) for link in store.links(other.id)] == [(older.id, "mentions")]
    assert store.get_many([newer.id]) == {}
    (version,) = [v for v in store.history(older.id) if v.cause.startswith("merged")]
    assert newer.id in version.cause and version.actor == "agent:consolidation"
    assert store.get(other.id)  # unrelated memories stay

    # Asked for later (an edit from another process), the merged id says where it went.
    with pytest.raises(NotFound, match=f"was merged into {older.id}.*mnemo show {older.id}"):
        store.update(newer.id, {"details": "Likes salmon"})
    assert Consolidator(store).run().merged == []  # the merged memory is looked at once more
    assert Consolidator(store).run().checked == 0  # nothing changed since the last run
    store.delete(older.id)
    with pytest.raises(NotFound, match=f"was merged into {older.id}, which was deleted since"):
        store.get(newer.id)


def test_an_edit_made_while_consolidation_merges_is_kept(store: MemoryStore, monkeypatch) -> None:
    """Found by bench.concurrent: `mnemo edit` in another process, between consolidation
    reading a duplicate and deleting it, was lost with the duplicate."""
    older = store.add(SemanticMemory(name="Miso", summary="Miso is the user's grey cat"))
    newer = store.add(
        SemanticMemory(name="Miso", summary="Miso is the user's grey cat", details="Likes tuna")
    )
    read = store.get_many

    def read_then_edited(ids):  # type: ignore[no-untyped-def]
        found = read(ids)
        if newer.id in found:  # the other process's edit lands right after this read
            store.update(newer.id, {"details": "Likes tuna and salmon"})
        return found

    monkeypatch.setattr(store, "get_many", read_then_edited)
    report = Consolidator(store, duplicate_similarity=0.9).run()
    # The first merge read the duplicate before the edit and is refused; the duplicate is
    # then compared in its own turn, as edited, and merged with the edit.
    assert "changed meanwhile" in report.errors[0]
    assert report.merged == [(older.id, newer.id)]
    assert "Likes tuna and salmon" in store.get(older.id).details  # type: ignore[attr-defined]


def test_a_duplicate_whose_text_has_no_room_left_is_kept_beside_it(store: MemoryStore) -> None:
    """Near-duplicates merged one after another into one memory filled its details, and the
    text of the next was cut off as it was deleted (found while reading bench.reliability's
    report, whose own two 'lost' writes were in fact memories merged into one that the
    workload then deleted)."""
    from agents.consolidate import DETAILS_LIMIT

    full = ("Miso is the user's grey cat. " * 100)[: DETAILS_LIMIT - 5]
    older = store.add(
        SemanticMemory(name="Miso", summary="Miso is the user's grey cat", details=full)
    )
    newer = store.add(
        SemanticMemory(name="Miso", summary="Miso is the user's grey cat", details="Likes tuna")
    )
    report = Consolidator(store, duplicate_similarity=0.85).run()  # hashing: 0.874
    assert report.merged == [] and report.errors == [] and report.conflicts == []
    assert store.get(newer.id).details == "Likes tuna"  # type: ignore[attr-defined]
    assert store.get(older.id).details == full  # type: ignore[attr-defined]


def test_same_name_that_disagrees_is_flagged_not_merged(store: MemoryStore) -> None:
    a = store.add(SemanticMemory(name="Ana", summary="Ana works as a nurse in Porto"))
    b = store.add(SemanticMemory(name="ana", summary="Ana is a software engineer at a bank"))
    report = Consolidator(store, duplicate_similarity=0.99).run()
    assert report.merged == []
    assert report.conflicts == [(b.id, a.id)] or report.conflicts == [(a.id, b.id)]
    assert {link.relation for link in store.links(a.id)} == {"conflicts"}
    assert Consolidator(store).run().conflicts == []  # flagged once


def test_stale_memories_rank_lower_until_confirmed(store: MemoryStore) -> None:
    fresh = store.add(EpisodicMemory(summary="Went kayaking on the river", occurred_at=now()))
    stale = store.add(EpisodicMemory(summary="Went kayaking on the lake", occurred_at=now()))
    later = now() + timedelta(days=400)
    with store.db.write() as db:  # the fresh one was confirmed recently, the stale one not
        db.execute("UPDATE memories SET updated_at = ? WHERE id = ?", [later.isoformat(), fresh.id])
    report = Consolidator(store, duplicate_similarity=1.01).run(at=later)
    assert report.decayed == 1
    weight = store.db.scalar("SELECT weight FROM memories WHERE id = ?", [stale.id])
    assert 0.25 <= weight < 0.3
    hits = search(store, "kayaking")
    assert [h.memory.id for h in hits] == [fresh.id, stale.id]
    assert hits[1].score < hits[0].score

    store.update(stale.id, {"details": "confirmed again"})
    report = Consolidator(store, duplicate_similarity=1.01).run()
    assert report.restored == 1
    assert store.db.scalar("SELECT weight FROM memories WHERE id = ?", [stale.id]) == 1.0


def test_a_full_core_block_is_rewritten_to_half(store: MemoryStore) -> None:
    block = store.get("core:human")
    limit = block.char_limit  # type: ignore[attr-defined]
    full = "\n".join(f"Fact {n}: the user likes thing number {n}" for n in range(200))
    store.update("core:human", {"value": full[: int(limit * 0.95)]})
    short = "The user likes many numbered things."
    chat = ScriptedChat({"CoreRewrite": [json.dumps({"text": short})]})
    report = Consolidator(store, chat).run()
    assert report.core_rewritten == ["human"]
    assert store.get("core:human").value == short  # type: ignore[attr-defined]
    assert store.history("core:human")[-1].old["value"].startswith("Fact 0")  # type: ignore[index]


def test_a_bad_rewrite_leaves_the_block(store: MemoryStore) -> None:
    block = store.get("core:human")
    value = ("The user likes tea. " * 400)[: int(block.char_limit * 0.95)]  # type: ignore[attr-defined]
    store.update("core:human", {"value": value})
    chat = ScriptedChat({"CoreRewrite": ['{"text": "x"}'] + ["not json"] * 5})
    report = Consolidator(store, chat).run()
    assert report.core_rewritten == [] and report.errors
    assert store.get("core:human").value == value  # type: ignore[attr-defined]


def test_the_job_is_scheduled_and_runs(store: MemoryStore) -> None:
    store.add(SemanticMemory(name="Miso", summary="Miso is the user's grey cat"))
    store.add(SemanticMemory(name="Miso", summary="Miso is the user's grey cat"))
    reports = []
    scheduler = BackgroundScheduler(timezone=UTC)
    schedule(scheduler, lambda: reports.append(Consolidator(store).run()), hours=6)
    job = scheduler.get_job("mnemo-consolidate")
    assert job.trigger.interval == timedelta(hours=6)
    assert job.next_run_time > datetime.now(UTC) + timedelta(minutes=9)
    scheduler.start()
    try:
        job.modify(next_run_time=datetime.now(UTC))
        for _ in range(100):
            if reports:
                break
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert len(reports[0].merged) == 1
