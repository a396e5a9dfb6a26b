"""The capture pipeline on scripted screens and desktops, with real OCR, a real store and real
picture files: what is kept, what is excluded, what is redacted, what a broken frame does."""

import logging
from pathlib import Path

import pytest
from PIL import Image

from core.capture.change import Box
from core.store.memories import MemoryStore
from core.store.source_search import search_sources
from tests.capture_fakes import (
    FakeDesktop,
    FakeScreen,
    FrameError,
    files_containing,
    screen_image,
    service,
    window,
)

CANARY = "ZEBRA-CANARY-5521"
FAKE_KEY = "sk-live-4eC39HqLyjWDarjtT1zdp7dc"


def test_text_on_screen_is_stored_with_its_window_and_found(
    store: MemoryStore, data_dir: Path
) -> None:
    screen = FakeScreen([screen_image({40: "Dentist appointment on Friday at nine"})])
    desktop = FakeDesktop([window("Thunderbird", "Inbox — Thunderbird")])
    (source,) = service(store, data_dir, screen, desktop).once()

    assert "Dentist appointment" in source.text
    assert (source.kind, source.app, source.title) == (
        "capture",
        "Thunderbird",
        "Inbox — Thunderbird",
    )
    assert source.meta["full"] and source.meta["change"] == "first"
    picture = data_dir / source.thumbnail
    assert picture.suffix == ".webp" and Image.open(picture).size == (400, 250)
    hits = search_sources(store, "dentist friday", limit=5)
    assert [h.source.id for h in hits] == [source.id]


def test_a_typed_line_is_read_alone_and_an_unchanged_screen_costs_no_ocr(
    store: MemoryStore, data_dir: Path
) -> None:
    before = {40: "Shopping list for the weekend", 80: "Eggs and flour"}
    after = {**before, 300: "Call the plumber about the leak"}
    screen = FakeScreen([screen_image(before)])
    capture = service(store, data_dir, screen, FakeDesktop([window("gedit", "list.txt")]))
    capture.once()
    read_s = capture.stats.ocr_cpu_s

    screen.frames = [screen_image(before)]
    assert capture.once() == []  # nothing changed: no OCR, nothing stored
    assert capture.stats.unchanged == 1 and capture.stats.ocr_cpu_s == read_s

    screen.frames = [screen_image(after)]
    (typed,) = capture.once()
    assert "plumber" in typed.text and "Shopping" not in typed.text
    assert not typed.meta["full"] and typed.meta["change"] == "changed"


def test_while_the_screen_keeps_changing_it_is_read_once_when_it_settles(
    store: MemoryStore, data_dir: Path
) -> None:
    lines = {40: "Letter to the landlord"}
    screen = FakeScreen([screen_image(lines)])
    capture = service(store, data_dir, screen, FakeDesktop([window("gedit", "letter")]))
    capture.reader.settle_s = 1000
    capture.once()
    ocr_s = capture.stats.ocr_cpu_s

    lines[120] = "The heating has been"
    screen.frames = [screen_image(lines)]
    assert capture.once() == []  # still typing: held, not read
    lines[120] = "The heating has been broken since Monday"
    lines[160] = "Please send someone"
    screen.frames = [screen_image(lines)]
    assert capture.once() == []
    assert capture.stats.deferred == 2 and capture.stats.ocr_cpu_s == ocr_s

    (settled,) = capture.once()  # nothing changed since: the held regions are read
    assert "broken since Monday" in settled.text and "Please send" in settled.text
    assert "Letter to the landlord" not in settled.text
    assert capture.stats.read == 2


