"""The smaller parts of capture: exclusion rules, the bounded queues, the batcher, picture
retention and the disk budget, broken screenshot buffers."""

import itertools
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from core.capture.batches import Batcher
from core.capture.change import Box, Change
from core.capture.exclusions import Exclusions
from core.capture.pictures import PictureStore
from core.capture.pipeline import Frame, merge_frames
from core.capture.queues import CoalescingQueue
from core.capture.screen import FrameError, frame_image
from core.errors import InvalidInput
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.store.source_search import search_sources
from tests.capture_fakes import window

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# -- exclusions -------------------------------------------------------------------------------


def test_default_exclusions_cover_password_managers_private_windows_and_mnemo() -> None:
    rules = Exclusions.make(own_pid=4242)
    assert rules.reason(window("KeePassXC", "db.kdbx")) == "app keepassxc"
    assert rules.reason(window("firefox", "News — Mozilla Firefox Private Browsing"))
    assert rules.reason(window("Google-chrome", "Mail - Google Chrome (Incognito)"))
    mine = window("python3", "Mnemo")
    assert rules.reason(mine.__class__(**{**mine.__dict__, "pid": 4242})) == "Mnemo's own window"
    assert rules.reason(window("firefox", "News — Mozilla Firefox")) is None


def test_user_rules_by_app_title_and_domain() -> None:
    rules = Exclusions.make(
        apps=["Signal"],
        title_patterns=[r"^Payroll"],
        domains=["bank.example"],
        use_defaults=False,
    )
    assert rules.reason(window("signal", "Chats")) == "app signal"
    assert rules.reason(window("soffice", "Payroll 2026.ods")) == "title pattern ^Payroll"
    assert rules.reason(window("firefox", "https://login.bank.example/home — Firefox"))
    assert rules.reason(window("firefox", "https://notbank.example/ — Firefox")) is None
    assert rules.reason(window("KeePassXC", "db")) is None  # defaults off


def test_a_bad_title_pattern_is_an_error_that_names_it() -> None:
    with pytest.raises(InvalidInput, match=r"'\(unclosed'"):
        Exclusions.make(title_patterns=["(unclosed"])


# -- frames and queues ------------------------------------------------------------------------


def test_a_broken_screenshot_buffer_is_refused_with_its_size() -> None:
    with pytest.raises(FrameError, match="12 bytes for 2 × 2"):
        frame_image(b"\0" * 12, 2, 2)
    with pytest.raises(FrameError, match="empty frame"):
        frame_image(b"", 0, 5)
    assert frame_image(b"\x10\x20\x30\xff" * 4, 2, 2).getpixel((0, 0)) == (0x30, 0x20, 0x10)


def test_a_full_queue_merges_its_oldest_items_and_counts_them() -> None:
    queue: CoalescingQueue[list[int]] = CoalescingQueue(2, lambda a, b: a + b)
    for item in ([1], [2], [3], [4]):
        queue.put(item)
    assert len(queue) == 2 and queue.merged == 2
    assert queue.get(0) == [1, 2, 3] and queue.get(0) == [4] and queue.get(0) is None


def _frame(regions: list[Box], *, full: bool = False, monitor: int = 1) -> Frame:
    return Frame(
        image=Image.new("RGB", (100, 100)),
        monitor=monitor,
        change=Change("changed", regions, 0.1),
        at=NOW,
        window=None,
        windows=[],
        full=full,
    )


def test_merged_frames_keep_every_changed_region_and_the_full_flag() -> None:
    older = [_frame([Box(0, 0, 10, 10)], full=True), _frame([Box(0, 0, 5, 5)], monitor=2)]
    newer = [_frame([Box(50, 50, 60, 60)])]
    merged = merge_frames(older, newer)
    one = next(f for f in merged if f.monitor == 1)
    assert one.change.regions == [Box(0, 0, 10, 10), Box(50, 50, 60, 60)] and one.full
    assert {f.monitor for f in merged} == {1, 2}


# -- batches ----------------------------------------------------------------------------------


def _kept(store: MemoryStore, text: str, kind: SourceKind = SourceKind.CAPTURE) -> Source:
    (source,) = store.add_sources([Source(kind=kind, occurred_at=NOW, text=text)], embed=False)
    return source


def test_captures_go_to_the_agents_in_batches_with_the_chat_turns_between(
    store: MemoryStore,
) -> None:
    received: list[list[str]] = []
    batcher = Batcher(store, lambda s: received.append([x.text for x in s]), captures=2)
    batcher.add(_kept(store, "capture one"))
    batcher.add_chat(_kept(store, "a chat turn", SourceKind.CHAT))
    assert batcher.pending == 0
    batcher.add(_kept(store, "capture two"))  # the second capture fills the batch
    batcher.process_pending()
    assert received == [["capture one", "a chat turn", "capture two"]]
    assert store.source_vectors.count() == 3  # embedded as a batch


