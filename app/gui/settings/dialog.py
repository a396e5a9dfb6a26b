"""The settings window: a page per section; Apply (or OK) saves settings.toml and makes the
changes take effect at once through the host, off the GUI thread."""

from typing import Any

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.icons import icon
from app.gui.settings.pages import PAGES, Page


class SettingsDialog(QDialog):
    applied = Signal(list)  # notes on what waits for the next start

    def __init__(self, host: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Mnemo settings")
        self.resize(820, 600)
        self.host = host
        self.pages: list[Page] = [page(host) for page in PAGES]
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(180)
        self.nav.setIconSize(QSize(18, 18))
        self.stack = QStackedWidget()
        for page in self.pages:
            item = QListWidgetItem(icon(page.icon_name), page.title)
            item.setSizeHint(QSize(160, 36))
            self.nav.addItem(item)
            self.stack.addWidget(page)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("note")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel
        )
        self.apply_button = buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.clicked.connect(lambda: self.apply())
        buttons.accepted.connect(lambda: self.apply(close=True))
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.task: tasks.Task | None = None
        for page in self.pages:
            page.load(host.settings)

    def page(self, kind: type[Page]) -> Any:
        return next(page for page in self.pages if isinstance(page, kind))

    def show_page(self, kind: type[Page]) -> None:
        self.nav.setCurrentRow(self.pages.index(self.page(kind)))

    def apply(self, *, close: bool = False) -> tasks.Task | None:
        """Save every page's choices and apply them; errors are shown, nothing half-saved."""
        new = self.host.settings.model_copy(deep=True)
        try:
            for page in self.pages:
                page.save(new)
        except ValueError as exc:  # pydantic's validation, e.g. a value out of range
            self.message.setText(f"Not saved: {exc}")
            return None
        host = self.host
        self.apply_button.setEnabled(False)
        self.message.setText("Saving…")

        def done(notes: list[str]) -> None:
            self.apply_button.setEnabled(True)
            self.message.setText("Saved. " + " ".join(n[0].upper() + n[1:] + "." for n in notes))
            self.applied.emit(notes)
            if close:
                self.accept()

        def failed(error: BaseException) -> None:
            self.apply_button.setEnabled(True)
            self.message.setText(f"Not saved: {error}")

        self.task = tasks.run(
            lambda _ctx: host.apply_settings(new), on_done=done, on_error=failed, parent=self
        )
        return self.task
