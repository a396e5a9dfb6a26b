"""The capture timeline: a day of screen captures by app, a cursor to scrub through it, and
the moment under the cursor — its picture (decoded off the GUI thread), window, app and text,
with a search's matches marked, and the memories written from it; a row of thumbnails across
the day. "Delete…" removes what is shown (the day, or one app's captures that day), a time
range of the day, or everything from one app, everywhere, after saying how much goes."""

import bisect
import html
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt, QTime, QUrl, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTimeEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import LINK, ItemDialog, linked_item
from app.gui.timeline.strip import DayStrip
from app.gui.timeline.thumbs import ThumbRow
from app.gui.wiring import debounced

DAY_LIMIT = 20_000  # captures read for one day
APP_LIMIT = 1_000_000  # captures read to delete everything from one app
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
        self.last_question = ""  # the last delete's confirmation (tests read it)
        self._generation = 0

        self.date = QDateEdit(QDate.currentDate())
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("ddd d MMM yyyy")
        self.previous, self.next = QToolButton(), QToolButton()
        self.previous.setArrowType(Qt.ArrowType.LeftArrow)
        self.previous.setToolTip("The day before")
        self.next.setArrowType(Qt.ArrowType.RightArrow)
        self.next.setToolTip("The day after")
        self.app = QComboBox()
        self.app.addItem("All apps", None)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search what was on screen this day")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel()
        self.count.setObjectName("muted")
        self.delete = QPushButton("Delete…")
        self.delete.setToolTip("Delete captures everywhere: those shown, a time range, an app's")
        menu = QMenu(self.delete)
        menu.addAction("The captures shown…", lambda: self.delete_shown())
        menu.addAction("A time range of this day…", self._ask_range)
        self.delete_app_action = menu.addAction("Everything from this app…", self._delete_app)
        menu.aboutToShow.connect(self._menu_shown)
        self.delete.setMenu(menu)
        top = QHBoxLayout()
        for widget in (self.previous, self.date, self.next, self.app):
            top.addWidget(widget)
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        top.addWidget(self.delete)

        self.strip = DayStrip()
        self.thumbs = ThumbRow()
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
        column.addWidget(self.thumbs)
        column.addWidget(split, 1)

        self.date.dateChanged.connect(lambda _date: self.reload())
        self.app.currentIndexChanged.connect(lambda _index: self._filter())
        self.search.textChanged.connect(lambda _text: self._filter())
        self.strip.moved.connect(self.show_moment)
        self.thumbs.chosen.connect(self.show_moment)
        self.previous.clicked.connect(lambda: self.date.setDate(self.date.date().addDays(-1)))
        self.next.clicked.connect(lambda: self.date.setDate(self.date.date().addDays(1)))
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
        app = self.app.currentData() or "all apps"
        day = self.date.date().toString("d MMM yyyy")
        self._delete(list(self.captures), f"{app}, {day}", confirm)

    def delete_range(self, start: datetime, end: datetime, *, confirm: bool = True) -> None:
        """Delete the captures shown between two moments of the day everywhere (those the
        app filter and the search let through, as the question says)."""
        doomed = [c for c in self.captures if start <= c.occurred_at <= end]
        what = [f"{start.astimezone():%H:%M}–{end.astimezone():%H:%M}"]
        what.append(self.date.date().toString("d MMM yyyy"))
        if self.app.currentData() is not None:
            what.append(f"only {self.app.currentData()}")
        if self.search.text().strip():
            what.append(f"only those with “{self.search.text().strip()}”")
        self._delete(doomed, ", ".join(what), confirm)

    def delete_app(self, app: str, *, confirm: bool = True) -> None:
        """Delete every capture ever kept from one app, every day, everywhere."""
        if self.host is None:
            return
        host = self.host
        tasks.run(
            lambda _ctx: host.sources_between(kinds=["capture"], apps=[app], limit=APP_LIMIT),
            on_done=lambda found: self._delete(found, f"everything from {app}", confirm),
            parent=self,
        )

    def _delete(self, doomed: list[Any], what: str, confirm: bool) -> None:
        if not doomed or self.host is None:
            return
        pictures = len({c.thumbnail for c in doomed if c.thumbnail})
        question = (
            f"Delete {len(doomed):,} captures ({what}) and {pictures:,} pictures everywhere? "
            "Their text, pictures and search entries go; memories written from them stay."
        )
        self.last_question = question
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

    def _menu_shown(self) -> None:
        app = self.app.currentData()
        if app == "?":  # captures with no app name: nothing to name them by
            app = None
        self.delete_app_action.setEnabled(app is not None)
        self.delete_app_action.setText(
            f"Everything from {app} (every day)…" if app else "Everything from one app…"
        )

    def _delete_app(self) -> None:
        if (app := self.app.currentData()) not in (None, "?"):
            self.delete_app(app)

    def _ask_range(self) -> None:
        """Ask for a range of the day; it starts as the cursor's hour."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Delete a time range")
        cursor = (self.strip.cursor or self._day_start()).astimezone()
        start, end = (
            QTimeEdit(QTime(cursor.hour, 0)),
            QTimeEdit(QTime(cursor.hour, 59)),
        )
        form = QFormLayout(dialog)
        form.addRow("From", start)
        form.addRow("To", end)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            day = self.date.date().toPython()

            def at(edit: QTimeEdit) -> datetime:
                # Local wall time on that day, with that moment's own offset (DST days).
                return datetime.combine(day, edit.time().toPython()).astimezone()

            self.delete_range(at(start), at(end) + timedelta(seconds=59.999))  # the whole minute

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
        if self.host is not None:
            self.thumbs.show_captures(self.host.store.folder, self.captures)
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