def test_a_batch_is_handed_over_after_its_time_even_when_not_full(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("core.capture.batches.time.monotonic", lambda: clock[0])
    received: list[int] = []
    batcher = Batcher(store, lambda s: received.append(len(s)), captures=50, minutes=10)
    batcher.add(_kept(store, "alone"))
    batcher.poll()
    clock[0] += 599
    batcher.poll()
    batcher.process_pending()
    assert received == []
    clock[0] += 2
    batcher.poll()
    batcher.process_pending()
    assert received == [1]


def test_when_the_agents_are_behind_batches_merge_and_the_oldest_are_left_out(
    store: MemoryStore,
) -> None:
    gate = threading.Event()
    received: list[list[str]] = []

    def slow(sources: list[Source]) -> None:
        gate.wait(10)
        received.append([s.text for s in sources])

    batcher = Batcher(store, slow, captures=2, max_pending=1, max_sources=3)
    batcher.start()
    try:
        texts = [f"capture {i}" for i in range(8)]
        for text in texts[:2]:
            batcher.add(_kept(store, text))  # taken by the worker, which then waits
        for _ in range(100):
            if len(batcher._queue) == 0:
                break
            threading.Event().wait(0.01)
        for text in texts[2:]:
            batcher.add(_kept(store, text))  # three more batches, merged into one of 3
        assert batcher.left_out == 3
        gate.set()
        batcher.drain(10)
    finally:
        batcher.stop()
    assert received == [texts[:2], texts[5:]]
    assert batcher.batches == 2 and batcher.pending == 0


def test_a_failing_batch_is_counted_and_its_captures_stay(store: MemoryStore) -> None:
    def broken(sources: list[Source]) -> None:
        raise RuntimeError("model crashed")

    batcher = Batcher(store, broken, captures=1)
    source = _kept(store, "kept anyway")
    batcher.add(source)
    batcher.process_pending()
    assert batcher.failed == 1 and store.get_source(source.id).text == "kept anyway"


# -- pictures ---------------------------------------------------------------------------------


def test_retention_and_the_disk_budget_delete_the_oldest_pictures_and_nothing_else(
    store: MemoryStore, data_dir: Path
) -> None:
    pictures = PictureStore(data_dir / "capture" / "pictures", scale=1.0, retention_days=30)
    noise = Image.effect_noise((300, 300), 100).convert("RGB")  # hardly compressible
    ages = [40, 31, 20, 10, 5, 2, 1, 0]  # days
    saved = [
        pictures.save(noise, NOW - timedelta(days=d, hours=1), f"m{i}") for i, d in enumerate(ages)
    ]
    # The budget holds the newest four, and a little less than a fifth.
    pictures.budget_bytes = sum(p.stat().st_size for p in saved[4:]) + 100
    for path in saved:
        store.add_sources(
            [
                Source(
                    kind=SourceKind.CAPTURE,
                    occurred_at=NOW,
                    text=f"text of {path.stem}",
                    thumbnail=str(path.relative_to(data_dir)),
                )
            ]
        )
    mine = saved[0].parent / "notes.txt"  # not a picture of ours: never touched
    mine.write_text("mine")

    forgotten: list[str] = []

    def forget(paths: list[Path]) -> None:
        relative = [str(p.relative_to(data_dir)) for p in paths]
        forgotten.extend(relative)
        store.forget_pictures(relative)

    done = pictures.recycle(NOW, forget)

    gone = saved[:4]  # two past 30 days, then the two oldest over the budget
    assert [Path(p).name for p in forgotten] == [p.name for p in gone]
    assert [p.exists() for p in saved] == [p not in gone for p in saved]
    assert done.files == len(gone) and mine.exists()
    rows = {
        r["text"]: r["thumbnail"] for r in store.db.query("SELECT text, thumbnail FROM sources")
    }
    for path in saved:
        assert (rows[f"text of {path.stem}"] is None) == (path in gone)
    assert search_sources(store, saved[0].stem, limit=1)  # the text outlives the picture


def test_tall_regions_are_read_in_overlapping_bands_that_keep_each_line_once() -> None:
    from core.capture.ocr import _bands

    assert _bands(Box(0, 10, 500, 200)) == [(Box(0, 10, 500, 200), (float("-inf"), float("inf")))]
    bands = _bands(Box(0, 0, 1280, 800))
    assert bands[0][0].top == 0 and bands[-1][0].bottom == 800
    assert all(b.bottom - b.top <= 256 for b, _ in bands)
    spans = [keep for _, keep in bands]
    assert spans[0][0] == float("-inf") and spans[-1][1] == float("inf")
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end == start  # every line middle belongs to exactly one band
    for band, (start, end) in bands:  # a kept middle is at least 32 px inside its band
        assert start == float("-inf") or start - band.top >= 32
        assert end == float("inf") or band.bottom - end >= 32


def test_capture_without_a_display_says_why(mnemo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    code, _, err = mnemo("capture", "once")
    assert code == 1 and "Wayland session" in err
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    code, _, err = mnemo("capture", "start")
    assert code == 1 and "DISPLAY is not set" in err


def test_ocr_models_are_freed_after_a_still_spell_and_come_back_on_the_next_read() -> None:
    from PIL import Image, ImageDraw

    from core.capture.ocr import Ocr

    ocr = Ocr()
    image = Image.new("RGB", (360, 60), "white")
    ImageDraw.Draw(image).text((10, 20), "Budget review", fill="black")
    ocr.read(image)
    assert ocr.loaded
    assert not ocr.unload_if_idle(3600)  # read just now: kept
    assert ocr.unload_if_idle(0) and not ocr.loaded
    ocr.read(image)  # loads again when the screen changes
    assert ocr.loaded
