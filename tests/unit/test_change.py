"""Change detection on synthetic screens: still frames are dropped, typed words give a small
region, separate changes separate regions, and keyframes come when due."""

import pytest
from PIL import Image, ImageDraw

from core.capture.change import Box, ChangeDetector

SIZE = (1280, 800)


def screen(*texts: tuple[int, int, str]) -> Image.Image:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SIZE[0], 30), fill=(40, 40, 60))  # a title bar
    draw.text((10, 8), "Editor — notes.md", fill="white")
    for x, y, text in texts:
        draw.text((x, y), text, fill="black")
    return image


def inside(box: Box, x: int, y: int) -> bool:
    return box.left <= x < box.right and box.top <= y < box.bottom


def test_the_first_frame_is_kept_whole_and_a_still_one_is_dropped() -> None:
    detector = ChangeDetector()
    first = detector.check(screen((100, 100, "hello")), at=0)
    assert first.kind == "first" and first.regions == [Box(0, 0, *SIZE)]
    again = detector.check(screen((100, 100, "hello")), at=3)
    assert again.kind == "unchanged" and not again.keep and again.regions == []


def test_typing_changes_a_small_region_around_the_words() -> None:
    detector = ChangeDetector()
    detector.check(screen((100, 400, "The quick")), at=0)
    change = detector.check(screen((100, 400, "The quick brown fox")), at=3)
    assert change.kind == "changed"
    (region,) = change.regions
    assert inside(region, 160, 405)  # where " brown fox" appeared
    assert region.area < 0.02 * SIZE[0] * SIZE[1]
    assert 0 < change.changed_share < 0.01


def test_separate_changes_give_separate_regions() -> None:
    detector = ChangeDetector()
    detector.check(screen(), at=0)
    change = detector.check(screen((50, 100, "top left"), (1000, 700, "bottom right")), at=3)
    assert len(change.regions) == 2
    top, bottom = change.regions
    assert inside(top, 60, 105) and inside(bottom, 1010, 705)


def test_a_keyframe_is_kept_when_due_even_without_change() -> None:
    detector = ChangeDetector(keyframe_s=60)
    detector.check(screen(), at=0)
    assert detector.check(screen(), at=30).kind == "unchanged"
    keyframe = detector.check(screen(), at=61)
    assert keyframe.kind == "keyframe" and keyframe.regions == [Box(0, 0, *SIZE)]
    assert detector.check(screen(), at=62).kind == "unchanged"  # the clock restarts


def test_a_resized_screen_or_a_reset_starts_over() -> None:
    detector = ChangeDetector()
    detector.check(screen(), at=0)
    assert detector.check(Image.new("RGB", (1024, 768), "white"), at=1).kind == "first"
    detector.reset()
    assert detector.check(Image.new("RGB", (1024, 768), "white"), at=2).kind == "first"


def test_tiles_must_fit_the_reduced_grid() -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        ChangeDetector(tile=30)
