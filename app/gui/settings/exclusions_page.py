"""Settings → Exclusions: the programs, window titles and web domains never recorded, checked
against the windows open now."""

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from app.gui import tasks
from app.gui.icons import icon
from app.gui.settings.page import Page, lines, note
from core.settings import ExclusionSettings


class ExclusionsPage(Page):
    title = "Exclusions"
    icon_name = "forget"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.use_defaults = QCheckBox(
            "Never record password managers, private and incognito windows, or Mnemo itself"
        )
        self.apps = QPlainTextEdit()
        self.titles = QPlainTextEdit()
        self.domains = QPlainTextEdit()
        self.apps.setPlaceholderText("signal\nthunderbird")
        self.titles.setPlaceholderText("Bank\n^Payroll")
        self.domains.setPlaceholderText("mybank.com\nhealth.example.org")
        editors = QHBoxLayout()
        for label, edit in (
            ("Programs", self.apps),
            ("Window titles (patterns)", self.titles),
            ("Web domains", self.domains),
        ):
            column = QVBoxLayout()
            column.addWidget(QLabel(label))
            column.addWidget(edit)
            editors.addLayout(column)
        self.check_button = QPushButton(icon("search"), "Check the open windows")
        self.check_button.clicked.connect(self.check)
        self.windows = QTreeWidget()
        self.windows.setHeaderLabels(["Window", "Program", "Recorded?"])
        self.windows.setRootIsDecorated(False)
        self.windows.setColumnWidth(0, 300)
        self.check_status = note("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.use_defaults)
        layout.addWidget(note("One rule a line. Title patterns are regular expressions, any case."))
        layout.addLayout(editors, 1)
        layout.addWidget(self.check_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.windows, 1)
        layout.addWidget(self.check_status)
        self.task: tasks.Task | None = None

    def load(self, settings: Any) -> None:
        rules = settings.capture.exclusions
        self.use_defaults.setChecked(rules.use_defaults)
        self.apps.setPlainText("\n".join(rules.apps))
        self.titles.setPlainText("\n".join(rules.title_patterns))
        self.domains.setPlainText("\n".join(rules.domains))

    def rules(self) -> ExclusionSettings:
        return ExclusionSettings(
            use_defaults=self.use_defaults.isChecked(),
            apps=lines(self.apps),
            title_patterns=lines(self.titles),
            domains=lines(self.domains),
        )

    def save(self, settings: Any) -> None:
        settings.capture.exclusions = self.rules()

    def check(self) -> None:
        """Which open windows the rules as typed (not yet saved) would keep out."""
        rules = self.rules()
        host = self.host

        def shown(found: list[tuple[Any, str | None]]) -> None:
            self.windows.clear()
            for window, reason in found:
                verdict = f"no — {reason}" if reason else "yes"
                QTreeWidgetItem(self.windows, [window.title or "(untitled)", window.app, verdict])
            self.check_status.setText(f"{len(found)} windows open.")

        self.check_status.setText("Looking at the open windows…")
        self.task = tasks.run(
            lambda _ctx: host.open_windows(rules),
            on_done=shown,
            on_error=lambda error: self.check_status.setText(str(error)),
            parent=self,
        )
