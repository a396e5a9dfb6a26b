"""When Python's garbage collector walks everything: at moments nobody waits on the window.

A full collection walks every object the process holds, with the GIL held, whichever thread
runs it, and so freezes the window: 45–150 ms here, for the objects made since start-up (a
view's data, a day of captures: 60,000 objects for 20,000; OCR's modules when capture first
reads a frame). Python starts one whenever enough objects have grown old, in the middle of an
answer or a scrub. So, while the app runs, only the young generations are collected on
Python's own schedule (cheap: they hold what was just made, and most cycles die young), and
the full collection runs when the window hides to the tray, when it stops being the active
window (at most every QUIET_EVERY_S), and at least every ANYWAY_EVERY_S whatever happens.
What start-up loaded is frozen, out of every collection's sight: it lives as long as the app."""

import gc
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

NEVER = 1_000_000_000  # young collections before Python would start a full one itself
CHECK_MS = 60_000
QUIET_EVERY_S = 5 * 60  # at most this often while the window is not in use
ANYWAY_EVERY_S = 60 * 60  # at least this often, in use or not


class Collector(QObject):
    collected = Signal()  # a full collection ran

    def __init__(self, window: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self._last = time.monotonic()
        self._saved: tuple[int, int, int] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self._check)

    def start(self) -> None:
        """Freeze what start-up loaded and take full collections off Python's schedule."""
        if self._saved is not None:
            return
        gc.freeze()
        self._saved = gc.get_threshold()
        young, middle, _old = self._saved
        gc.set_threshold(young, middle, NEVER)
        self._last = time.monotonic()
        QGuiApplication.instance().applicationStateChanged.connect(self._state_changed)
        self._timer.start()

    def stop(self) -> None:
        """Python's own schedule again (the app quits; a test process goes on)."""
        if self._saved is None:
            return
        self._timer.stop()
        QGuiApplication.instance().applicationStateChanged.disconnect(self._state_changed)
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None

    def collect(self) -> None:
        """A full collection now (what start-up loaded stays frozen)."""
        if self._saved is None:
            return
        gc.collect()
        self._last = time.monotonic()
        self.collected.emit()

    def soon(self) -> None:
        """A full collection once the event loop turns (the window just hid)."""
        QTimer.singleShot(0, self, self.collect)

    def _quiet(self) -> bool:
        return not self._window.isVisible() or not self._window.isActiveWindow()

    def _check(self) -> None:
        since = time.monotonic() - self._last
        if (self._quiet() and since >= QUIET_EVERY_S) or since >= ANYWAY_EVERY_S:
            self.collect()

    def _state_changed(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self._check()
