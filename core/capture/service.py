"""Screen capture as a running service: an apscheduler job takes a frame every `interval_s`,
one OCR worker reads the kept frames, a batcher hands them to the memory agents, and a
status file in the data folder tells `mnemo capture status` (and the tray) what is going on.

    service = CaptureService(engine.store, engine.data_dir, settings.capture, run_batch=...)
    service.start(); ...; service.pause(); service.resume(); ...; service.stop()
"""

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from core.capture.batches import Batcher
from core.capture.desktop import Desktop, open_desktop
from core.capture.exclusions import Exclusions
from core.capture.ocr import Ocr
from core.capture.pictures import PictureStore
from core.capture.pipeline import Capturer, CaptureStats, Frame, Reader, merge_frames
from core.capture.queues import CoalescingQueue
from core.capture.screen import MssScreen, Screen
from core.errors import StorageFull
from core.memory.models import Source
from core.settings import CaptureSettings
from core.timeutil import now

log = logging.getLogger(__name__)
OCR_IDLE_S = 60  # a still screen this long frees the OCR models (see Ocr.unload_if_idle)

RECYCLE_EVERY_S = 600
STATUS_EVERY_S = 2  # a few hundred bytes; `capture status` and the tray read it


def capture_dir(data_dir: Path) -> Path:
    return data_dir / "capture"


