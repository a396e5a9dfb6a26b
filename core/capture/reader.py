"""The second stage of capture (see core.capture.pipeline): `Reader.read()`, on the OCR
worker, reads the text of a kept frame's changed regions, redacts it, saves a picture when one
is due, and stores a capture source holding the text that is new on the screen."""

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PIL import ImageDraw

from core.capture.change import Box, merge_boxes
from core.capture.frames import CaptureStats, Frame
from core.capture.ocr import Ocr, TextLine
from core.capture.pictures import PictureStore
from core.capture.redact import redact
from core.memory.models import Source, SourceKind

log = logging.getLogger(__name__)

BIG_CHANGE = 0.25  # share of the screen: a picture is due


class ScreenText:
    """The text lines known to be on one monitor, kept up to date region by region, so a frame
    where one line changed costs the OCR of that line and still knows the whole screen."""

    def __init__(self) -> None:
        self.lines: list[TextLine] = []

    def update(self, regions: list[Box], read: list[TextLine], *, full: bool) -> list[TextLine]:
        """Replace the lines inside `regions` by those just `read`; returns the lines that were
        not on the screen before (all of them when `full`)."""
        before = {line.text for line in self.lines}
        kept = [line for line in self.lines if not any(_within(line.box, r) for r in regions)]
        self.lines = sorted(kept + read, key=lambda line: (line.box.top, line.box.left))
        if full:
            return list(self.lines)
        return [line for line in read if line.text not in before]


class Reader:
    """Reads kept frames and stores what they hold. One worker thread calls `read`."""

    def __init__(
        self,
        store,  # core.store.memories.MemoryStore: typed loosely to keep capture importable alone
        pictures: PictureStore,
        stats: CaptureStats,
        *,
        data_dir: Path,
        ocr: Ocr | None,
        picture_every_s: float = 60,
        settle_s: float = 0,
        on_source: Callable[[Source], None] | None = None,
    ) -> None:
        self.store = store
        self.pictures = pictures
        self.stats = stats
        self.data_dir = data_dir
        self.ocr = ocr
        self.picture_every_s = picture_every_s
        self.settle_s = settle_s
        self._pending: dict[int, tuple[float, Frame]] = {}
        self.on_source = on_source
        self._text: dict[int, ScreenText] = {}
        self._last_picture: dict[int, tuple[float, str]] = {}

    def read(self, frame: Frame) -> Source | None:
        """Read a kept frame now, or later: a frame where only part of the screen changed is
        held while the screen keeps changing (typing, scrolling), for up to `settle_s`, and
        read once it settles (see `settle`), with every region that changed meanwhile. The
        words of a line being typed are read once, not at every stage of the line. A new
        window, a keyframe or the first frame is read at once."""
        pending = self._pending.pop(frame.monitor, None)
        if pending is not None:
            started, older = pending
            regions = merge_boxes(older.change.regions + frame.change.regions)
            frame = replace(frame, change=replace(frame.change, regions=regions))
        else:
            started = time.monotonic()
        if not frame.full and time.monotonic() - started < self.settle_s:
            self._pending[frame.monitor] = (started, frame)
            self.stats.deferred += 1
            return None
        return self._read_now(frame)

    @property
    def unsettled(self) -> bool:
        return bool(self._pending)

    def settle(self) -> list[Source]:
        """Read the held frames: the screen stopped changing (or capture is stopping)."""
        stored = []
        for monitor in list(self._pending):
            _, frame = self._pending.pop(monitor)
            source = self._read_now(frame)
            if source is not None:
                stored.append(source)
        return stored

    def _read_now(self, frame: Frame) -> Source | None:
        """OCR, redact, picture, store; the stored source, or None when the frame held nothing
        new (a blinking cursor)."""
        screen = self._text.setdefault(frame.monitor, ScreenText())
        regions = merge_boxes([_widen(r, frame) for r in frame.change.regions])
        new_lines: list[TextLine] = []
        if self.ocr is not None:
            started = time.process_time()
            read = [
                line
                for line in self.ocr.read(frame.image, regions)
                if not _cut_off(line.box, regions, frame.image.height)
            ]
            self.stats.ocr_cpu_s += time.process_time() - started
            new_lines = screen.update(regions, read, full=frame.full)
        self.stats.read += 1
        text = redact("\n".join(line.text for line in new_lines))
        last_picture = self._last_picture.get(frame.monitor)
        picture = self._picture(frame, screen)
        if not text.text.strip() and picture is None:
            return None
        window = frame.window
        title = redact(window.title).text if window and window.title else None
        url = redact(window.url).text if window and window.url else None
        meta: dict[str, object] = {
            "monitor": frame.monitor,
            "change": frame.change.kind,
            "changed_share": round(frame.change.changed_share, 3),
            "regions": len(regions),
            "full": frame.full,
        }
        if text.found:
            meta["redacted"] = dict(text.found)
        source = Source(
            kind=SourceKind.CAPTURE,
            occurred_at=frame.at,
            text=text.text,
            app=window.app if window else None,
            title=title,
            url=url,
            thumbnail=picture or self._last_picture.get(frame.monitor, (0.0, None))[1],
            meta=meta,
        )
        try:
            (stored,) = self.store.add_sources([source], embed=False)
        except BaseException:
            # Not stored (a full disk): the picture goes too, as no source points at it.
            if picture is not None:
                (self.data_dir / picture).unlink(missing_ok=True)
                self.stats.pictures -= 1
                if last_picture is None:
                    self._last_picture.pop(frame.monitor, None)
                else:
                    self._last_picture[frame.monitor] = last_picture
            raise
        self.stats.stored += 1
        if self.on_source is not None:
            self.on_source(stored)
        return stored

    def _picture(self, frame: Frame, screen: ScreenText) -> str | None:
        """Save a picture when due: a new window, a keyframe, a big change, or none for a
        while. Lines whose text held a secret are painted over first."""
        last_at, _ = self._last_picture.get(frame.monitor, (float("-inf"), ""))
        clock = time.monotonic()
        due = (
            frame.full
            or frame.change.changed_share >= BIG_CHANGE
            or clock - last_at >= self.picture_every_s
        )
        if not due:
            return None
        image = frame.image
        secret_boxes = [line.box for line in screen.lines if redact(line.text).found]
        if secret_boxes:
            image = image.copy()
            draw = ImageDraw.Draw(image)
            for box in secret_boxes:
                draw.rectangle((box.left, box.top, box.right - 1, box.bottom - 1), fill="black")
        path = self.pictures.save(image, frame.at, f"m{frame.monitor}")
        relative = str(path.relative_to(self.data_dir))
        self._last_picture[frame.monitor] = (clock, relative)
        self.stats.pictures += 1
        return relative


