"""The tray icon: what Mnemo is doing (capturing, paused, working, error) by icon and
tooltip; Open, Pause/Resume capture and Quit; notifications that need the user."""

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.gui.icons import icon

TOOLTIPS = {
    "capturing": "Mnemo — capturing the screen",
    "paused": "Mnemo — capture paused",
    "working": "Mnemo — writing memories",
    "error": "Mnemo — needs your attention",
    "idle": "Mnemo — capture off",
}


def available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


class Tray(QSystemTrayIcon):
    open_requested = Signal()
    pause_toggled = Signal()  # pause when capturing, resume when paused
    quit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu(parent)
        self.open_action = QAction(icon("open"), "Open Mnemo", self.menu)
        self.pause_action = QAction(icon("pause"), "Pause capture", self.menu)
        self.quit_action = QAction(icon("quit"), "Quit Mnemo", self.menu)
        self.open_action.triggered.connect(self.open_requested)
        self.pause_action.triggered.connect(self.pause_toggled)
        self.quit_action.triggered.connect(self.quit_requested)
        self.menu.addAction(self.open_action)
        self.menu.addSeparator()
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.setContextMenu(self.menu)
        self.activated.connect(self._activated)
        self.state = ""
        self.set_state("idle", capture="stopped")

    def set_state(self, state: str, *, capture: str, detail: str = "") -> None:
        """`state`: capturing, paused, working, error or idle; `capture`: running, paused or
        stopped (what the pause item offers)."""
        self.state = state
        self.setIcon(icon(state if state != "idle" else "app"))
        self.setToolTip(TOOLTIPS[state] + (f"\n{detail}" if detail else ""))
        self.pause_action.setEnabled(capture in ("running", "paused"))
        if capture == "paused":
            self.pause_action.setText("Resume capture")
            self.pause_action.setIcon(icon("resume"))
        else:
            self.pause_action.setText("Pause capture")
            self.pause_action.setIcon(icon("pause"))

    def notify(self, title: str, message: str) -> None:
        self.showMessage(title, message, icon("error"), 10_000)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.open_requested.emit()
