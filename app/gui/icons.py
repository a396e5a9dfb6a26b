"""Every icon the window uses, by name, from one icon package (qtawesome's Phosphor set), so
the look stays consistent and an icon is changed in one place."""

from functools import cache

import qtawesome
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

NAMES = {
    "app": "ph.brain",
    "chat": "ph.chats-circle",
    "send": "ph.paper-plane-right",
    "stop": "ph.stop-circle",
    "new-chat": "ph.note-pencil",
    "settings": "ph.gear-six",
    "memory": "ph.brain",
    "memories": "ph.books",
    "graph": "ph.share-network",
    "timeline": "ph.clock-counter-clockwise",
    "source": "ph.quotes",
    "capture": "ph.monitor",
    "picture": "ph.image",
    "capturing": "ph.record-fill",
    "paused": "ph.pause-circle",
    "working": "ph.spinner-gap",
    "error": "ph.warning-circle",
    "idle": "ph.brain",
    "open": "ph.app-window",
    "pause": "ph.pause",
    "resume": "ph.play",
    "quit": "ph.power",
    "model": "ph.cpu",
    "forget": "ph.trash",
    "remember": "ph.bookmark-simple",
    "search": "ph.magnifying-glass",
}
STATE_COLORS = {"capturing": "#d64545", "error": "#d98a1c", "paused": "#7a7a7a"}


def _text_color() -> QColor:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app.palette().color(QPalette.ColorRole.WindowText)
    return QColor("#333333")


@cache  # keyed by colour too: a palette change (dark mode) gets icons in its own colour
def _icon(name: str, color: str) -> QIcon:
    return qtawesome.icon(NAMES[name], color=color)


def icon(name: str, color: str | None = None) -> QIcon:
    """The icon called `name` (a key of NAMES), in the palette's text colour unless given."""
    return _icon(name, color or STATE_COLORS.get(name) or _text_color().name())
