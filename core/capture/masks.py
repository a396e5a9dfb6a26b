"""What of an excluded window is painted over: the part of it that shows on the screen.

A window hides the windows below it where it is drawn opaque (`Window.cover`), so an excluded
window left open behind the user's work (Mnemo's own, a password manager) shows, and is painted
over, only where nothing covers it. Nothing counts as covering where that is not known: the
stacking order could not be read (no window manager), or a window above may be see-through
(its `cover` is None); the excluded window is then painted over whole, box and margin. An
excluded window above another excluded one counts as nothing above it either: each is painted
over where it shows, so the two are painted over together wherever either shows.
"""

from collections.abc import Sequence

from core.capture.change import Box
from core.capture.desktop import Window

MASK_MARGIN = 8  # pixels around an excluded window, for shadows and borders


def visible_parts(
    windows: Sequence[Window], excluded: Sequence[bool], *, stacked: bool, width: int, height: int
) -> list[list[Box]]:
    """For each of `windows` (top-most first, boxes relative to a `width` × `height`
    monitor), the rectangles of it to paint over, disjoint: none for a window not excluded or
    hidden entirely, its box grown by MASK_MARGIN less what the windows above it cover when
    `stacked` (the order is the window manager's stacking order)."""
    parts: list[list[Box]] = []
    covers: list[Box] = []  # what the windows seen so far, all above the next one, hide
    for window, out in zip(windows, excluded, strict=True):
        if not out:
            parts.append([])
            if stacked and window.cover is not None:
                covers.append(window.cover)
            continue
        pieces = [grow(window.box, MASK_MARGIN, width, height)]
        for cover in covers:
            pieces = [piece for whole in pieces for piece in subtract(whole, cover)]
        parts.append([p for p in pieces if p.right > p.left and p.bottom > p.top])
    return parts


def subtract(box: Box, hole: Box) -> list[Box]:
    """`box` less `hole`: up to four disjoint rectangles (above, below, left, right of it)."""
    if not box.overlaps(hole):
        return [box]
    out = []
    if hole.top > box.top:
        out.append(Box(box.left, box.top, box.right, hole.top))
    if hole.bottom < box.bottom:
        out.append(Box(box.left, hole.bottom, box.right, box.bottom))
    top, bottom = max(box.top, hole.top), min(box.bottom, hole.bottom)
    if hole.left > box.left:
        out.append(Box(box.left, top, hole.left, bottom))
    if hole.right < box.right:
        out.append(Box(hole.right, top, box.right, bottom))
    return out


def grow(box: Box, margin: int, width: int, height: int) -> Box:
    return Box(
        max(0, box.left - margin),
        max(0, box.top - margin),
        min(width, box.right + margin),
        min(height, box.bottom + margin),
    )


def covered(boxes: list[Box], width: int, height: int) -> float:
    """Share of the monitor under the boxes (overlaps counted once)."""
    if not boxes:
        return 0.0
    import numpy as np

    mask = np.zeros((height, width), dtype=bool)
    for b in boxes:
        mask[max(0, b.top) : b.bottom, max(0, b.left) : b.right] = True
    return float(mask.mean())
