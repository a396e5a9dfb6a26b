"""An excluded window is painted over where it shows, not where other windows hide it: on
scripted screens and desktops, with real OCR, a real store and real picture files. Where what
hides it is unknown (no stacking order, a window above that may be see-through) it is painted
over whole, as before."""

from pathlib import Path

import pytest
from PIL import Image

from core.capture.change import Box
from core.capture.masks import MASK_MARGIN, visible_parts
from core.store.memories import MemoryStore
from tests.capture_fakes import (
    FakeDesktop,
    FakeScreen,
    files_containing,
    screen_image,
    service,
    window,
)

CANARY = "ZEBRA-CANARY-5521"

# 800 × 500 screen: the excluded window at the top left, the user's editor in front of it,
# overlapping its lower right part.
VAULT = Box(0, 0, 500, 300)
EDITOR = Box(200, 100, 800, 500)
HIDDEN_LINE = "Garden shed invoice 2231"  # the editor's, drawn where it hides the vault
OTHER_LINE = "Pay before Friday"  # the editor's, away from the vault


def desk_image() -> Image.Image:
    """What such a screen shows: the vault's canary where the editor leaves it uncovered, the
    editor's two lines over everything else."""
    image = screen_image({40: f"Vault {CANARY}"})
    editor = screen_image({50: HIDDEN_LINE, 300: OTHER_LINE}, size=(600, 400))
    image.paste(editor, (EDITOR.left, EDITOR.top))
    return image


