"""A day of captures drawn as app-coloured bars, one lane per app, hours along the top; a
click or drag moves the cursor, which says which moment to show below.

The bars are drawn once per day (and per width) into a picture on a worker, with numpy: a
repaint (each cursor move) draws that one picture, where it drew a rectangle per capture in
Python, 20,000 of them on a busy day."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui import tasks

LANE, HEADER, LABELS, MARGIN = 18, 18, 110, 4  # MARGIN: right of the day's end
BAR_SECONDS = 60  # a capture stands for about this long on the strip
MIN_BAR = 2  # pixels: a lone capture stays visible on a narrow strip
DAY_SECONDS = 86400


def app_colour(app: str) -> QColor:
    """A stable colour per app, so Firefox is the same blue every day."""
    hue = int(hashlib.sha1(app.encode()).hexdigest()[:4], 16) % 360
    return QColor.fromHsv(hue, 150, 210)


@dataclass(frozen=True)
class Bars:
    """A day's captures as numbers: seconds since the day's start and lane (app) of each."""

    seconds: np.ndarray  # float64
    lanes: np.ndarray  # int, an index into `apps`
    apps: list[str]

    @classmethod
    def of(cls, day_start: datetime, captures: Sequence[Any], apps: list[str]) -> "Bars":
        lane_of = {app: n for n, app in enumerate(apps)}
        seconds = np.fromiter(
            ((c.occurred_at - day_start).total_seconds() for c in captures),
            dtype=np.float64,
            count=len(captures),
        )
        lanes = np.fromiter(
            (lane_of[c.app or "?"] for c in captures), dtype=np.int64, count=len(captures)
        )
        return cls(seconds, lanes, apps)

    def picture(self, plot: int) -> QImage:
        """The bars of every lane, the day spread over `plot` pixels (as DayStrip.x_of), in
        an image MARGIN pixels wider for the day's last bars; LANE pixels per lane, and
        transparent where no capture is."""
        plot = max(plot, 1)
        width, lanes = plot + MARGIN, max(len(self.apps), 1)
        bar = max(plot * BAR_SECONDS / DAY_SECONDS, MIN_BAR)
        x = self.seconds * (plot / DAY_SECONDS)
        starts = np.clip(np.floor(x).astype(np.int64), 0, width)
        stops = np.clip(np.ceil(x + bar).astype(np.int64), 0, width)
        # Each bar adds 1 where it starts and -1 where it stops: the running sum is > 0 under
        # a bar, however many overlap.
        edges = np.zeros((lanes, width + 1), dtype=np.int32)
        np.add.at(edges, (self.lanes, starts), 1)
        np.add.at(edges, (self.lanes, stops), -1)
        covered = np.cumsum(edges, axis=1)[:, :width] > 0
        colours = np.array([app_colour(app).rgba() for app in self.apps] or [0], np.uint32)
        rows = np.where(covered, colours[:, None], np.uint32(0))
        pixels = np.zeros((lanes, LANE, width), dtype=np.uint32)
        pixels[:, 3 : LANE - 3, :] = rows[:, None, :]
        pixels = np.ascontiguousarray(pixels.reshape(lanes * LANE, width))
        image = QImage(pixels.data, width, lanes * LANE, width * 4, QImage.Format.Format_ARGB32)
        return image.copy()  # owns its pixels: the array goes with this function


class DayStrip(QWidget):
    moved = Signal(object)  # the cursor's datetime
    drawn = Signal()  # the day's bars are in `picture`

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.day_start: datetime | None = None
        self.apps: list[str] = []
        self.cursor: datetime | None = None
        self.picture: QImage | None = None  # the bars, drawn off the GUI thread
        self._bars: Bars | None = None
        self._plot = 1  # the plot width the picture was drawn for
        self._generation = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(False)

    def show_day(self, day_start: datetime, captures: Sequence[Any]) -> None:
        """Draw these captures' bars on a worker; the strip shows them when they come."""
        self.day_start = day_start
        self.apps = sorted({c.app or "?" for c in captures})
        self.setFixedHeight(HEADER + LANE * max(len(self.apps), 1) + 6)
        self.picture, self._bars = None, None  # not the day before's bars meanwhile
        self.update()
        apps, captures = list(self.apps), list(captures)
        self._draw(lambda: Bars.of(day_start, captures, apps))

    def plot_width(self) -> int:
        """The pixels the day spans, from the lane labels to the right margin."""
        return max(self.width() - LABELS - MARGIN, 1)

    def _draw(self, bars: Any) -> None:
        """Make the picture on a worker from `bars()`; the newest request wins."""
        self._generation += 1
        generation, plot = self._generation, self.plot_width()

        def work(_ctx: tasks.Context) -> tuple[Bars, QImage]:
            made = bars()
            return made, made.picture(plot)

        tasks.run(
            work,
            on_done=lambda result: self._drawn(generation, *result),
            parent=self,
        )

    def _drawn(self, generation: int, bars: Bars, picture: QImage) -> None:
        if generation != self._generation:
            return  # another day, filter or width since
        self._bars, self.picture = bars, picture
        self._plot = picture.width() - MARGIN
        self.update()
        self.drawn.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        bars = self._bars
        if bars is not None and event.size().width() != event.oldSize().width():
            self._draw(lambda: bars)  # the old picture, stretched, until then

    def x_of(self, when: datetime) -> float:
        assert self.day_start is not None
        seconds = (when - self.day_start).total_seconds()
        return LABELS + self.plot_width() * seconds / DAY_SECONDS

    def time_at(self, x: float) -> datetime | None:
        if self.day_start is None:
            return None
        share = min(max((x - LABELS) / self.plot_width(), 0.0), 1.0)
        return self.day_start + timedelta(seconds=share * DAY_SECONDS)

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
        for n, app in enumerate(self.apps):
            painter.setPen(self.palette().text().color())
            painter.drawText(
                QRectF(4, HEADER + n * LANE, LABELS - 8, LANE),
                Qt.AlignmentFlag.AlignVCenter,
                app[:16],
            )
        if self.picture is not None:
            # Stretched to the width now while a resize has it redrawn.
            width = self.picture.width() * self.plot_width() / self._plot
            painter.drawImage(QRectF(LABELS, HEADER, width, self.picture.height()), self.picture)
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
