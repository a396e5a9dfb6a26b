"""The first stage of capture (see core.capture.pipeline): `Capturer.tick()`, on the
scheduler's thread, reads the desktop, takes each monitor's screenshot, paints over what shows
of the excluded windows (core.capture.masks) and asks the change detector whether the frame is
worth keeping."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from PIL import Image, ImageDraw

from core.capture.change import Box, ChangeDetector
from core.capture.desktop import Desktop, DesktopState, Window
from core.capture.exclusions import Exclusions
from core.capture.frames import CaptureStats, Frame
from core.capture.masks import covered, visible_parts
from core.capture.screen import FrameError, Monitor, Screen
from core.errors import MnemoError
from core.timeutil import now

log = logging.getLogger(__name__)

# Above this share of a monitor painted over, the frame is dropped: what is left is fragments
# around a black hole. The share is of what shows (see _shoot), not of the excluded windows'
# boxes, since a window hidden behind others adds no black to the frame.
MAX_MASKED_SHARE = 0.5


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
        """The monitor's screenshot with what shows of its excluded windows painted over, or
        None when its focused window is excluded or what shows of them is most of the monitor
        (no screenshot is taken), or the shot failed."""
        windows = [_relative(w, monitor.box) for w in state.windows if w.box.overlaps(monitor.box)]
        reasons = {w: self.exclusions.reason(w) for w in windows}
        focused = next((w for w in windows if w.focused), None)
        if focused is not None and reasons[focused]:
            self.stats.excluded += 1
            log.debug("frame excluded: the focused window matches %s", reasons[focused])
            return None
        width, height = monitor.box.right - monitor.box.left, monitor.box.bottom - monitor.box.top
        parts = visible_parts(
            windows,
            [bool(reasons[w]) for w in windows],
            stacked=state.stacked,
            width=width,
            height=height,
        )
        masks = [box for part in parts for box in part]
        if covered(masks, width, height) > MAX_MASKED_SHARE:
            self.stats.excluded += 1
            log.debug("frame excluded: excluded windows show on most of monitor %d", monitor.number)
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
            self.stats.masked += sum(1 for part in parts if part)
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

    def _layout(
        self, state: DesktopState
    ) -> tuple[bool, list[tuple[Box, Box | None, str, bool, bool]]]:
        """What masking depends on: where each window is, in which order, what it hides, which
        has the focus, which are excluded. A title changing (a terminal's clock) does not count
        unless it changes that."""
        windows = [
            (w.box, w.cover, w.app, w.focused, bool(self.exclusions.reason(w)))
            for w in state.windows
        ]
        return state.stacked, windows

    def _fail(self, reason: str) -> None:
        self.stats.failed += 1
        self.stats.last_error = reason
        log.warning("%s", reason)

    def close(self) -> None:
        if self._desktop is not None:
            self._desktop.close()
            self._desktop = None


def _relative(window: Window, monitor: Box) -> Window:
    """The window with its boxes relative to the monitor's top left corner."""
    cover = _shift(window.cover, monitor) if window.cover is not None else None
    return replace(window, box=_shift(window.box, monitor), cover=cover)


def _shift(b: Box, monitor: Box) -> Box:
    return Box(
        b.left - monitor.left, b.top - monitor.top, b.right - monitor.left, b.bottom - monitor.top
    )
