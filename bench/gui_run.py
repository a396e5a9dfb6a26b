"""The app as bench.gui runs it: the real MnemoApp, instrumented, driven by a script.

    python -m bench.gui_run DATA_DIR LOCOMO_JSON      (MNEMO_BENCH_T0: the parent's clock)

Prints one JSON line of figures when done. Not meant to be run by hand.
"""

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

T0 = float(os.environ.get("MNEMO_BENCH_T0", time.time()))
HEARTBEAT_MS = 10
LONG_S = 0.05  # stalls longer than this are listed with when they began
REST_S = 75  # after the chat and the ingestion: capture on, someone typing in the notes
STOP_AFTER_MS = 300  # after the second question: its search is under way (~1 s here)
MODEL_FILES = (".gguf", ".onnx", ".safetensors", ".bin")


class FirstPaint(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if self.at is None and event.type() == QEvent.Type.Paint:
            self.at = time.time()
        return False


def sched_ms() -> tuple[float, float]:
    """The calling thread's time on a CPU and waiting for one (ready to run, but every core
    busy), in ms, from Linux's schedstat; zeros where there is none."""
    try:
        ran, waited, _slices = Path("/proc/thread-self/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e6, int(waited) / 1e6


class Heartbeat:
    """A 10 ms timer on the GUI thread; the longest gap between two ticks is the longest
    time the GUI thread could not run (a freeze a user would feel). Each stall over LONG_S
    is listed as [s since start, ms, ms on a CPU, ms waiting for a CPU]: the GUI thread busy,
    the machine's cores busy, or (the rest) the thread blocked, mostly waiting for the GIL."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0
        self.ticks = 0
        self.started = 0.0
        self.sched = (0.0, 0.0)
        self.long: list[tuple[float, ...]] = []

    def start(self) -> None:
        self.last = self.started = time.perf_counter()
        self.sched = sched_ms()
        self.timer.start()

    def reset(self) -> None:
        """Forget the worst gap so far, and a gap under way (work done on purpose)."""
        self.worst, self.last = 0.0, time.perf_counter()
        self.sched = sched_ms()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        sched = sched_ms()
        if now - self.last > LONG_S:
            ran, waited = (round(b - a) for a, b in zip(self.sched, sched, strict=True))
            gap = round((now - self.last) * 1e3)
            self.long.append((round(self.last - self.started, 2), gap, ran, waited))
        self.worst = max(self.worst, now - self.last)
        self.last, self.sched = now, sched
        self.ticks += 1


class GcPauses:
    """How long each of Python's garbage collections held the GIL (and so, whichever thread
    ran it, the window): a diagnosis beside the heartbeat's stalls."""

    def __init__(self) -> None:
        self.times: list[tuple[int, float]] = []  # (generation, seconds)
        self._named: list[tuple[int, float, str]] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.times, self._named = [], []

    def worst(self) -> float:
        return max((took for _gen, took in self.times), default=0.0)

    def full(self) -> int:
        """How many collections were of the oldest generation."""
        return sum(1 for gen, _took in self.times if gen == 2)

    def long(self, over_s: float = 0.02) -> list[tuple[int, float, str]]:
        """(generation, ms, thread) of the collections longer than `over_s`."""
        return [(gen, round(took * 1e3), name) for gen, took, name in self._named if took > over_s]

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.times.append((info["generation"], took))
            self._named.append((info["generation"], took, threading.current_thread().name))


def rss_mb(pid: int | str = "self") -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # ended meanwhile
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def helpers() -> list[int]:
    """The processes this one started and that still run (the OCR process)."""
    found: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            found += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def total_rss_mb() -> float:
    """The app's resident memory and its helper processes' (OCR reads in one of its own)."""
    return rss_mb() + sum(rss_mb(pid) for pid in helpers())


def rss_parts() -> dict[str, int]:
    """Where the resident memory is, in MB, from /proc/self/smaps: mapped model files,
    onnxruntime, llama.cpp (ggml), Qt, Python and other libraries, and anonymous memory
    (heaps, malloc arenas, onnxruntime's and llama.cpp's buffers, Python objects)."""
    parts: dict[str, float] = {}
    name = "anonymous"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:  # a mapping's header
            path = head[5] if len(head) == 6 else ""
            name = _part(path)
        elif line.startswith("Rss:"):
            parts[name] = parts.get(name, 0) + int(line.split()[1]) / 1024
    return {k: round(v) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])}


