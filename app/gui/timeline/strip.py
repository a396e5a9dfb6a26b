"""A day of captures drawn as app-coloured bars, one lane per app, hours along the top; a
click or drag moves the cursor, which says which moment to show below."""

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LANE, HEADER, LABELS = 18, 18, 110
BAR_SECONDS = 60  # a capture stands for about this long on the strip


def app_colour(app: str) -> QColor:
    """A stable colour per app, so Firefox is the same blue every day."""
    hue = int(hashlib.sha1(app.encode()).hexdigest()[:4], 16) % 360
    return QColor.fromHsv(hue, 150, 210)


class DayStrip(QWidget):
    moved = Signal(object)  # the cursor's datetime

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.day_start: datetime | None = None
        self.captures: list[Any] = []
        self.apps: list[str] = []
        self.cursor: datetime | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(False)

    def show_day(self, day_start: datetime, captures: Sequence[Any]) -> None:
        self.day_start, self.captures = day_start, list(captures)
        self.apps = sorted({c.app or "?" for c in captures})
        self.setFixedHeight(HEADER + LANE * max(len(self.apps), 1) + 6)
        self.update()

    def x_of(self, when: datetime) -> float:
        assert self.day_start is not None
        seconds = (when - self.day_start).total_seconds()
        return LABELS + (self.width() - LABELS - 4) * seconds / 86400

    def time_at(self, x: float) -> datetime | None:
        if self.day_start is None:
            return None
        share = min(max((x - LABELS) / max(self.width() - LABELS - 4, 1), 0.0), 1.0)
        return self.day_start + timedelta(seconds=share * 86400)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self.day_start is None:
            return
        grid = QPen(QColor(128, 128, 128, 60))
        for hour in range(0, 25, 3):
            x = self.x_of(self.day_start + timedelta(hours=hour))
            painter.setPen(grid)
            painter.drawLine(int(x), HEADER - 4, int(x), self.height())
            painter.setPen(self.palette().text().color())
            painter.drawText(int(x) + 2, HEADER - 6, f"{hour:02d}:00")
        lane_of = {app: n for n, app in enumerate(self.apps)}
        for n, app in enumerate(self.apps):
            painter.setPen(self.palette().text().color())
            painter.drawText(
                QRectF(4, HEADER + n * LANE, LABELS - 8, LANE),
                Qt.AlignmentFlag.AlignVCenter,
                app[:16],
            )
        width = max((self.width() - LABELS) * BAR_SECONDS / 86400, 2.0)
        for capture in self.captures:
            app = capture.app or "?"
            lane = lane_of[app]
            x = self.x_of(capture.occurred_at)
            painter.fillRect(QRectF(x, HEADER + lane * LANE + 3, width, LANE - 6), app_colour(app))
        if self.cursor is not None:
            painter.setPen(QPen(QColor("#c0392b"), 2))
            x = int(self.x_of(self.cursor))
            painter.drawLine(x, 0, x, self.height())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._move(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._move(event.position().x())

    def _move(self, x: float) -> None:
        when = self.time_at(x)
        if when is not None:
            self.cursor = when
            self.update()
            self.moved.emit(when)
