"""The capture timeline: a day of screen captures by app, a cursor to scrub through it, and
the moment under the cursor — its picture (decoded off the GUI thread), window, app and text,
with a search's matches marked, and the memories written from it; a row of thumbnails across
the day. "Delete…" (app.gui.timeline.deleting) removes captures everywhere.

Nothing that grows with the day runs on the GUI thread more than once per day or search: the
search is the store's (FTS, on a worker, the newest query's answer the only one shown), the
strip's bars are one picture drawn on a worker, and a cursor move is a binary search."""

import bisect
import html
import logging
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
    QMenu,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import LINK, ItemDialog, linked_item
from app.gui.timeline.deleting import DeletingMixin
from app.gui.timeline.strip import DayStrip
from app.gui.timeline.thumbs import ThumbRow
from app.gui.wiring import debounced
from core.errors import Closed

log = logging.getLogger(__name__)
DAY_LIMIT = 20_000  # captures read for one day
PICTURE_WIDTH = 520
TYPING_PAUSE_MS = 200  # the search runs once typing pauses this long


class TimelineView(DeletingMixin, QWidget):
    loaded = Signal()  # a day's captures are on the strip
    searched = Signal()  # the answer for the search typed is shown (a reload's included)
    shown = Signal()  # the moment under the cursor is shown
    deleted = Signal(int)  # how many captures a delete removed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.day_captures: list[Any] = []
        self.captures: list[Any] = []  # after the app filter and the search
        self.matches: set[str] | None = None  # the search's captures (None: no search)
        self.current: Any = None
        self.opened: ItemDialog | None = None
        self.last_question = ""  # the last delete's confirmation (tests read it)
        self._times: list[datetime] = []  # of `captures`, for the cursor's binary search
        self._generation = 0  # a newer reload or search makes an answer on its way stale
        self._day_loaded = False  # the newest reload's answer has come
        self._search_task: tasks.Task | None = None
        self._moment_task: tasks.Task | None = None  # the moment being read, if any

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
        self.search.textChanged.connect(lambda _text: self._typing.start())
        self.strip.moved.connect(self.show_moment)
        self.thumbs.chosen.connect(self.show_moment)
        self.previous.clicked.connect(lambda: self.date.setDate(self.date.date().addDays(-1)))
        self.next.clicked.connect(lambda: self.date.setDate(self.date.date().addDays(1)))
        self._refresh = debounced(self, 2000, self.reload)  # captures come every few seconds
        self._typing = debounced(self, TYPING_PAUSE_MS, self.search_now)

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
        """Read the day's captures (and the search's matches among them) on a worker."""
        self._refresh.stop()  # this reload is the one a pending change asked for
        if self.host is None:
            return
        host, start = self.host, self._day_start()
        end = start + timedelta(days=1) - timedelta(microseconds=1)
        wanted = self.search.text().strip()
        self._typing.stop()  # the search typed so far is part of this reload
        generation = self._stale_all()
        self._day_loaded = False

        def work(_ctx: tasks.Context) -> tuple[list[Any], set[str] | None]:
            captures = host.sources_between(start, end, kinds=["capture"], limit=DAY_LIMIT)
            return captures, _matching(host, wanted, start, end)

        tasks.run(
            work,
            on_done=lambda found: self._loaded(*found) if generation == self._generation else None,
            parent=self,
        )

    def search_now(self) -> tasks.Task | None:
        """Run the search typed so far in the store, on a worker, without waiting for the
        typing to pause; the newest search's answer is the only one shown. Returns its task
        (None when there is nothing to ask: no host, or the day's reload will answer)."""
        self._typing.stop()
        if self.host is None:
            return None
        if not self._day_loaded:  # a reload is on its way: it will answer for this text
            self.reload()
            return None
        host, start = self.host, self._day_start()
        end = start + timedelta(days=1) - timedelta(microseconds=1)
        wanted = self.search.text().strip()
        generation = self._stale_all()
        self._search_task = tasks.run(
            lambda _ctx: _matching(host, wanted, start, end),
            on_done=lambda ids: self._searched(ids) if generation == self._generation else None,
            parent=self,
        )
        return self._search_task

    def show_moment(self, when: datetime) -> None:
        """Show the capture on screen at `when`: the last one taken at or before it."""
        index = bisect.bisect_right(self._times, when) - 1
        capture = self.captures[max(index, 0)] if self.captures else None
        self.strip.cursor = when
        self.strip.update()
        if capture is None or capture is self.current:
            return
        self.current = capture
        if self._moment_task is None:  # else the one on its way reads this one next
            self._read_moment(capture)

    def _read_moment(self, capture: Any) -> None:
        """Decode the moment's picture and read its memories on a worker; a drag across the
        strip reads one moment at a time, the latest when the last is done."""
        host = self.host

        def load(_ctx: tasks.Context) -> tuple[QImage | None, list[Any]]:
            image = None
            if (path := host.picture_file(capture)) is not None:
                image = QImage(str(path))  # decoded here, off-thread
                if not image.isNull():
                    image = image.scaledToWidth(
                        PICTURE_WIDTH, Qt.TransformationMode.SmoothTransformation
                    )
            return image, host.memories_of_source(capture.id)

        def done(result: tuple[QImage | None, list[Any]]) -> None:
            self._moment_task = None
            if capture is self.current:
                self._show(capture, *result)
            elif self.current is not None:
                self._read_moment(self.current)  # the cursor moved on meanwhile

        def failed(error: BaseException) -> None:
            self._moment_task = None
            if not isinstance(error, Closed):  # the app is quitting: nothing to show
                log.error("could not read the moment under the cursor", exc_info=error)

        self._moment_task = tasks.run(load, on_done=done, on_error=failed, parent=self)

    # -- what arrives ----------------------------------------------------------------------

    def _stale_all(self) -> int:
        """A new reload or search: what the ones before it answer is dropped."""
        self._generation += 1
        if self._search_task is not None:
            self._search_task.cancel()
            self._search_task = None
        return self._generation

    def _loaded(self, captures: list[Any], matches: set[str] | None) -> None:
        self._day_loaded = True
        self.day_captures, self.matches = captures, matches
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
        self.searched.emit()

    def _searched(self, matches: set[str] | None) -> None:
        self._search_task = None
        self.matches = matches
        self._filter()
        self.searched.emit()

    def _filter(self) -> None:
        """Show the day's captures that the app filter and the search let through."""
        app, matches = self.app.currentData(), self.matches
        self.captures = [
            c
            for c in self.day_captures
            if (app is None or (c.app or "?") == app) and (matches is None or c.id in matches)
        ]
        self._times = [c.occurred_at for c in self.captures]
        self.strip.show_day(self._day_start(), self.captures)
        if self.host is not None:
            self.thumbs.show_captures(self.host.picture_file, self.captures)
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


def _matching(host: Any, wanted: str, start: datetime, end: datetime) -> set[str] | None:
    """The ids of the day's captures that match the search (None: no search)."""
    if not wanted:
        return None
    return set(host.sources_matching(wanted, start, end, kinds=["capture"], limit=DAY_LIMIT))


def _marked(text: str, wanted: str) -> str:
    """The text as HTML, each word of the search marked where a word starts with it, as the
    store's search matched (found in the raw text, each piece escaped on its own, so a search
    for "t" cannot split "&lt;")."""
    words = sorted(set(re.findall(r"\w+", wanted)), key=len, reverse=True)
    if not words:
        return html.escape(text).replace("\n", "<br>")
    pattern = r"\b(" + "|".join(map(re.escape, words)) + ")"
    pieces = re.split(pattern, text, flags=re.IGNORECASE)
    marked = "".join(
        f"<span style='background:#f9e79f'>{html.escape(piece)}</span>"
        if n % 2
        else html.escape(piece)
        for n, piece in enumerate(pieces)
    )
    return marked.replace("\n", "<br>")