def _part(path: str) -> str:
    low = path.lower()
    if not path or path.startswith("["):
        return "anonymous"
    if low.endswith(MODEL_FILES):
        return "model files"
    for key, part in (
        ("onnxruntime", "onnxruntime"),
        ("llama", "llama.cpp"),
        ("ggml", "llama.cpp"),
        ("pyside6", "Qt"),
        ("libqt", "Qt"),
        ("lance", "LanceDB/pyarrow"),
        ("arrow", "LanceDB/pyarrow"),
        ("spacy", "spaCy"),
        ("thinc", "spaCy"),
        ("cv2", "OpenCV"),
        ("opencv", "OpenCV"),
        ("numpy", "numpy/scipy"),
        ("scipy", "numpy/scipy"),
    ):
        if key in low:
            return part
    return "other libraries"


def main() -> None:
    folder, talk = Path(sys.argv[1]), Path(sys.argv[2])
    from core.native_memory import limit_arenas

    limit_arenas()  # first, as app.gui.main.main does
    # The entry point's own imports count towards start-up, as when `mnemo` is run.
    __import__("app.cli")
    from app.gui.main import GIL_SWITCH_S

    sys.setswitchinterval(GIL_SWITCH_S)
    qt = QApplication(sys.argv[:1])
    qt.setQuitOnLastWindowClosed(False)

    from app.gui import tasks
    from app.gui.main import MnemoApp
    from app.gui.style import apply_style
    from bench.display import activate_window

    apply_style(qt)
    painted = FirstPaint()
    mnemo = MnemoApp(folder)
    mnemo.window.move(0, 0)  # the notes window is beside it (bench.gui)
    mnemo.window.installEventFilter(painted)
    chat = mnemo.window.chat
    heartbeat = Heartbeat()
    pauses = GcPauses()
    figures: dict[str, Any] = {}
    state: dict[str, Any] = {"ingested": False, "question": 0}

    def finish() -> None:
        heartbeat.stop()
        figures["max_gui_stall_ms"] = round(heartbeat.worst * 1000, 1)
        figures["heartbeats"] = heartbeat.ticks
        figures["gui_stalls_over_50_ms"] = heartbeat.long  # [s after capture began, ms, …]
        figures["gc_max_pause_ms"] = round(pauses.worst() * 1000, 1)
        figures["gc_full_collections"] = pauses.full()
        figures["gc_pauses_over_20_ms"] = pauses.long()  # [generation, ms, thread]
        QTimer.singleShot(REST_S * 1000, rest)

    def rest() -> None:
        from agents import entities
        from core.native_memory import malloc_mb

        figures["rss_mb_steady"] = round(total_rss_mb())
        figures["rss_mb_app_process"] = round(rss_mb())
        figures["rss_mb_helper_processes"] = [round(rss_mb(pid)) for pid in helpers()]
        figures["rss_mb_by_part"] = rss_parts()  # of the app's process
        figures["malloc_mb"] = malloc_mb()  # in use, and freed but kept
        capture = mnemo.host._capture  # instrumented: is OCR loaded now?
        figures["ocr_loaded"] = bool(capture is not None and capture.ocr and capture.ocr.loaded)
        figures["spacy_loaded"] = entities._pipeline.cache_info().currsize > 0
        figures["tray_visible"] = bool(
            mnemo.tray is not None and mnemo.tray.isVisible() and mnemo.tray.isSystemTrayAvailable()
        )
        status = mnemo.host.capture_status()
        figures["capture"] = status.get("state")
        figures["captures_stored"] = status.get("stored")
        figures["capture_frames_excluded"] = status.get("excluded")
        if figures["chat_model_used"]:
            report()
        else:
            tasks.run(lambda _ctx: load_model(mnemo.host.chat_model), on_done=with_model)

    def with_model(_result: Any) -> None:
        figures["rss_mb_with_chat_model"] = round(total_rss_mb())
        report()

    def report() -> None:
        print(json.dumps(figures), flush=True)
        mnemo.quit()

    def ingested(report: Any) -> None:
        state["ingested"] = True
        figures["ingested_turns"] = report.turns
        figures["ingest_batches"] = len(report.batches)
        figures["ingest_llm_calls"] = sum(b.calls for b in report.batches)
        figures["preemptions"] = mnemo.host.chat_model.service.preemptions
        figures["ingest_s"] = round(time.perf_counter() - state["ingest_started"], 1)
        if state["question"] == 2 and not chat.busy:
            finish()

    def ask(text: str) -> None:
        current = mnemo.host.chat_model.service.current
        if state["question"] == 0:  # was the model writing memories when the question came?
            figures["model_busy_at_question"] = current is not None
        state["question"] += 1
        state["sent"] = time.perf_counter()
        state["first"] = None
        chat.input.setPlainText(text)
        chat.send()
        if state["question"] == 2:
            QTimer.singleShot(STOP_AFTER_MS, lambda: stop("search"))

    def retrieved(_notes: int) -> None:
        if state["question"] == 1:
            figures["chat_retrieval_ms"] = round((time.perf_counter() - state["sent"]) * 1000)

    def streamed(_chars: int) -> None:
        if state["first"] is not None:
            return
        state["first"] = time.perf_counter()
        if state["question"] == 1:
            figures["chat_first_token_ms"] = round((state["first"] - state["sent"]) * 1000)
        elif getattr(chat.answer_stream, "job", None) is not None:
            stop("answer")  # a model writes it: Stop while it does

    def stop(during: str) -> None:
        """Stop on the second answer, while it is searched or written: how long until the pane
        is free again and the model's job (if it had one) has ended. The bundled model's
        answers are drawn from the notes, in one piece and with no job of the model: they are
        stopped during their search."""
        if state["question"] != 2 or "stopped_during" in figures or not chat.busy:
            return
        job = getattr(chat.answer_stream, "job", None)
        figures["stopped_during"] = during
        pressed = time.perf_counter()
        chat.stop()
        figures["busy_after_stop"] = chat.busy

        def idle() -> None:
            figures["stop_to_idle_ms"] = round((time.perf_counter() - pressed) * 1000, 1)

        if job is None:
            idle()
        else:
            job.on_done(idle)

    def answered(_answer: Any) -> None:
        if state["question"] == 1:
            ask("What did Caroline and Melanie talk about? Tell me everything in detail.")
            return
        if state["ingested"]:
            finish()

    def begin(_result: Any) -> None:
        activate_window("Notes")  # still the one in use when capture starts
        mnemo.set_capture("start")
        heartbeat.start()
        pauses.reset()
        state["ingest_started"] = time.perf_counter()
        tasks.run(lambda _ctx: mnemo.host.ingest_chat(talk), on_done=ingested)
        ask("When did I talk with Priya about the Q3 budget?")

    def started(host: Any) -> None:
        figures["startup_to_window_ms"] = round(((painted.at or time.time()) - T0) * 1000)
        figures["startup_to_ready_ms"] = round((time.time() - T0) * 1000)
        # The notes window takes the focus, as if clicked, so capture has something to read
        # (Mnemo's own window is never recorded); Mnemo's stays on screen, painting.
        activate_window("Notes")
        # A model that answers and writes memories is loaded first, as the first question
        # would. The bundled 135M model does neither (its answers and memories are drawn from
        # the notes by code): the app never loads it for this work, so it is loaded only at
        # the end, to time its load and report the memory with it.
        figures["chat_model_used"] = not host.chat_model.small

        def ready(_ctx: Any) -> None:
            if figures["chat_model_used"]:
                load_model(host.chat_model)
            host.wait_for_startup_work()

        tasks.run(ready, on_done=begin)

    def load_model(chat_model: Any) -> None:
        loading = time.perf_counter()
        chat_model.complete([{"role": "user", "content": "Hi"}], max_tokens=1)
        figures["model_load_ms"] = round((time.perf_counter() - loading) * 1000)

    chat.streamed.connect(streamed)
    chat.retrieved.connect(retrieved)
    chat.answered.connect(answered)
    mnemo.host_started.connect(started)
    mnemo.start()
    sys.exit(qt.exec())


if __name__ == "__main__":
    main()
