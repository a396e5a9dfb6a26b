"""Scripted stand-ins for the screen and the desktop, so the capture pipeline's logic runs
without an X server. Frames are real images with real text drawn on them; OCR is real."""

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from core.capture.change import Box
from core.capture.desktop import DesktopState, Window
from core.capture.screen import FrameError, Monitor
from core.capture.service import CaptureService
from core.settings import CaptureSettings
from core.store.memories import MemoryStore

SIZE = (800, 500)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def screen_image(
    lines: dict[int, str], size: tuple[int, int] = SIZE, *, left: int = 20
) -> Image.Image:
    """A white screen with each text drawn at its y position (and `left`), in a 18 px font."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype(FONT, 18)
    except OSError:
        font = ImageFont.load_default(18)
    for y, text in lines.items():
        draw.text((left, y), text, fill="black", font=font)
    return image


@dataclass
class FakeScreen:
    frames: list[Image.Image | Exception] = field(default_factory=list)
    size: tuple[int, int] = SIZE
    grabs: int = 0

    def monitors(self) -> list[Monitor]:
        return [Monitor(1, Box(0, 0, *self.size))]

    def grab(self, monitor: Monitor) -> Image.Image:
        self.grabs += 1
        frame = self.frames.pop(0) if len(self.frames) > 1 else self.frames[0]
        if isinstance(frame, Exception):
            raise frame
        return frame.copy()


@dataclass
class FakeDesktop:
    """A desktop under a window manager: `windows` (top-most first) are in its stacking order
    unless `stacked` is False."""

    windows: list[Window] = field(default_factory=list)
    idle_s: float | None = 0.0
    locked: bool = False
    stacked: bool = True

    def state(self) -> DesktopState:
        return DesktopState(
            windows=list(self.windows), idle_s=self.idle_s, locked=self.locked, stacked=self.stacked
        )

    def close(self) -> None:
        pass


WHOLE = Box(0, 0, *SIZE)


def window(
    app: str, title: str, box: Box = WHOLE, *, focused: bool = True, opaque: bool = True
) -> Window:
    """A window that hides what is below it, all of its box, unless it is not `opaque`."""
    return Window(
        app=app, title=title, box=box, pid=1, focused=focused, cover=box if opaque else None
    )


def service(
    store: MemoryStore, data_dir: Path, screen: FakeScreen, desktop: FakeDesktop, **kw: object
) -> CaptureService:
    """A capture service on the fakes, with real OCR and pictures, saving a picture with every
    frame and reading each at once."""
    settings = CaptureSettings(**{"thumbnail_every_s": 0, "ocr_settle_s": 0, **kw})
    return CaptureService(store, data_dir, settings, screen=screen, desktop_factory=lambda: desktop)


def files_containing(folder: Path, needle: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


__all__ = [
    "FakeDesktop",
    "FakeScreen",
    "FrameError",
    "files_containing",
    "screen_image",
    "service",
    "window",
]