def test_an_excluded_focused_window_leaves_nothing_but_a_counter(
    store: MemoryStore, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    screen = FakeScreen([screen_image({40: f"Bank password {CANARY}"})])
    for excluded in (
        window("KeePassXC", f"Passwords {CANARY}.kdbx - KeePassXC"),
        window("firefox", f"{CANARY} — Mozilla Firefox Private Browsing"),
    ):
        capture = service(store, data_dir, screen, FakeDesktop([excluded]))
        assert capture.once() == []
        assert capture.stats.excluded == 1 and capture.stats.frames_seen == 0
    assert screen.grabs == 0  # the screenshot is not even taken
    assert not list((data_dir / "capture").rglob("*.webp"))
    assert files_containing(data_dir, CANARY) == []
    assert CANARY not in caplog.text


def test_an_excluded_window_beside_the_focused_one_is_painted_over(
    store: MemoryStore, data_dir: Path
) -> None:
    image = screen_image({40: "Quarterly report draft"})
    image.paste(screen_image({40: CANARY}, size=(300, 100)), (450, 300))
    vault = window("1Password", "1Password", Box(450, 300, 750, 400), focused=False)
    notes = window("libreoffice", "report.odt", Box(0, 0, 440, 500))
    capture = service(store, data_dir, FakeScreen([image]), FakeDesktop([notes, vault]))
    (source,) = capture.once()

    assert "Quarterly report" in source.text and CANARY not in source.text
    assert capture.stats.masked == 1
    picture = Image.open(data_dir / source.thumbnail).convert("L")
    inside = picture.crop((225, 150, 375, 200))  # the window's box at half size
    assert inside.getextrema()[1] < 40  # black: painted over before the picture was made
    assert files_containing(data_dir, CANARY) == []


def test_a_secret_on_screen_is_redacted_in_the_text_and_painted_over_in_the_picture(
    store: MemoryStore, data_dir: Path
) -> None:
    image = screen_image({40: "Deploy notes for the api", 120: f"API key: {FAKE_KEY}"})
    capture = service(store, data_dir, FakeScreen([image]), FakeDesktop([window("code", "x")]))
    (source,) = capture.once()

    assert "[redacted: api key]" in source.text and FAKE_KEY not in source.text
    assert source.meta["redacted"] == {"api key": 1}
    picture = Image.open(data_dir / source.thumbnail).convert("L")
    line = picture.crop((10, 62, 200, 70))  # the key's line at half size
    assert line.getextrema()[1] < 40
    assert files_containing(data_dir, FAKE_KEY) == []


def test_a_broken_frame_is_skipped_with_its_reason_logged(
    store: MemoryStore, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    desktop = FakeDesktop([window("xterm", "bash")])
    screen = FakeScreen([FrameError("broken frame: 12 bytes for 800 × 500 (want 1,600,000)")])
    capture = service(store, data_dir, screen, desktop)
    assert capture.once() == []
    screen.frames = [Image.new("RGB", (10, 10))]
    assert capture.once() == []

    assert capture.stats.failed == 2 and capture.stats.stored == 0
    assert "broken frame: 12 bytes" in caplog.text
    assert "frame of 10 × 10 from a 800 × 500 monitor" in caplog.text
    assert capture.status()["last_error"].endswith("from a 800 × 500 monitor")

    screen.frames = [screen_image({40: "Back to normal"})]
    (source,) = capture.once()  # the next good frame goes through
    assert "Back to normal" in source.text


def test_a_frame_taken_while_an_excluded_window_appears_is_dropped(
    store: MemoryStore, data_dir: Path
) -> None:
    notes = window("gedit", "notes")
    private = window("firefox", "x — Mozilla Firefox Private Browsing", Box(0, 0, 400, 300))

    class OpeningDesktop(FakeDesktop):
        """The private window opens between the window list and the screenshot."""

        def state(self):  # type: ignore[no-untyped-def]
            current = super().state()
            self.windows = [private, notes]
            return current

    image = screen_image({40: CANARY})
    capture = service(store, data_dir, FakeScreen([image]), OpeningDesktop([notes]))
    assert capture.once() == []
    assert capture.stats.skipped["windows changed"] == 1
    assert files_containing(data_dir, CANARY) == []


def test_a_locked_or_idle_screen_is_not_recorded(store: MemoryStore, data_dir: Path) -> None:
    screen = FakeScreen([screen_image({40: "Private letter"})])
    desktop = FakeDesktop([window("writer", "letter")], locked=True)
    capture = service(store, data_dir, screen, desktop, idle_after_s=60)
    assert capture.once() == []
    desktop.locked, desktop.idle_s = False, 61.0
    assert capture.once() == []
    assert dict(capture.stats.skipped) == {"locked": 1, "idle": 1} and screen.grabs == 0
    desktop.idle_s = 5.0
    assert len(capture.once()) == 1


def test_pictures_are_saved_only_when_due(store: MemoryStore, data_dir: Path) -> None:
    first = screen_image({40: "Chapter one"})
    screen = FakeScreen([first])
    capture = service(
        store, data_dir, screen, FakeDesktop([window("ebook", "Book")]), thumbnail_every_s=3600
    )
    (one,) = capture.once()
    screen.frames = [screen_image({40: "Chapter one", 200: "A small addition"})]
    (two,) = capture.once()

    assert capture.stats.pictures == 1  # a small change an hour early: no new picture
    assert two.thumbnail == one.thumbnail  # it points at the latest picture instead
