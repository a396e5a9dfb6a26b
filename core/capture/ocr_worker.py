"""The OCR process: RapidOCR behind a pipe, reading the regions core.capture.ocr.Ocr sends.

    python -m core.capture.ocr_worker THREADS MIN_SCORE

Each request on stdin is a region of the screen as RGB bytes; each answer on stdout is its
text lines, with boxes in the region's pixels, and the CPU seconds the read took. Messages are
length-prefixed pickles between this module's two ends (the app and the process it started).
The process runs at a lower CPU priority than the app, and ends when its stdin closes.
"""

import contextlib
import os
import pickle
import struct
import sys
import time
from typing import IO, Any

NICE = 10  # below the app: reading the screen waits for a free core, the window never does
_LENGTH = struct.Struct("<Q")


def send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other end has gone."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other end closed the pipe")
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other end closed the pipe mid-message")
    return pickle.loads(data)


def engine(threads: int, min_score: float) -> Any:
    from rapidocr import RapidOCR

    return RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.log_level": "error",
            "Global.text_score": min_score,
            "Det.limit_type": "max",
            "Det.limit_side_len": 4096,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # One line at a time: a batch pads every line to its longest, which cost 35%
            # more time and 80 MB more memory on a screen of text here.
            "Rec.rec_batch_num": 1,
        }
    )


def read_region(ocr: Any, width: int, height: int, rgb: bytes) -> list[tuple]:
    """(text, (left, top, right, bottom), score) of each line in the region, in its pixels."""
    import numpy as np

    from core.capture.change import Box
    from core.capture.ocr import _bands
    from core.native_memory import give_back

    pixels = np.frombuffer(rgb, dtype=np.uint8).reshape(height, width, 3)
    lines = []
    for band, keep in _bands(Box(0, 0, width, height)):
        # RapidOCR takes OpenCV's BGR order.
        part = np.ascontiguousarray(pixels[band.top : band.bottom, band.left : band.right, ::-1])
        result = ocr(part)
        for points, text, score in zip(
            result.boxes if result.boxes is not None else [],
            result.txts or (),
            result.scores or (),
            strict=False,
        ):
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            top, bottom = band.top + int(min(ys)), band.top + int(max(ys)) + 1
            if text.strip() and keep[0] <= (top + bottom) / 2 < keep[1]:
                box = (int(min(xs)), top, int(max(xs)) + 1, bottom)
                lines.append((text.strip(), box, float(score)))
        # onnxruntime frees a read's buffers, but glibc keeps freed memory mapped: after a
        # full screen the process stayed at ~400 MB instead of ~150 MB.
        give_back()
    return lines


def main(argv: list[str]) -> int:
    threads, min_score = int(argv[0]), float(argv[1])
    # The pipe is stdout's file: anything a library prints goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    with contextlib.suppress(OSError):
        os.nice(NICE)
    try:
        ocr, failure = engine(threads, min_score), None
    except ImportError as exc:
        ocr, failure = None, f"OCR is not installed (rapidocr): {exc}"
    while True:
        try:
            width, height, rgb = receive(requests)
        except EOFError:
            return 0
        if failure is not None:
            send(replies, ("error", failure))
            continue
        started = time.process_time()
        try:
            lines = read_region(ocr, width, height, rgb)
        except Exception as exc:  # one bad region: said, and the next one is read
            send(replies, ("error", f"OCR failed: {exc}"))
            continue
        send(replies, ("lines", lines, time.process_time() - started))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
