"""The capture timeline: a day of screen captures by app, a cursor to scrub through it, and
the moment under the cursor — its picture (decoded off the GUI thread), window, app and text,
with a search's matches marked, and the memories written from it. "Delete…" removes what is
shown (the day, or one app's captures that day) everywhere, after saying how much goes."""

import bisect
import html
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt, QUrl, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import LINK, ItemDialog, linked_item
from app.gui.timeline.strip import DayStrip
from app.gui.wiring import debounced

DAY_LIMIT = 20_000  # captures read for one day
PICTURE_WIDTH = 520


class TimelineView(QWidget):
    loaded = Signal()  # a day's captures are on the strip
    shown = Signal()  # the moment under the cursor is shown
    deleted = Signal(int)  # how many captures a delete removed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.day_captures: list[Any] = []
        self.captures: list[Any] = []  # after the app filter and the search
        self.current: Any = None
        self.opened: ItemDialog | None = None
        self._generation = 0

        self.date = QDateEdit(QDate.currentDate())
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("ddd d MMM yyyy")
        self.app = QComboBox()
        self.app.addItem("All apps", None)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search what was on screen this day")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel()
        self.count.setObjectName("muted")
        self.delete = QPushButton("Delete…")
        self.delete.setToolTip("Delete the captures shown (this day, or this app this day)")
        top = QHBoxLayout()
        for widget in (self.date, self.app):
            top.addWidget(widget)
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        top.addWidget(self.delete)

        self.strip = DayStrip()
        self.picture = QLabel("No capture at this moment")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumWidth(260)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.anchorClicked.connect(self._follow)
        side = QWidget()
        right = QVBoxLayout(side)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.where)
        right.addWidget(self.text, 1)
        split = QSplitter()
        split.addWidget(self.picture)
        split.addWidget(side)
        split.setSizes([520, 420])

        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        column.addLayout(top)
        column.addWidget(self.strip)
        column.addWidget(split, 1)

        self.date.dateChanged.connect(lambda _date: self.reload())
        self.app.currentIndexChanged.connect(lambda _index: self._filter())
        self.search.textChanged.connect(lambda _text: self._filter())
        self.strip.moved.connect(self.show_moment)
        self.delete.clicked.connect(lambda: self.delete_shown())
        self._refresh = debounced(self, 2000, self.reload)  # captures come every few seconds

    def set_host(self, host: Any) -> None:
        self.host = host
        self.reload()

    def changed(self, change: Any) -> None:
        """Captures kept or deleted: the day on screen may have changed."""
        if change.kind == "source" and self.host is not None:
            self._refresh.start()

    def go_to(self, day: datetime) -> None:
        """Jump to a day (the date picker does the same)."""
        local = day.astimezone()
        self.date.setDate(QDate(local.year, local.month, local.day))

    def reload(self) -> None:
        self._refresh.stop()  # this reload is the one a pending change asked for
        if self.host is None:
            return
        host, start = self.host, self._day_start()
        end = start + timedelta(days=1) - timedelta(microseconds=1)
        self._generation += 1
        generation = self._generation  # a newer reload makes this one's answer stale
        tasks.run(
            lambda _ctx: host.sources_between(start, end, kinds=["capture"], limit=DAY_LIMIT),
            on_done=lambda found: self._loaded(found) if generation == self._generation else None,
            parent=self,
        )

    def show_moment(self, when: datetime) -> None:
        """Show the capture on screen at `when`: the last one taken at or before it."""
        times = [c.occurred_at for c in self.captures]
        index = bisect.bisect_right(times, when) - 1
        capture = self.captures[max(index, 0)] if self.captures else None
        self.strip.cursor = when
        self.strip.update()
        if capture is None or capture is self.current:
            return
        self.current = capture
        host, folder = self.host, self.host.store.folder

        def load(_ctx: Any) -> tuple[QImage | None, list[Any]]:
            image = None
            if capture.thumbnail:
                image = QImage(str(folder / capture.thumbnail))  # decoded here, off-thread
                if not image.isNull():
                    image = image.scaledToWidth(
                        PICTURE_WIDTH, Qt.TransformationMode.SmoothTransformation
                    )
            return image, host.memories_of_source(capture.id)

        tasks.run(load, on_done=lambda result: self._show(capture, *result), parent=self)

    def delete_shown(self, *, confirm: bool = True) -> None:
        """Delete every capture shown (the day, or one app's that day) everywhere."""
        doomed = list(self.captures)
        if not doomed or self.host is None:
            return
        pictures = len({c.thumbnail for c in doomed if c.thumbnail})
        app = self.app.currentData() or "all apps"
        day = self.date.date().toString("d MMM yyyy")
        question = (
            f"Delete {len(doomed)} captures ({app}, {day}) and {pictures} pictures everywhere? "
            "Their text, pictures and search entries go; memories written from them stay."
        )
        if confirm and QMessageBox.question(self, "Delete captures", question) != (
            QMessageBox.StandardButton.Yes
        ):
            return
        host = self.host
        tasks.run(
            lambda _ctx: host.delete_sources([c.id for c in doomed]),
            on_done=self._deleted,
            parent=self,
        )

    # -- what arrives ----------------------------------------------------------------------

    def _loaded(self, captures: list[Any]) -> None:
        self.day_captures = captures
        apps = sorted({c.app or "?" for c in captures})
        chosen = self.app.currentData()
        self.app.blockSignals(True)
        self.app.clear()
        self.app.addItem("All apps", None)
        for app in apps:
            self.app.addItem(app, app)
        if chosen in apps:
            self.app.setCurrentIndex(apps.index(chosen) + 1)
        self.app.blockSignals(False)
        self._filter()
        self.loaded.emit()

    def _filter(self) -> None:
        app, wanted = self.app.currentData(), self.search.text().strip().lower()
        self.captures = [
            c
            for c in self.day_captures
            if (app is None or (c.app or "?") == app) and (not wanted or wanted in c.text.lower())
        ]
        self.strip.show_day(self._day_start(), self.captures)
        noun = "capture" if len(self.captures) == 1 else "captures"
        self.count.setText(f"{len(self.captures):,} {noun}")
        self.delete.setEnabled(bool(self.captures))
        self.current = None
        if self.captures:
            self.show_moment(self.captures[-1].occurred_at)
        else:
            self.picture.setText("No capture at this moment")
            self.where.clear()
            self.text.clear()

    def _show(self, capture: Any, image: QImage | None, memories: list[Any]) -> None:
        if capture is not self.current:
            return
        if image is not None and not image.isNull():
            pixmap = QPixmap.fromImage(image)
            width = min(self.picture.width() - 8, pixmap.width())
            self.picture.setPixmap(
                pixmap.scaledToWidth(max(width, 120), Qt.TransformationMode.SmoothTransformation)
            )
        else:
            self.picture.setText("No picture kept for this moment")
        when = capture.occurred_at.astimezone().strftime("%H:%M:%S")
        self.where.setText(
            f"{when} · {html.escape(capture.app or '')} — <b>{html.escape(capture.title or '')}</b>"
        )
        body = _marked(capture.text, self.search.text().strip())
        if memories:
            body += "<h4>Memories written from this moment</h4>" + "".join(
                f"<p><a href='{LINK}memory/{m.id}'>{m.type}</a> · "
                f"{html.escape(m.headline[:160])}</p>"
                for m in memories
            )
        self.text.setHtml(body)
        self.shown.emit()

    def _deleted(self, count: int) -> None:
        self.deleted.emit(count)
        self.reload()

    def _follow(self, url: QUrl) -> None:
        if self.host is not None and (item := linked_item(url)) is not None:
            self.opened = ItemDialog(self.host, item, self)
            self.opened.show()

    def _day_start(self) -> datetime:
        day = self.date.date().toPython()
        return datetime.combine(day, time(0, 0)).astimezone().astimezone(UTC)


def _marked(text: str, wanted: str) -> str:
    """The text as HTML, each occurrence of the search marked (found in the raw text, each
    piece escaped on its own, so a search for "t" cannot split "&lt;")."""
    if not wanted:
        return html.escape(text).replace("\n", "<br>")
    pieces = re.split(f"({re.escape(wanted)})", text, flags=re.IGNORECASE)
    marked = "".join(
        f"<span style='background:#f9e79f'>{html.escape(piece)}</span>"
        if n % 2
        else html.escape(piece)
        for n, piece in enumerate(pieces)
    )
    return marked.replace("\n", "<br>")
