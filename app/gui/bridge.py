"""The app-level signal bus: the host's news as Qt signals on the GUI thread.

The host (agents/, no Qt) calls plain listeners on whatever thread made a change; the bridge
re-emits them as signals, which Qt queues to the GUI thread, so a view just connects a slot.
"""

from typing import Any

from PySide6.QtCore import QObject, Signal


class Bridge(QObject):
    changed = Signal(object)  # core.store.changes.Change
    started = Signal()  # the host's store answers
    start_failed = Signal(str)
    progress = Signal(str, int, int)  # background work: (what, done, total)
    capture_state = Signal(str)  # stopped / running / paused
    alert = Signal(str, str)  # (title, message) that needs the user: disk full, capture stopped

    def attach(self, host: Any) -> None:
        """Forward the host's change events and notices (called once the host exists)."""
        self._unsubscribe = (
            host.changes.subscribe(self.changed.emit),
            host.notices.subscribe(self._notice),
        )

    def _notice(self, notice: Any) -> None:
        if notice.kind == "capture":
            self.capture_state.emit(notice.text)
        elif notice.kind == "progress":
            self.progress.emit(notice.text, notice.done, notice.total)
        else:
            self.alert.emit(notice.text, notice.detail)

    def report(self, what: str, done: int, total: int) -> None:
        """A progress callback for host work on any thread."""
        self.progress.emit(what, done, total)
