"""Screenshots with mss: about 4 ms of this process's CPU for a 1280 × 800 monitor here (the X
server's shared-memory path). A frame that comes back broken is an error with a reason, which
the pipeline logs and skips; it never reaches OCR or the disk."""

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from core.capture.change import Box
from core.errors import MnemoError


class FrameError(MnemoError):
    """A screenshot that could not be taken or read; the frame is skipped."""


@dataclass(frozen=True)
class Monitor:
    number: int  # from 1, as the settings name them
    box: Box  # in screen pixels


class Screen(Protocol):
    def monitors(self) -> list[Monitor]: ...

    def grab(self, monitor: Monitor) -> Image.Image: ...


class MssScreen:
    """mss keeps X resources per thread, so each thread that grabs gets its own instance."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _mss(self) -> Any:
        if getattr(self._local, "mss", None) is None:
            import mss

            try:
                self._local.mss = mss.MSS()
            except mss.ScreenShotError as exc:
                raise FrameError(f"cannot open the screen for capture: {exc}") from exc
        return self._local.mss

    def monitors(self) -> list[Monitor]:
        found = self._mss().monitors[1:]  # [0] is all monitors as one
        return [
            Monitor(n, Box(m["left"], m["top"], m["left"] + m["width"], m["top"] + m["height"]))
            for n, m in enumerate(found, 1)
        ]

    def grab(self, monitor: Monitor) -> Image.Image:
        import mss

        box = monitor.box
        region = {
            "left": box.left,
            "top": box.top,
            "width": box.right - box.left,
            "height": box.bottom - box.top,
        }
        try:
            shot = self._mss().grab(region)
        except mss.ScreenShotError as exc:
            raise FrameError(f"screenshot of monitor {monitor.number} failed: {exc}") from exc
        return frame_image(bytes(shot.bgra), shot.width, shot.height)

    def close(self) -> None:
        shot = getattr(self._local, "mss", None)
        if shot is not None:
            shot.close()
            self._local.mss = None


def frame_image(bgra: bytes, width: int, height: int) -> Image.Image:
    """An RGB image from a raw BGRA screenshot, checked: a short buffer is a broken frame."""
    if width <= 0 or height <= 0:
        raise FrameError(f"empty frame ({width} × {height})")
    if len(bgra) != width * height * 4:
        want = width * height * 4
        raise FrameError(
            f"broken frame: {len(bgra):,} bytes for {width} × {height} (want {want:,})"
        )
    return Image.frombytes("RGB", (width, height), bgra, "raw", "BGRX")
