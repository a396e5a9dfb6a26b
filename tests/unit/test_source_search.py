"""Search over kept inputs: keyword and vector rankings, time and kind filters, deletion."""

from datetime import UTC, datetime
from pathlib import Path

from core.ingest.chats import Session, Turn
from core.ingest.keep import keep_session
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.store.source_search import search_sources

MAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def test_a_reply_is_found_by_the_words_of_the_turn_it_answers(store: MemoryStore) -> None:
    session = Session(
        "chat",
        MAY,
        [
            Turn("Melanie", "How was the pottery class?", MAY, "s:1"),
            Turn("Caroline", "Loved it, I made a bowl!", MAY, "s:2"),
        ],
    )
    kept, _ = keep_session(store, session)
    hits = search_sources(store, "Caroline pottery")
    assert [h.source.id for h in hits][:2] == [kept[1].id, kept[0].id]
    assert hits[0].snippet == "[Caroline]: Loved it, I made a bowl!"  # terms marked
    assert hits[0].keyword_rank == 1 and hits[0].vector_rank is not None


def test_filters_by_time_and_kind(store: MemoryStore) -> None:
    early = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=MAY, text="tea at noon"))
    late = store.add_source(
        Source(kind=SourceKind.CAPTURE, occurred_at=datetime(2023, 6, 1, tzinfo=UTC), text="tea")
    )
    assert {h.source.id for h in search_sources(store, "tea")} == {early.id, late.id}
    june = datetime(2023, 6, 1, tzinfo=UTC)
    may = datetime(2023, 5, 31, tzinfo=UTC)
    assert [h.source.id for h in search_sources(store, "tea", since=june)] == [late.id]
    assert [h.source.id for h in search_sources(store, "tea", until=may)] == [early.id]
    assert [h.source.id for h in search_sources(store, "tea", kinds=["chat"])] == [early.id]


def test_a_deleted_source_is_gone_from_both_rankings(store: MemoryStore) -> None:
    source = store.add_source(Source(kind=SourceKind.CHAT, occurred_at=MAY, text="kayak trip"))
    store.delete_source(source.id)
    assert search_sources(store, "kayak trip") == []
    assert source.id not in store.source_vectors.revisions()


def test_a_deleted_capture_takes_its_picture_unless_another_shows_it(store: MemoryStore) -> None:
    folder = store.folder / "capture" / "pictures" / "2023-05-01"
    folder.mkdir(parents=True)
    own = folder / "20230501T000000000000-a.webp"  # the form the capture pipeline writes
    shared = folder / "20230501T000000000000-b.webp"
    own.write_bytes(b"picture a")
    shared.write_bytes(b"picture b")

    def capture(picture: Path, text: str) -> Source:
        relative = str(picture.relative_to(store.folder))
        return store.add_source(
            Source(kind=SourceKind.CAPTURE, occurred_at=MAY, text=text, thumbnail=relative)
        )

    alone = capture(own, "budget sheet")
    first, second = capture(shared, "left monitor"), capture(shared, "right monitor")
    store.delete_source(alone.id)
    store.delete_source(first.id)
    assert not own.exists()
    assert shared.exists()  # the other capture still shows it
    store.delete_source(second.id)
    assert not shared.exists()
