"""OCR reads in a process of its own, at a lower CPU priority: RapidOCR, cv2 and onnxruntime
never load in the app's process (whose GIL the window needs), and the process ends with the
reader however the reader goes."""

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from core.capture.change import Box
from core.capture.ocr import Ocr

pytestmark = pytest.mark.slow


def page(*lines: str) -> Image.Image:
    image = Image.new("RGB", (640, 40 + 40 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 20)
    for n, line in enumerate(lines):
        draw.text((12, 16 + 40 * n), line, fill="black", font=font)
    return image


def ended(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
def ocr():  # type: ignore[no-untyped-def]
    reader = Ocr()
    yield reader
    reader.close()


def test_text_is_read_in_another_process_at_a_lower_priority(ocr: Ocr) -> None:
    image = page("Quarterly budget review", "Call Priya on Thursday")
    lines = ocr.read(image)
    assert [line.text for line in lines] == ["Quarterly budget review", "Call Priya on Thursday"]
    assert lines[0].box.top < lines[1].box.top and lines[0].score > 0.5
    assert ocr.loaded and ocr.pid is not None and ocr.pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, ocr.pid) > os.getpriority(os.PRIO_PROCESS, 0)
    assert ocr.cpu_s > 0  # its CPU time, counted there
    # A region's lines come back in the screen's pixels.
    shifted = Image.new("RGB", (900, 400), "white")
    shifted.paste(image, (200, 150))
    (line,) = ocr.read(shifted, [Box(200, 190, 840, 230)])
    assert line.text == "Call Priya on Thursday"
    assert 200 <= line.box.left < 240 and 190 <= line.box.top < line.box.bottom <= 231


def test_the_app_never_loads_the_ocr_libraries() -> None:
    script = (
        "import sys\n"
        "from PIL import Image, ImageDraw\n"
        "from core.capture.ocr import Ocr\n"
        "image = Image.new('RGB', (300, 60), 'white')\n"
        "ImageDraw.Draw(image).text((10, 20), 'Budget review', fill='black')\n"
        "ocr = Ocr()\n"
        "assert ocr.read(image)\n"
        "ocr.close()\n"
        "print(sorted(m for m in ('rapidocr', 'cv2', 'onnxruntime') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_process_that_died_is_replaced_on_the_next_read(ocr: Ocr) -> None:
    image = page("Budget review")
    ocr.read(image)
    first = ocr.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    ocr._worker.process.wait(30)  # type: ignore[union-attr]
    assert not ocr.loaded
    assert [line.text for line in ocr.read(image)] == ["Budget review"]
    assert ocr.pid not in (None, first)


def test_the_process_ends_with_close_idleness_or_the_reader(ocr: Ocr) -> None:
    image = page("Budget review")
    ocr.read(image)
    pid = ocr.pid
    assert pid is not None
    ocr.close()
    assert ended(pid) and not ocr.loaded and ocr.pid is None
    ocr.read(image)  # starts again
    pid = ocr.pid
    assert not ocr.unload_if_idle(3600) and ocr.unload_if_idle(0)
    assert pid is not None and ended(pid)

    forgotten = Ocr()
    forgotten.read(image)
    pid = forgotten.pid
    del forgotten
    gc.collect()
    assert pid is not None and ended(pid)
