"""The timeline's "Delete…": what is shown (the day, or one app's captures that day), a time
range of the day, or everything from one app, everywhere, after saying how much goes. A mixin
of TimelineView (app.gui.timeline.view), kept apart for size: it shares its state."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QMessageBox,
    QTimeEdit,
)

from app.gui import tasks

APP_LIMIT = 1_000_000  # captures read to delete everything from one app


class DeletingMixin:
    # What these methods use of the view (see TimelineView), a QWidget.
    host: Any
    captures: list[Any]
    last_question: str
    date: QDateEdit
    search: QLineEdit
    delete_app_action: Any

    if TYPE_CHECKING:
        from app.gui.timeline.strip import DayStrip

        strip: DayStrip
        app: Any

        def _day_start(self) -> datetime: ...
        def _deleted(self, count: int) -> None: ...

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
