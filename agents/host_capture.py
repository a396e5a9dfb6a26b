"""The host's screen capture: start, pause, resume, stop, one-off captures, and the pictures
no capture points at. A mixin of Host (agents.host), kept apart for size: it shares its state."""

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agents.host_parts import HostParts
from agents.team import Batch
from core.memory.models import Source
from core.store.changes import Hub

if TYPE_CHECKING:
    from agents.host import Notice

log = logging.getLogger(__name__)


class CaptureMixin(HostParts):
    # What these methods use of the host besides HostParts (see Host).
    notices: "Hub[Notice]"
    _capture: Any
    _capture_lock: threading.RLock
    _capture_options: dict[str, Any]
    _started_at: datetime

    def open_windows(self, rules: Any = None) -> list[tuple[Any, str | None]]:
        """The windows on screen now, each with the rule that would exclude it (None: it would
        be captured), under `rules` (ExclusionSettings; default: the settings')."""
        from core.capture.desktop import open_desktop
        from core.capture.exclusions import Exclusions

        rules = rules or self.settings.capture.exclusions
        exclusions = Exclusions.make(
            apps=rules.apps,
            title_patterns=rules.title_patterns,
            domains=rules.domains,
            use_defaults=rules.use_defaults,
        )
        desktop = self._capture_options.get("desktop_factory", open_desktop)()
        try:
            windows = desktop.state().windows
        finally:
            desktop.close()
        return [(window, exclusions.reason(window)) for window in windows]

    def _sweep_pictures(self) -> None:
        """Delete pictures no capture points at: a crash between saving a picture and storing
        its capture leaves one. Never beside a capture of this process (one being stored is
        not in the store yet); only this process, the owner, captures the folder. Pictures
        taken since this start are left alone besides, in case the clock went back."""
        from core.capture.pictures import orphans

        with self._capture_lock:  # held by capture's start and by a one-off capture
            if self._capture is not None:
                return  # capturing already (capture_on_start): the next start sweeps
            kept = {
                row["thumbnail"]
                for row in self.store.db.query("SELECT DISTINCT thumbnail FROM sources")
                if row["thumbnail"]
            }
            for path in orphans(self.data_dir, kept, before=self._started_at):
                path.unlink(missing_ok=True)
                log.info("deleted picture %s: no capture points at it", path.name)

    def _capture_service(self, *, interval_s: float | None = None, agents: bool = True) -> Any:
        if self._capture is None:
            from core.capture.desktop import open_desktop
            from core.capture.service import CaptureService

            options = dict(self._capture_options)
            if "desktop_factory" not in options:
                open_desktop().close()  # unsupported here (Wayland, no display): say so now
            settings = self.settings.capture
            if interval_s:
                settings = settings.model_copy(update={"interval_s": interval_s})
            run_batch = None
            if agents:

                def run_batch(sources: list[Source]) -> object:
                    # The team of the moment: the chat model may have changed since capture
                    # started, and the old one is closed.
                    return self.team.process(Batch(sources, "capture"))

            self._capture = CaptureService(
                self.store,
                self.data_dir,
                settings,
                run_batch=run_batch,
                on_pause=self._capture_paused,
                **options,
            )
        return self._capture

    def _capture_paused(self, reason: str) -> None:
        """Capture paused itself (the disk is full): the front end shows why."""
        from agents.host import Notice  # here: agents.host imports this module

        self.notices.publish(Notice("capture", "paused", reason))
        self.alert("Capture paused", reason)

    def capture_start(self, *, interval_s: float | None = None, agents: bool = True) -> Any:
        """Start capturing (returns the running service); raises BackgroundBusy when another
        process captures this folder. `agents=False` stores captures without writing memories."""
        with self._capture_lock:
            self.owner.require("start capture")
            service = self._capture_service(interval_s=interval_s, agents=agents)
            service.start()
            return service

    def capture_pause(self) -> None:
        with self._capture_lock:
            if self._capture is not None:
                self._capture.pause()

    def capture_resume(self) -> None:
        with self._capture_lock:
            if self._capture is not None:
                self._capture.resume()

    def capture_stop(self) -> None:
        with self._capture_lock:
            if self._capture is not None:
                self._capture.stop()
                self._capture = None

    def capture_state(self) -> str:
        """stopped, running or paused (in this process). Takes no lock: a status bar asks."""
        service = self._capture
        return service.state if service is not None else "stopped"

    def capture_status(self) -> dict[str, Any]:
        service = self._capture
        if service is not None:
            return service.status()
        from core.capture.service import read_status

        return read_status(self.data_dir) or {"state": "stopped"}

    def capture_once(self, *, agents: bool = True) -> Any:
        """One frame through the whole pipeline now: (what was stored, the status after)."""
        with self._capture_lock:
            service = self._capture_service(agents=agents)
            try:
                return service.once(), service.status()
            finally:
                self._capture = None

    def _recycle_pictures(self) -> None:
        with self._capture_lock:
            if self._capture is not None:
                self._capture.recycle()