def darkest(picture: Image.Image, box: Box) -> tuple[int, int]:
    """The (min, max) grey level of `box` (screen pixels) in a half-size picture."""
    half = (box.left // 2, box.top // 2, box.right // 2, box.bottom // 2)
    return picture.convert("L").crop(half).getextrema()  # type: ignore[return-value]


@pytest.mark.parametrize(
    "stacked, opaque, whole",
    [
        (True, True, False),  # the editor hides the vault's lower right: only the rest is black
        (False, True, True),  # no stacking order: the vault's whole box is black
        (True, False, True),  # the editor may be see-through: the vault's whole box is black
    ],
    ids=["stacked", "order unknown", "see-through above"],
)
def test_an_excluded_window_behind_another_is_painted_over_only_where_it_shows(
    store: MemoryStore, data_dir: Path, stacked: bool, opaque: bool, whole: bool
) -> None:
    vault = window("KeePassXC", f"Vault {CANARY}", VAULT, focused=False)
    editor = window("gedit", "invoices.txt", EDITOR, opaque=opaque)
    desktop = FakeDesktop([editor, vault], stacked=stacked)
    capture = service(store, data_dir, FakeScreen([desk_image()]), desktop)
    (source,) = capture.once()

    assert OTHER_LINE in source.text and CANARY not in source.text
    assert (HIDDEN_LINE in source.text) is not whole
    assert capture.stats.masked == 1 and capture.stats.excluded == 0
    picture = Image.open(data_dir / source.thumbnail)
    assert darkest(picture, Box(0, 0, 200, 300))[1] < 40  # what shows of the vault: black
    assert darkest(picture, Box(0, 0, 500, 100))[1] < 40
    overlap = darkest(picture, Box(210, 110, 490, 290))  # the editor, over the vault
    assert (overlap[1] < 40) is whole
    assert files_containing(data_dir, CANARY) == []


def test_a_window_hidden_entirely_is_not_painted_over(store: MemoryStore, data_dir: Path) -> None:
    vault = window("KeePassXC", f"Vault {CANARY}", Box(300, 150, 500, 300), focused=False)
    editor = window("gedit", "notes.txt")  # the whole screen, in front
    image = screen_image({40: "Notes for Monday", 200: "Hidden vault lies under this line"})
    capture = service(store, data_dir, FakeScreen([image]), FakeDesktop([editor, vault]))
    (source,) = capture.once()

    assert "Hidden vault lies under this line" in source.text
    assert capture.stats.masked == 0 and capture.stats.excluded == 0
    picture = Image.open(data_dir / source.thumbnail)
    assert darkest(picture, Box(300, 150, 500, 300))[1] > 200  # untouched: white shows
    assert files_containing(data_dir, CANARY) == []


def test_a_hidden_window_does_not_count_toward_dropping_the_frame(
    store: MemoryStore, data_dir: Path
) -> None:
    """Mnemo's own big window left open behind the user's work: before, its whole box counted
    (81 % of the screen) and every frame was dropped; what shows of it is 28 %."""
    mnemo = window("mnemo", "Mnemo", Box(0, 0, 700, 450), focused=False)
    editor = window("gedit", "report.txt", Box(150, 80, 800, 500))
    image = screen_image({20: f"Mnemo {CANARY}"})
    image.paste(screen_image({60: "Quarterly report draft"}, size=(650, 420)), (150, 80))
    desktop = FakeDesktop([editor, mnemo])
    capture = service(store, data_dir, FakeScreen([image]), desktop)
    (source,) = capture.once()
    assert "Quarterly report draft" in source.text and CANARY not in source.text

    desktop.stacked = False  # the same screen where what hides what is unknown: dropped
    capture = service(store, data_dir, FakeScreen([image]), desktop)
    assert capture.once() == [] and capture.stats.excluded == 1
    assert files_containing(data_dir, CANARY) == []


def test_an_excluded_window_above_another_hides_nothing_of_it(
    store: MemoryStore, data_dir: Path
) -> None:
    title = "Bank — Mozilla Firefox Private Browsing"
    private = window("firefox", title, Box(100, 50, 400, 250), focused=False)
    vault = window("KeePassXC", "Vault", Box(0, 0, 500, 300), focused=False)
    editor = window("gedit", "invoices.txt", EDITOR)
    order = [editor, private, vault]  # top-most first

    parts = visible_parts(order, [False, True, True], stacked=True, width=800, height=500)
    assert parts[0] == []
    under_private = Box(150, 60, 190, 90)  # inside the private window, outside the editor
    assert any(_contains(part, under_private) for part in parts[2])  # the vault's, too
    assert not any(p.overlaps(EDITOR) for part in parts for p in part)

    image = screen_image({70: f"Private {CANARY}", 250: f"Vault {CANARY}"})
    image.paste(screen_image({50: HIDDEN_LINE, 300: OTHER_LINE}, size=(600, 400)), (200, 100))
    capture = service(store, data_dir, FakeScreen([image]), FakeDesktop(order))
    (source,) = capture.once()
    assert HIDDEN_LINE in source.text and CANARY not in source.text
    assert capture.stats.masked == 2
    picture = Image.open(data_dir / source.thumbnail)
    assert darkest(picture, Box(0, 0, 500, 100))[1] < 40
    assert darkest(picture, Box(0, 0, 200, 300))[1] < 40
    assert files_containing(data_dir, CANARY) == []


def test_painted_parts_are_the_grown_box_less_what_covers_it_and_never_outside() -> None:
    vault = window("KeePassXC", "Vault", Box(100, 100, 300, 200), focused=False)
    left = window("gedit", "a", Box(0, 0, 200, 500))
    below = window("gedit", "b", Box(0, 400, 800, 500))  # below the vault: hides nothing of it
    (_, parts, _) = visible_parts(
        [left, vault, below], [False, True, False], stacked=True, width=800, height=500
    )
    grown = Box(100 - MASK_MARGIN, 100 - MASK_MARGIN, 300 + MASK_MARGIN, 200 + MASK_MARGIN)
    assert parts == [Box(200, grown.top, grown.right, grown.bottom)]
    (_, whole, _) = visible_parts(
        [left, vault, below], [False, True, False], stacked=False, width=800, height=500
    )
    assert whole == [grown]


def _contains(outer: Box, inner: Box) -> bool:
    return (
        outer.left <= inner.left
        and outer.top <= inner.top
        and inner.right <= outer.right
        and inner.bottom <= outer.bottom
    )
