"""Change detection: is this frame worth keeping, and which parts of it changed?

A screen is mostly still, so most frames must cost almost nothing. Two stages:
1. A hash of a tiny grayscale thumbnail (80 × 50): the same hash as the last kept frame means
   nothing visible changed, and the frame is dropped after one resize.
2. Otherwise a 4×-reduced grayscale image is compared with the last kept one, tile by tile
   (32 × 32 screen pixels). Tiles that differ by more than `threshold` grey levels are grouped
   into rectangles (connected tiles, one tile of margin), which is what OCR reads, instead of the
   whole screen.

After `keyframe_s` without a kept frame one is kept anyway, so a screen that changes too little
to notice (a slowly scrolling page) is still recorded now and then.
"""

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

REDUCE = 4  # the comparison image is 1/4 of the screen's width and height
THUMB = (80, 50)


@dataclass(frozen=True)
class Box:
    """A rectangle in screen pixels; right and bottom are exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def area(self) -> int:
        return (self.right - self.left) * (self.bottom - self.top)

    def overlaps(self, other: "Box") -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )


@dataclass
class Change:
    kind: Literal["first", "unchanged", "changed", "keyframe"]
    regions: list[Box] = field(default_factory=list)
    changed_share: float = 0.0  # of the screen's tiles

    @property
    def keep(self) -> bool:
        return self.kind != "unchanged"


class ChangeDetector:
    def __init__(
        self,
        *,
        tile: int = 32,
        threshold: int = 24,
        keyframe_s: float = 300.0,
    ) -> None:
        if tile % REDUCE:
            raise ValueError(f"tile must be a multiple of {REDUCE}")
        self.tile = tile
        self.threshold = threshold
        self.keyframe_s = keyframe_s
        self._hash: bytes | None = None
        self._gray: np.ndarray | None = None
        self._size: tuple[int, int] | None = None
        self._kept_at = 0.0

    def reset(self) -> None:
        """Forget the last frame: the next one is kept whole (after a pause, a lock, …)."""
        self._hash = self._gray = self._size = None

    def check(self, frame: Image.Image, at: float) -> Change:
        """Compare `frame`, taken at `at` (seconds, any monotonic clock), with the last kept one;
        a frame that is kept becomes the new reference."""
        gray_frame = frame.convert("L")
        digest = hashlib.blake2b(gray_frame.resize(THUMB, Image.Resampling.BOX).tobytes()).digest()
        whole = Box(0, 0, frame.width, frame.height)
        if self._gray is None or self._size != frame.size:
            self._remember(gray_frame, digest, frame.size, at)
            return Change("first", [whole], 1.0)
        due = at - self._kept_at >= self.keyframe_s
        if digest == self._hash and not due:
            return Change("unchanged")
        gray = _reduced(gray_frame)
        regions, share = self._regions(self._gray, gray)
        if not regions and not due:
            self._hash = digest  # a change below the threshold: the next hash check catches up
            return Change("unchanged")
        self._remember(gray_frame, digest, frame.size, at, gray)
        if not regions:
            return Change("keyframe", [whole], 1.0)
        return Change("keyframe" if due else "changed", regions, share)

    def _remember(
        self,
        gray_frame: Image.Image,
        digest: bytes,
        size: tuple[int, int],
        at: float,
        gray: np.ndarray | None = None,
    ) -> None:
        self._gray = _reduced(gray_frame) if gray is None else gray
        self._hash, self._size, self._kept_at = digest, size, at

    def _regions(self, old: np.ndarray, new: np.ndarray) -> tuple[list[Box], float]:
        step = self.tile // REDUCE
        rows, cols = -(-new.shape[0] // step), -(-new.shape[1] // step)
        diff = np.abs(old.astype(np.int16) - new.astype(np.int16))
        padded = np.zeros((rows * step, cols * step), dtype=np.int16)
        padded[: diff.shape[0], : diff.shape[1]] = diff
        tiles = padded.reshape(rows, step, cols, step).max(axis=(1, 3)) > self.threshold
        if not tiles.any():
            return [], 0.0
        height, width = new.shape[0] * REDUCE, new.shape[1] * REDUCE
        boxes = []
        for top, left, bottom, right in _components(tiles):
            boxes.append(
                Box(
                    max(0, (left - 1) * self.tile),
                    max(0, (top - 1) * self.tile),
                    min(width, (right + 1) * self.tile),
                    min(height, (bottom + 1) * self.tile),
                )
            )
        return merge_boxes(boxes), float(tiles.mean())


def _reduced(gray_frame: Image.Image) -> np.ndarray:
    return np.asarray(gray_frame.reduce(REDUCE))


def _components(tiles: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (top, left, bottom, right; exclusive) of 8-connected changed tiles."""
    seen = np.zeros_like(tiles)
    boxes = []
    for start in zip(*np.nonzero(tiles), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        queue = deque([start])
        top, left, bottom, right = start[0], start[1], start[0] + 1, start[1] + 1
        while queue:
            r, c = queue.popleft()
            top, left = min(top, r), min(left, c)
            bottom, right = max(bottom, r + 1), max(right, c + 1)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    if (
                        0 <= nr < tiles.shape[0]
                        and 0 <= nc < tiles.shape[1]
                        and tiles[nr, nc]
                        and not seen[nr, nc]
                    ):
                        seen[nr, nc] = True
                        queue.append((nr, nc))
        boxes.append((int(top), int(left), int(bottom), int(right)))
    return boxes


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Overlapping rectangles (after their margins) as one, so no pixel is read twice."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if a.overlaps(b):
                    merged[i] = Box(
                        min(a.left, b.left),
                        min(a.top, b.top),
                        max(a.right, b.right),
                        max(a.bottom, b.bottom),
                    )
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(merged, key=lambda box: (box.top, box.left))
