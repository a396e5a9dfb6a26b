"""Local OCR with RapidOCR (PP-OCR models shipped in its wheel, run by onnxruntime, offline).

Two choices make it cheap enough to run every few seconds:
- Only the changed regions are read, not the whole screen (see change.py).
- Screen text needs no upscaling: RapidOCR's default scales the detector's input so its
  *shorter* side is 736 px, which turns a 1280 × 64 strip into a 14720 × 736 image. Here the
  limit applies to the longer side and is above any screen region, so a region is read at its
  own size. The text-direction classifier is off: screen text is upright.
Lines are recognised one at a time (see `_load`). Measured here on a dense 1280 × 800 screen:
the default full-frame pass 11.6 CPU s, a one-line strip 0.6 CPU s, a 320 × 40 word 0.07 CPU s.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.capture.change import Box
from core.errors import MnemoError
from core.native_memory import give_back

log = logging.getLogger(__name__)

MIN_SIDE = 12  # pixels; a region thinner than a line of text holds none
BAND, OVERLAP = 256, 64  # pixels: tall regions are read in bands (see _bands)


@dataclass(frozen=True)
class TextLine:
    text: str
    box: Box  # in screen pixels
    score: float


class Ocr:
    """Reads text from screen regions. Loads its models on first use; safe to call from one
    worker thread at a time (the pipeline has one OCR worker)."""

    def __init__(self, *, threads: int = 1, min_score: float = 0.5) -> None:
        self.threads = threads
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()
        self._used_at = 0.0

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def unload_if_idle(self, idle_s: float) -> bool:
        """Free the models when nothing was read for `idle_s` seconds (a still screen): they
        hold ~200 MB, and loading them again takes about a second. True if unloaded."""
        with self._lock:
            if self._engine is None or time.monotonic() - self._used_at < idle_s:
                return False
            self._engine = None
        _give_back_memory()
        log.info("OCR models unloaded after %.0f s without reading", idle_s)
        return True

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr import RapidOCR
                except ImportError as exc:
                    raise MnemoError(f"OCR is not installed (rapidocr): {exc}") from exc
                self._engine = RapidOCR(
                    params={
                        "Global.use_cls": False,
                        "Global.log_level": "error",
                        "Global.text_score": self.min_score,
                        "Det.limit_type": "max",
                        "Det.limit_side_len": 4096,
                        "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                        # One line at a time: a batch pads every line to its longest, which
                        # cost 35% more time and 80 MB more memory on a screen of text here.
                        "Rec.rec_batch_num": 1,
                    }
                )
            return self._engine

    def read(self, image: Image.Image, regions: list[Box] | None = None) -> list[TextLine]:
        """The text lines in `regions` of `image` (all of it when None), in screen pixels,
        in reading order."""
        engine = self._load()
        self._used_at = time.monotonic()
        lines: list[TextLine] = []
        for region in regions or [Box(0, 0, image.width, image.height)]:
            if min(region.right - region.left, region.bottom - region.top) < MIN_SIDE:
                continue
            for band, keep in _bands(region):
                for line in self._read_one(engine, image, band):
                    middle = (line.box.top + line.box.bottom) / 2
                    if keep[0] <= middle < keep[1]:
                        lines.append(line)
                _give_back_memory()
        return reading_order(lines)

    def _read_one(self, engine: Any, image: Image.Image, region: Box) -> list[TextLine]:
        result = engine(bgr(image.crop((region.left, region.top, region.right, region.bottom))))
        lines = []
        for points, text, score in zip(
            result.boxes if result.boxes is not None else [],
            result.txts or (),
            result.scores or (),
            strict=False,
        ):
            if text.strip():
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                box = Box(
                    region.left + int(min(xs)),
                    region.top + int(min(ys)),
                    region.left + int(max(xs)) + 1,
                    region.top + int(max(ys)) + 1,
                )
                lines.append(TextLine(text.strip(), box, float(score)))
        return lines


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


def _give_back_memory() -> None:
    """Return the buffers of a read to the system. onnxruntime frees them, but glibc keeps
    freed memory mapped; after reading a full screen the process stayed at ~400 MB instead of
    ~150 MB."""
    give_back()


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
