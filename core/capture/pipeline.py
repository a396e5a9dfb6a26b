"""The capture pipeline, in two stages on two threads:

1. `Capturer.tick()` (the scheduler's thread, a few ms): reads the desktop (windows, focus, idle,
   lock), takes each monitor's screenshot, applies the exclusions to every visible window (an
   excluded focused window drops the frame; other excluded windows are painted over, frame and
   title bar, before anything else sees the pixels), then asks the change detector whether the
   frame is worth keeping. Kept frames go into a bounded queue.
2. `Reader.read()` (the OCR worker): reads the text of the changed regions, redacts it, saves a
   picture when one is due, and stores a capture source holding the text that is new on the
   screen (all of it after an app switch or at a keyframe).

Nothing of an excluded window is written anywhere, its title included; only counters.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw

from core.capture.change import Box, Change, ChangeDetector, merge_boxes
from core.capture.desktop import Desktop, DesktopState, Window
from core.capture.exclusions import Exclusions
from core.capture.ocr import Ocr, TextLine
from core.capture.pictures import PictureStore
from core.capture.redact import redact
from core.capture.screen import FrameError, Monitor, Screen
from core.errors import MnemoError
from core.memory.models import Source, SourceKind
from core.timeutil import now

log = logging.getLogger(__name__)

MASK_MARGIN = 8  # pixels around an excluded window, for shadows and borders
MAX_MASKED_SHARE = 0.5  # above this share of a monitor painted over, the frame is dropped
BIG_CHANGE = 0.25  # share of the screen: a picture is due


@dataclass
class CaptureStats:
    ticks: int = 0
    frames_seen: int = 0
    unchanged: int = 0
    kept: int = 0
    excluded: int = 0  # frames dropped whole for an exclusion
    masked: int = 0  # excluded windows painted over in kept frames
    skipped: Counter[str] = field(default_factory=Counter)  # locked, idle, no monitors
    failed: int = 0  # broken frames and errors, each logged with its reason
    deferred: int = 0  # frames held while the screen kept changing, read with a later one
    read: int = 0
    stored: int = 0  # capture sources written
    pictures: int = 0
    recycled: int = 0  # pictures deleted by the retention period or the disk budget
    ocr_cpu_s: float = 0.0
    last_error: str = ""

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "skipped"}
        out["skipped"] = dict(self.skipped)
        out["ocr_cpu_s"] = round(self.ocr_cpu_s, 3)
        return out


@dataclass
class Frame:
    """A frame that passed the exclusions and the change detector. Boxes are relative to its
    monitor."""

    image: Image.Image
    monitor: int
    change: Change
    at: datetime
    window: Window | None  # the focused window, or the top-most one on this monitor
    windows: list[Window]
    full: bool  # read and store all of its text: first frame, keyframe, or a new window


def merge_frames(older: list[Frame], newer: list[Frame]) -> list[Frame]:
    """One tick's frames folded into the next's: the newer image shows every region either
    changed, so it is read with both sets of regions."""
    by_monitor = {f.monitor: f for f in older}
    merged = []
    for frame in newer:
        old = by_monitor.pop(frame.monitor, None)
        if old is not None:
            regions = merge_boxes(old.change.regions + frame.change.regions)
            change = replace(frame.change, regions=regions)
            frame = replace(frame, change=change, full=frame.full or old.full)
        merged.append(frame)
    return merged + list(by_monitor.values())


@dataclass
class _Shot:
    """A screenshot taken and masked, before the change detector has seen it."""

    monitor: int
    image: Image.Image
    at: datetime
    clock: float
    focused: Window | None
    visible: list[Window]  # not excluded, top-most first


class Capturer:
    """Takes screenshots and decides what to keep. Used from one thread (X and mss keep
    per-thread state)."""

    def __init__(
        self,
        screen: Screen,
        desktop_factory: Callable[[], Desktop],
        exclusions: Exclusions,
        stats: CaptureStats,
        *,
        monitors: list[int] | None = None,
        keyframe_s: float = 300,
        idle_after_s: float = 300,
    ) -> None:
        self.screen = screen
        self._desktop_factory = desktop_factory
        self._desktop: Desktop | None = None
        self.exclusions = exclusions
        self.stats = stats
        self.monitor_numbers = monitors or []
        self.keyframe_s, self.idle_after_s = keyframe_s, idle_after_s
        self._detectors: dict[int, ChangeDetector] = {}
        self._last_window: dict[int, tuple[str, str] | None] = {}

    def reset(self) -> None:
        """After a pause: the next frame of each monitor is read whole."""
        for detector in self._detectors.values():
            detector.reset()

    def tick(self) -> list[Frame]:
        self.stats.ticks += 1
        try:
            if self._desktop is None:
                self._desktop = self._desktop_factory()
            state = self._desktop.state()
        except MnemoError as exc:
            self._fail(f"cannot read the desktop: {exc}")
            return []
        if state.locked:
            self.stats.skipped["locked"] += 1
            return []
        if self.idle_after_s and state.idle_s is not None and state.idle_s >= self.idle_after_s:
            self.stats.skipped["idle"] += 1
            return []
        try:
            monitors = self.screen.monitors()
        except FrameError as exc:
            self._fail(str(exc))
            return []
        chosen = [
            m for m in monitors if not self.monitor_numbers or m.number in self.monitor_numbers
        ]
        if not chosen:
            self.stats.skipped["no monitors"] += 1
            return []
        shots = [shot for m in chosen if (shot := self._shoot(m, state)) is not None]
        if shots and not self._same_windows(state):
            # A window opened, moved or took the focus while the screenshots were taken: the
            # masks may not cover it. The next tick sees it in place.
            self.stats.skipped["windows changed"] += 1
            return []
        return [frame for shot in shots if (frame := self._keep(shot)) is not None]

    def _shoot(self, monitor: Monitor, state: DesktopState) -> "_Shot | None":
        """The monitor's screenshot with its excluded windows painted over, or None when its
        focused window is excluded (no screenshot is taken) or the shot failed."""
        windows = [_relative(w, monitor.box) for w in state.windows if w.box.overlaps(monitor.box)]
        reasons = {w: self.exclusions.reason(w) for w in windows}
        focused = next((w for w in windows if w.focused), None)
        if focused is not None and reasons[focused]:
            self.stats.excluded += 1
            log.debug("frame excluded: the focused window matches %s", reasons[focused])
            return None
        width, height = monitor.box.right - monitor.box.left, monitor.box.bottom - monitor.box.top
        masks = [_grow(w.box, MASK_MARGIN, width, height) for w in windows if reasons[w]]
        if _covered(masks, width, height) > MAX_MASKED_SHARE:
            self.stats.excluded += 1
            log.debug("frame excluded: excluded windows cover most of monitor %d", monitor.number)
            return None
        at, clock = now(), time.monotonic()
        try:
            image = self.screen.grab(monitor)
            if image.size != (width, height):
                raise FrameError(
                    f"frame of {image.width} × {image.height} from a {width} × {height} monitor"
                )
            # All that follows reads RGB pixels in memory: a frame in another mode is converted
            # here, and one whose pixels cannot be read (a truncated image) is skipped here.
            image = image.convert("RGB") if image.mode != "RGB" else image
            image.load()
        except (FrameError, OSError, ValueError) as exc:
            self._fail(f"frame of monitor {monitor.number} skipped: {exc}")
            return None
        self.stats.frames_seen += 1
        if masks:
            draw = ImageDraw.Draw(image)
            for box in masks:
                draw.rectangle((box.left, box.top, box.right - 1, box.bottom - 1), fill="black")
            self.stats.masked += len(masks)
        visible = [w for w in windows if not reasons[w]]
        return _Shot(monitor.number, image, at, clock, focused, visible)

    def _keep(self, shot: "_Shot") -> Frame | None:
        """The shot as a frame to read, or None when the change detector finds it unchanged."""
        detector = self._detectors.setdefault(
            shot.monitor, ChangeDetector(keyframe_s=self.keyframe_s)
        )
        change = detector.check(shot.image, shot.clock)
        if not change.keep:
            self.stats.unchanged += 1
            return None
        self.stats.kept += 1
        window = shot.focused or (shot.visible[0] if shot.visible else None)
        key = (window.app, window.title) if window else None
        switched = self._last_window.get(shot.monitor, key) != key
        self._last_window[shot.monitor] = key
        return Frame(
            image=shot.image,
            monitor=shot.monitor,
            change=change,
            at=shot.at,
            window=window,
            windows=shot.visible,
            full=change.kind in ("first", "keyframe") or switched,
        )

    def _same_windows(self, before: DesktopState) -> bool:
        try:
            after = self._desktop.state() if self._desktop else before
        except MnemoError:
            return False
        return not after.locked and self._layout(after) == self._layout(before)

    def _layout(self, state: DesktopState) -> list[tuple[Box, str, bool, bool]]:
        """What masking depends on: where each window is, which has the focus, which are
        excluded. A title changing (a terminal's clock) does not count unless it changes that."""
        return [(w.box, w.app, w.focused, bool(self.exclusions.reason(w))) for w in state.windows]

    def _fail(self, reason: str) -> None:
        self.stats.failed += 1
        self.stats.last_error = reason
        log.warning("%s", reason)

    def close(self) -> None:
        if self._desktop is not None:
            self._desktop.close()
            self._desktop = None


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


def _relative(window: Window, monitor: Box) -> Window:
    b = window.box
    box = Box(
        b.left - monitor.left, b.top - monitor.top, b.right - monitor.left, b.bottom - monitor.top
    )
    return replace(window, box=box)


def _grow(box: Box, margin: int, width: int, height: int) -> Box:
    return Box(
        max(0, box.left - margin),
        max(0, box.top - margin),
        min(width, box.right + margin),
        min(height, box.bottom + margin),
    )


def _covered(boxes: list[Box], width: int, height: int) -> float:
    """Share of the monitor under the boxes (overlaps counted once)."""
    if not boxes:
        return 0.0
    import numpy as np

    mask = np.zeros((height, width), dtype=bool)
    for b in boxes:
        mask[max(0, b.top) : b.bottom, max(0, b.left) : b.right] = True
    return float(mask.mean())


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