class CaptureService:
    def __init__(
        self,
        store,  # MemoryStore
        data_dir: Path,
        settings: CaptureSettings,
        *,
        screen: Screen | None = None,
        desktop_factory: Callable[[], Desktop] = open_desktop,
        ocr: Ocr | None = None,
        run_batch: Callable[[list[Source]], object] | None = None,
        on_pause: Callable[[str], None] | None = None,
    ) -> None:
        """`on_pause(reason)` is told when capture pauses itself (the disk is full)."""
        self.on_pause = on_pause
        self.settings = settings
        self.data_dir = data_dir
        self.folder = capture_dir(data_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.status_path = self.folder / "status.json"
        self.stats = CaptureStats()
        rules = settings.exclusions
        self.exclusions = Exclusions.make(
            apps=rules.apps,
            title_patterns=rules.title_patterns,
            domains=rules.domains,
            use_defaults=rules.use_defaults,
        )
        self.screen = screen or MssScreen()
        self.capturer = Capturer(
            self.screen,
            desktop_factory,
            self.exclusions,
            self.stats,
            monitors=settings.monitors,
            keyframe_s=settings.keyframe_s,
            idle_after_s=settings.idle_after_s,
        )
        self.pictures = PictureStore(
            self.folder / "pictures",
            scale=settings.thumbnail_scale,
            quality=settings.thumbnail_quality,
            retention_days=settings.retention_days,
            budget_mb=settings.disk_budget_mb,
        )
        self.batcher = Batcher(
            store, run_batch, captures=settings.batch_captures, minutes=settings.batch_minutes
        )
        if ocr is None and settings.ocr:
            ocr = Ocr(threads=settings.ocr_threads)
        self.ocr = ocr
        self.reader = Reader(
            store,
            self.pictures,
            self.stats,
            data_dir=data_dir,
            ocr=ocr,
            picture_every_s=settings.thumbnail_every_s,
            settle_s=settings.ocr_settle_s,
            on_source=self._stored,
        )
        self.store = store
        self.frames: CoalescingQueue[list[Frame]] = CoalescingQueue(
            settings.queue_frames, merge_frames
        )
        self.state = "stopped"
        self.started_at: str | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._reader_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._status_at = 0.0
        self._recycled_at = 0.0

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start taking frames now and every `interval_s` after; returns at once."""
        if self.state != "stopped":
            return
        self._stop.clear()
        self.batcher.start()
        self._reader_thread = threading.Thread(
            target=self._read_loop, name="mnemo-ocr", daemon=True
        )
        self._reader_thread.start()
        # One worker thread: X and mss keep per-thread state, and a tick never overlaps the
        # next (a late tick is skipped, not queued: coalesce, one instance).
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.settings.interval_s,
            id="capture",
            next_run_time=now(),
        )
        self._scheduler.start()
        self.state, self.started_at = "running", now().isoformat()
        log.info("capture started: every %.1f s", self.settings.interval_s)
        self.write_status()

    def pause(self) -> None:
        if self.state == "running" and self._scheduler is not None:
            self._scheduler.pause_job("capture")
            self.state = "paused"
            log.info("capture paused")
            self.write_status()

    def resume(self) -> None:
        if self.state == "paused" and self._scheduler is not None:
            self.capturer.reset()  # the screen changed unseen: read it whole again
            self._scheduler.resume_job("capture")
            self.state = "running"
            log.info("capture resumed")
            self.write_status()

    def stop(self) -> None:
        """Stop taking frames, read those already taken, hand the last batch over, wait for
        the agents to finish it (up to a minute), and write the final status."""
        if self.state == "stopped":
            return
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self._stop.set()
        self.frames.close()
        if self._reader_thread is not None:
            self._reader_thread.join(timeout=120)
        self.batcher.flush()
        self.batcher.drain()
        self.batcher.stop()
        self.capturer.close()
        self.state = "stopped"
        log.info("capture stopped")
        self.write_status()

    def once(self) -> list[Source]:
        """One frame of each monitor through the whole pipeline, on this thread: what `mnemo
        capture once` and the tests use. The batch is processed before this returns."""
        stored = []
        frames = self.capturer.tick()
        for frame in frames:
            source = self._read(frame)
            if source is not None:
                stored.append(source)
        if not frames:
            stored += self._settle()
        self.batcher.flush()
        self.batcher.process_pending()
        self.capturer.close()
        self.write_status()
        return stored

    def note_chat(self, turn: Source) -> None:
        """A chat turn (already stored) that the next capture batch should carry."""
        self.batcher.add_chat(turn)

    # -- work -------------------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            frames = self.capturer.tick()
            if frames or self.reader.unsettled:
                self.frames.put(frames)  # none: the screen is still, read what was held
            self.batcher.poll()
            clock = time.monotonic()
            if clock - self._recycled_at >= RECYCLE_EVERY_S:
                self._recycled_at = clock
                self.recycle()
            if clock - self._status_at >= STATUS_EVERY_S:
                self.write_status()
        except Exception as exc:  # the job must survive anything one frame does
            self.stats.failed += 1
            self.stats.last_error = str(exc)
            log.error("capture tick failed: %s", exc, exc_info=True)

    def _read_loop(self) -> None:
        while True:
            frames = self.frames.get(timeout=0.5)
            if frames is None:
                if self._stop.is_set():
                    self._settle()
                    return
                if self.ocr is not None:
                    self.ocr.unload_if_idle(OCR_IDLE_S)
                continue
            for frame in frames:
                self._read(frame)
            if not frames:
                self._settle()

    def _settle(self) -> list[Source]:
        return self._guarded(self.reader.settle) or []

    def _read(self, frame: Frame) -> Source | None:
        return self._guarded(lambda: self.reader.read(frame))

    def _guarded(self, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except StorageFull as exc:
            log.error("%s; pausing capture", exc)
            self.stats.last_error = str(exc)
            self.pause()
            if self.on_pause is not None:
                self.on_pause(str(exc))
        except Exception as exc:  # a bad frame is skipped with its reason, capture goes on
            self.stats.failed += 1
            self.stats.last_error = f"a frame could not be read: {exc}"
            log.error("a frame could not be read, skipped: %s", exc, exc_info=True)
        return None

    def _stored(self, source: Source) -> None:
        self.batcher.add(source)

    def recycle(self) -> None:
        """Apply the retention period and the disk budget to the pictures."""
        done = self.pictures.recycle(
            now(),
            lambda paths: self.store.forget_pictures(
                [str(p.relative_to(self.data_dir)) for p in paths]
            ),
        )
        self.stats.recycled += done.files

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": now().isoformat(),
            "interval_s": self.settings.interval_s,
            "waiting_frames": len(self.frames),
            "merged": self.frames.merged,  # frames folded into a later one: OCR was behind
            "batches": self.batcher.batches,
            "batches_pending": self.batcher.pending,
            "batch_sources_left_out": self.batcher.left_out,
            "batches_failed": self.batcher.failed,
            **self.stats.as_dict(),
        }

    def write_status(self) -> None:
        self._status_at = time.monotonic()
        tmp = self.status_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.status(), indent=1))
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.warning("cannot write the capture status: %s", exc)


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The last status a capture service wrote, with `alive` telling whether it still runs."""
    path = capture_dir(data_dir) / "status.json"
    try:
        status = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    status["alive"] = _alive(status.get("pid")) and status.get("state") != "stopped"
    return status


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