def _within(line: Box, region: Box) -> bool:
    """A known line is replaced by a region's reading when the region spans its height."""
    return (
        line.top >= region.top - 1
        and line.bottom <= region.bottom + 1
        and line.left < region.right
        and region.left < line.right
    )


def _inside(line: Box, region: Box) -> bool:
    """A line belongs to a region when its middle lies in it."""
    x, y = (line.left + line.right) / 2, (line.top + line.bottom) / 2
    return region.left <= x < region.right and region.top <= y < region.bottom


def _widen(region: Box, frame: Frame) -> Box:
    """A changed region spans the width of the window it lies in (the whole monitor when none):
    a typed word is read with the rest of its line, not as a fragment."""
    x, y = (region.left + region.right) / 2, (region.top + region.bottom) / 2
    for window in frame.windows:  # top-most first
        b = window.box
        if b.left <= x < b.right and b.top <= y < b.bottom:
            return Box(
                max(0, min(b.left, region.left)),
                region.top,
                min(frame.image.width, max(b.right, region.right)),
                region.bottom,
            )
    return Box(0, region.top, frame.image.width, region.bottom)


def _cut_off(line: Box, regions: list[Box], height: int) -> bool:
    """A line touching its region's top or bottom edge (not the screen's) was cut in half by
    it; the whole line is outside what changed and already known."""
    for region in regions:
        if _inside(line, region):
            top_cut = region.top > 0 and line.top <= region.top + 1
            bottom_cut = region.bottom < height and line.bottom >= region.bottom - 1
            return top_cut or bottom_cut
    return False
