"""The host and the thread safety a window needs, each run from several threads at once:
the vault key, per-thread connections, change events (this process's and another's), the
background lock, "remember" ahead of background writing, per-batch usage, ask's stop."""

import gc
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agents.host import Host
from agents.team import Batch, MemoryTeam
from core.embed import HashingEmbedder
from core.llm.service import Priority
from core.memory import KnowledgeVaultItem, SemanticMemory
from core.memory.models import Source, SourceKind
from core.ownership import BackgroundBusy, BackgroundOwner
from core.store.changes import Change
from core.store.memories import MemoryStore
from core.timeutil import now
from tests.standins import ScriptedChat


@pytest.fixture
def host(data_dir: Path):  # type: ignore[no-untyped-def]
    # No polling job: the tests call poll_external() themselves.
    opened = Host(
        data_dir, embedder=HashingEmbedder(), chat=ScriptedChat({"text": ["ok"]}), watch_s=None
    )
    opened.start()
    yield opened
    opened.close()


def run_at_once(count: int, work) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run `work(n)` on `count` threads released together; returns their errors."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(n: int) -> None:
        try:
            barrier.wait(60)
            work(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_first_secrets_from_several_threads_share_one_key(data_dir: Path, settings) -> None:
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        ids: list[str] = []

        def add(n: int) -> None:
            item = KnowledgeVaultItem(
                entry_type="password", source="test", caption=f"pin {n}", secret_value=f"s{n}"
            )
            ids.append(store.add(item).id)

        assert run_at_once(8, add) == []
    with MemoryStore(data_dir, HashingEmbedder(), settings) as reopened:
        values = {reopened.get(i, reveal=True).secret_value.get_secret_value() for i in ids}
    assert values == {f"s{n}" for n in range(8)}


def test_a_threads_connection_is_closed_when_the_thread_ends(store: MemoryStore) -> None:
    store.counts()
    before = store.db.connections
    assert run_at_once(12, lambda n: store.memories(limit=1)) == []
    gc.collect()
    assert store.db.connections == before


def test_writes_announce_what_changed_from_any_thread(host: Host) -> None:
    seen: list[Change] = []
    stop = host.changes.subscribe(seen.append)
    memories: list[str] = []
    errors = run_at_once(
        4,
        lambda n: memories.append(
            host.store.add(SemanticMemory(name=f"m{n}", summary="a note")).id
        ),
    )
    assert errors == []
    host.store.update(memories[0], {"summary": "changed"})
    host.store.delete(memories[1])
    source = host.store.add_source(Source(kind=SourceKind.CHAT, occurred_at=now(), text="hello"))
    stop()
    host.store.add(SemanticMemory(name="after unsubscribe", summary="a note"))
    added = [c for c in seen if (c.kind, c.action) == ("memory", "added")]
    assert sorted(i for c in added for i in c.ids) == sorted(memories)
    assert Change("memory", "updated", (memories[0],)) in seen
    assert Change("memory", "deleted", (memories[1],)) in seen
    assert Change("source", "added", (source.id,)) in seen
    assert not any("after unsubscribe" in str(c) for c in seen)
    assert {c.kind for c in seen} == {"memory", "source"}


WRITER = """
import sys
from core.embed import HashingEmbedder
from core.memory import SemanticMemory
from core.store.memories import MemoryStore
from pathlib import Path
with MemoryStore(Path(sys.argv[1]), HashingEmbedder()) as store:
    store.add(SemanticMemory(name="written by another process", summary="a note"))
"""


def on_a_thread(work):  # type: ignore[no-untyped-def]
    """`work()` on a new thread (as the scheduler's pool calls it), its result."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def test_another_processs_writes_are_noticed(host: Host) -> None:
    seen: list[Change] = []
    host.changes.subscribe(seen.append)
    assert on_a_thread(host.poll_external) is False  # nothing yet
    on_a_thread(lambda: host.store.add(SemanticMemory(name="ours", summary="a note")))
    assert on_a_thread(host.poll_external) is False  # ours was announced already
    host.store.add(SemanticMemory(name="ours too", summary="a note"))
    assert host.poll_external() is False
    subprocess.run([sys.executable, "-c", WRITER, str(host.data_dir)], check=True)
    assert on_a_thread(host.poll_external) is True
    assert seen[-1] == Change("external", "changed")
    assert on_a_thread(host.poll_external) is False


def test_one_process_owns_the_background_work(data_dir: Path) -> None:
    first, second = BackgroundOwner(data_dir), BackgroundOwner(data_dir)
    assert first.acquire() and not second.acquire()
    with pytest.raises(BackgroundBusy, match="already runs"):
        second.require("start capture")
    first.release()
    assert second.acquire()
    second.release()


def test_a_second_host_on_the_folder_reads_and_writes_but_cannot_capture(host: Host) -> None:
    other = Host(host.data_dir, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
    other.start()
    try:
        assert not other.owner.held and host.owner.held
        other.store.add(SemanticMemory(name="from the second host", summary="a note"))
        assert host.memories_page().total == other.memories_page().total
        with pytest.raises(BackgroundBusy):
            other.capture_start()
        with pytest.raises(BackgroundBusy, match="consolidate"):
            other.consolidate()
    finally:
        other.close()


def test_remember_runs_ahead_of_background_writing(store: MemoryStore) -> None:
    chat = ScriptedChat({})
    priorities: list[Priority] = []
    structured = chat.structured

    def recording(*args, **kw):  # type: ignore[no-untyped-def]
        priorities.append(kw["priority"])
        return structured(*args, **kw)

    chat.structured = recording  # type: ignore[method-assign]
    from agents.chat import ChatAgent

    ChatAgent(store, chat).remember("my locker code is on the fridge")
    assert priorities and set(priorities) == {Priority.CHAT}
    priorities.clear()
    source = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=now(), text="hi"))
    MemoryTeam(store, chat).process(Batch([source]))
    assert priorities and set(priorities) == {Priority.MEMORY}


def test_a_batchs_usage_counts_only_its_own_calls(store: MemoryStore) -> None:
    chat = ScriptedChat({"Routing": [json.dumps({"topics": ["greeting"], "managers": []})]})
    source = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=now(), text="hello"))
    reports = []

    def work(n: int) -> None:
        if n == 0:
            reports.append(MemoryTeam(store, chat).process(Batch([source])))
        else:
            for _ in range(5):
                chat.complete([{"role": "user", "content": "chat pane question"}])

    assert run_at_once(3, work) == []
    (report,) = reports
    assert report.answers == 3 and report.dropped_answers == 0
    assert report.calls == report.answers  # no retries were needed
    assert chat.usage.calls == report.calls + 10


def test_ask_can_be_stopped_from_another_thread(host: Host) -> None:
    chat = host.chat_model
    holding, release = threading.Event(), threading.Event()
    blocker = chat.service.submit(lambda *_: (holding.set(), release.wait(60)), Priority.CHAT)
    assert holding.wait(60)
    stream = host.ask("what did I do yesterday?")
    pieces: list[str] = []
    reader = threading.Thread(target=lambda: pieces.extend(stream))
    reader.start()
    stream.cancel()  # from this thread, while the reader waits for the first piece
    reader.join(60)
    assert not reader.is_alive() and pieces == []
    release.set()
    blocker.result(60)
    assert chat.complete([{"role": "user", "content": "next"}]) == "ok"


def test_the_read_api_returns_typed_records(host: Host) -> None:
    store = host.store
    source = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=now(), text="Met Ana"))
    memory = store.add(SemanticMemory(name="Ana", summary="A friend"), sources=[source.id])
    person = store.entity("person", "Ana")
    store.link(memory.id, person.id, "about")
    page = host.memories_page(offset=0, limit=1)
    assert page.total == 3 and len(page.items) == 1  # two core blocks and Ana
    assert [m.id for m in host.memories_of_source(source.id)] == [memory.id]
    assert [s.id for s in host.sources_of(memory.id)] == [source.id]
    around = host.neighbourhood(person.id)
    assert set(around.memories) == {memory.id} and set(around.entities) == {person.id}
    assert [s.id for s in host.sources_between()] == [source.id]
    stats = host.stats()
    assert stats.total_memories == 3 and stats.sources == 1 and stats.links == 1
    assert [b.label for b in host.core_blocks()] == ["human", "persona"]
    assert json.dumps(stats.memories)


def test_searches_and_other_writers_do_not_wait_behind_a_compaction(store: MemoryStore) -> None:
    from core.store.search import search

    store.add(SemanticMemory(name="Lisbon", summary="Trip to Lisbon in March"))
    assert search(store, "Lisbon")  # the matrix is loaded
    compacting, release = threading.Event(), threading.Event()

    def compaction() -> None:  # holds LanceDB the way optimize() does, for as long as we like
        with store.vectors._lock:
            compacting.set()
            release.wait(60)

    holder = threading.Thread(target=compaction)
    holder.start()
    assert compacting.wait(60)
    writer = threading.Thread(
        target=lambda: store.add(SemanticMemory(name="queued", summary="a note"))
    )
    writer.start()  # its vector write waits for the compaction; its SQLite commit does not
    results: list[object] = []
    other = threading.Thread(
        target=lambda: results.extend(
            [
                store.add_sources(
                    [Source(kind=SourceKind.CHAT, occurred_at=now(), text="hi")], embed=False
                ),
                search(store, "Lisbon"),
            ]
        )
    )
    other.start()
    other.join(60)
    finished_meanwhile = not other.is_alive()
    release.set()
    for thread in (holder, writer, other):
        thread.join(60)
    assert finished_meanwhile and results[1]
    assert store.counts()["semantic"] == 2 and store.vectors.count() == 4  # 2 core + 2


def test_a_delete_beside_the_owner_is_made_final_by_the_owner(host: Host) -> None:
    other = Host(host.data_dir, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
    other.start()
    doomed = other.store.add(SemanticMemory(name="Diary", summary="private words"))
    other.store.delete(doomed.id)
    other.close()  # not the owner: it leaves the purge to the owner
    assert host.store.meta("purge_pending") == "1"
    assert on_a_thread(host.poll_external) is True  # the owner notices, and purges
    assert host.store.meta("purge_pending") is None


def test_capture_pausing_itself_is_announced(host: Host, tmp_path: Path) -> None:
    from core.errors import StorageFull
    from tests.capture_fakes import FakeDesktop, FakeScreen, screen_image, window

    notices = []
    host.notices.subscribe(notices.append)
    screen = FakeScreen([screen_image({40: "Quarterly report"})])
    desktop = FakeDesktop([window("libreoffice", "report.odt")])
    host._capture_options = {"screen": screen, "desktop_factory": lambda: desktop, "ocr": None}
    service = host.capture_start()
    service._guarded(lambda: (_ for _ in ()).throw(StorageFull("the disk is full")))
    told = [n for n in notices if n.kind != "progress"]  # indexing may report meanwhile
    assert [(n.kind, n.text) for n in told] == [("capture", "paused"), ("alert", "Capture paused")]
    assert told[1].detail == "the disk is full" and host.capture_state() == "paused"
    host.capture_stop()


def test_a_picture_a_crash_left_without_its_capture_is_deleted_at_start(data_dir: Path) -> None:
    from datetime import UTC, datetime

    from PIL import Image

    day = data_dir / "capture" / "pictures" / "2026-11-30"
    day.mkdir(parents=True)
    kept, orphan = (day / f"20261130T10150000000{n}-m1.webp" for n in (1, 2))
    for path in (kept, orphan):
        Image.new("RGB", (8, 8)).save(path, "WEBP")
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        store.add_source(
            Source(
                kind=SourceKind.CAPTURE,
                occurred_at=datetime(2026, 11, 30, 10, 15, tzinfo=UTC),
                text="x",
                thumbnail=str(kept.relative_to(data_dir)),
            )
        )
    host = Host(data_dir, embedder=HashingEmbedder(), watch_s=None)
    host.start()
    host.wait_for_startup_work()
    # Taken after this start (as far as its name says): it may be a capture being stored now.
    fresh = day.parent / "2999-01-01" / "29990101T000000000000-m1.webp"
    fresh.parent.mkdir()
    Image.new("RGB", (8, 8)).save(fresh, "WEBP")
    # Named for a day long past but written since this start: an import saving a picture
    # whose capture it has not stored yet.
    arriving = day / "20261130T101500000003-m1.webp"
    Image.new("RGB", (8, 8)).save(arriving, "WEBP")
    host._writer.submit(host._sweep_pictures).result()
    host.close()
    assert kept.exists() and fresh.exists() and arriving.exists()
    assert not orphan.exists()
