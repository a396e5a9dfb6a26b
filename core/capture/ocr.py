"""Local OCR with RapidOCR (PP-OCR models shipped in its wheel, run by onnxruntime, offline),
in a process of its own (core.capture.ocr_worker).

Two choices make it cheap enough to run every few seconds:
- Only the changed regions are read, not the whole screen (see change.py).
- Screen text needs no upscaling: RapidOCR's default scales the detector's input so its
  *shorter* side is 736 px, which turns a 1280 × 64 strip into a 14720 × 736 image. Here the
  limit applies to the longer side and is above any screen region, so a region is read at its
  own size. The text-direction classifier is off: screen text is upright.
Lines are recognised one at a time (see ocr_worker.engine). Measured here on a dense 1280 × 800
screen: the default full-frame pass 11.6 CPU s, a one-line strip 0.6 CPU s, a 320 × 40 word
0.07 CPU s.

Why a process: in the app's, OCR took the window's time. Its import is ~1.6 s of Python (its
85 KB model list read twice through OmegaConf) and loads cv2 and onnxruntime, whose
initialisation holds the GIL for tens of milliseconds; every read runs Python and numpy around
each onnxruntime call. The window's thread, which needs the GIL for every Python slot, waited
behind it (bench.gui's stalls while capture started). A process of its own has its own GIL,
runs at a lower CPU priority (ocr_worker.NICE: a thread cannot be given one, as a thread
descheduled while holding the GIL froze the window), and gives all its memory back when it
ends (unload_if_idle, close).
"""

import contextlib
import logging
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass
from typing import IO

import numpy as np
from PIL import Image

from core.capture import ocr_worker
from core.capture.change import Box
from core.child import module_command
from core.errors import MnemoError

log = logging.getLogger(__name__)

MIN_SIDE = 12  # pixels; a region thinner than a line of text holds none
BAND, OVERLAP = 256, 64  # pixels: tall regions are read in bands (see _bands)
STOP_WAIT_S = 5  # for the OCR process to end once told to


@dataclass(frozen=True)
class TextLine:
    text: str
    box: Box  # in screen pixels
    score: float


class Ocr:
    """Reads text from screen regions, in the OCR process, which starts on the first read.
    Safe to call from one worker thread at a time (the pipeline has one OCR worker)."""

    def __init__(self, *, threads: int = 1, min_score: float = 0.5) -> None:
        self.threads = threads
        self.min_score = min_score
        self.cpu_s = 0.0  # CPU seconds the OCR process spent reading (not this process's)
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self._used_at = 0.0

    @property
    def loaded(self) -> bool:
        worker = self._worker
        return worker is not None and worker.alive

    @property
    def pid(self) -> int | None:
        """The OCR process's id while it runs."""
        worker = self._worker
        return worker.process.pid if worker is not None and worker.alive else None

    def unload_if_idle(self, idle_s: float) -> bool:
        """End the OCR process when nothing was read for `idle_s` seconds (a still screen):
        it holds ~200 MB, and starting again takes about two seconds. True if ended."""
        with self._lock:
            if self._worker is None or time.monotonic() - self._used_at < idle_s:
                return False
            worker, self._worker = self._worker, None
        worker.stop()
        log.info("OCR process ended after %.0f s without reading", idle_s)
        return True

    def close(self) -> None:
        """End the OCR process now (capture stops); a later read starts it again."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def read(self, image: Image.Image, regions: list[Box] | None = None) -> list[TextLine]:
        """The text lines in `regions` of `image` (all of it when None), in screen pixels,
        in reading order."""
        lines: list[TextLine] = []
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = _Worker(self.threads, self.min_score)
            worker = self._worker
            self._used_at = time.monotonic()
            for region in regions or [Box(0, 0, image.width, image.height)]:
                if min(region.right - region.left, region.bottom - region.top) < MIN_SIDE:
                    continue
                part = image.crop((region.left, region.top, region.right, region.bottom))
                try:
                    found, cpu_s = worker.read(part)
                except EOFError:
                    self._worker = None
                    raise MnemoError(
                        f"the OCR process ended while reading (exit code {worker.stop()})"
                    ) from None
                self.cpu_s += cpu_s
                for text, (left, top, right, bottom), score in found:
                    box = Box(
                        region.left + left, region.top + top, region.left + right,
                        region.top + bottom,
                    )  # fmt: skip
                    lines.append(TextLine(text, box, score))
        return reading_order(lines)


class _Worker:
    """The OCR process and the two ends of its pipe."""

    def __init__(self, threads: int, min_score: float) -> None:
        self.process = subprocess.Popen(
            module_command(ocr_worker.__name__, str(threads), str(min_score)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        # However this process ends or forgets it, the OCR process ends too.
        self._finalizer = weakref.finalize(self, _end, self.process)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def read(self, image: Image.Image) -> tuple[list[tuple], float]:
        """The lines of one region (in its pixels) and the CPU seconds they took; EOFError
        when the process has ended."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            ocr_worker.send(self.process.stdin, (rgb.width, rgb.height, rgb.tobytes()))
        except (BrokenPipeError, OSError):
            raise EOFError("the OCR process is gone") from None
        reply = ocr_worker.receive(self.process.stdout)
        if reply[0] == "error":
            raise MnemoError(reply[1])
        return reply[1], reply[2]

    def stop(self) -> int | None:
        """End the process (its stdin closed, then killed if it lingers); its exit code."""
        self._finalizer.detach()
        return _end(self.process)


def _end(process: "subprocess.Popen[bytes]") -> int | None:
    pipes: list[IO[bytes] | None] = [process.stdin, process.stdout]
    for pipe in pipes:
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    try:
        return process.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _bands(region: Box) -> list[tuple[Box, tuple[float, float]]]:
    """A tall region as overlapping horizontal bands, each with the span of line middles it
    keeps, so every line is read whole in exactly one band. The detector's memory grows with
    the area it sees: a whole 1280 × 800 screen at once peaked at ~600 MB here."""
    height = region.bottom - region.top
    if height <= BAND:
        return [(region, (float("-inf"), float("inf")))]
    step = BAND - OVERLAP
    bands = []
    top = region.top
    while True:
        bottom = min(top + BAND, region.bottom)
        first, last = top == region.top, bottom == region.bottom
        keep_from = float("-inf") if first else top + OVERLAP / 2
        keep_to = float("inf") if last else bottom - OVERLAP / 2
        bands.append((Box(region.left, top, region.right, bottom), (keep_from, keep_to)))
        if last:
            return bands
        top += step


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom, then left to right, with lines whose middles are within half a line's
    height counted as one row."""
    ordered = sorted(lines, key=lambda line: (line.box.top + line.box.bottom) / 2)
    rows: list[list[TextLine]] = []
    for line in ordered:
        middle = (line.box.top + line.box.bottom) / 2
        if rows:
            last = rows[-1][0].box
            if abs(middle - (last.top + last.bottom) / 2) <= (last.bottom - last.top) / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box.left)]


def bgr(image: Image.Image) -> np.ndarray:
    """RapidOCR takes arrays in OpenCV's BGR order."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
