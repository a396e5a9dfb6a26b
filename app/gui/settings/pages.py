"""One page per section of settings.toml. A page shows a Settings object (`load`) and writes
the user's choices back into one (`save`); the dialog saves and applies them through the host.
Work that touches the disk or the screen (a download, the open windows) goes through tasks."""

import os
import threading
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.icons import icon
from core.settings import ExclusionSettings


def _lines(edit: QPlainTextEdit) -> list[str]:
    return [line.strip() for line in edit.toPlainText().splitlines() if line.strip()]


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("note")
    return label


class Page(QWidget):
    title = ""
    icon_name = "settings"

    def __init__(self, host: Any) -> None:
        super().__init__()
        self.host = host

    def load(self, settings: Any) -> None:
        raise NotImplementedError

    def save(self, settings: Any) -> None:
        raise NotImplementedError


class ModelsPage(Page):
    title = "Models"
    icon_name = "model"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Model", "Where from", "Used for"])
        self.list.setRootIsDecorated(False)
        self.list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.chat = QComboBox()
        self.embedding = QComboBox()
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("all")
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("all cores but one")
        form = QFormLayout()
        form.addRow("Chat model", self.chat)
        form.addRow("Embedding model", self.embedding)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("CPU threads", self.threads)

        self.downloads = DownloadBox(host)
        self.downloads.downloaded.connect(self._downloaded)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        layout.addWidget(_note("A new embedding model re-indexes every memory at next start."))
        layout.addWidget(self.downloads)
        self.task: tasks.Task | None = None

    def load(self, settings: Any) -> None:
        """Show the settings now; the model list (reading each file's header) comes after."""
        for combo, current in (
            (self.chat, settings.models.chat),
            (self.embedding, settings.models.embedding),
        ):
            combo.clear()
            combo.addItem(current)
        self.gpu_layers.setValue(settings.models.gpu_layers)
        self.threads.setValue(settings.models.threads)
        self.task = tasks.run(lambda _ctx: self.host.models(), on_done=self._fill, parent=self)

    def _fill(self, entries: list[tuple[Any, str]]) -> None:
        chosen = {"chat": self.chat.currentText(), "embedding": self.embedding.currentText()}
        self.list.clear()
        for combo in (self.chat, self.embedding):
            combo.clear()
        for entry, kind in entries:
            used = [role for role, name in chosen.items() if name == entry.name]
            QTreeWidgetItem(self.list, [entry.name, entry.origin, ", ".join(used) or kind])
            if kind in chosen:
                (self.embedding if kind == "embedding" else self.chat).addItem(entry.name)
        for role, combo in (("chat", self.chat), ("embedding", self.embedding)):
            if combo.findText(chosen[role]) < 0:
                combo.addItem(chosen[role])
            combo.setCurrentText(chosen[role])

    def save(self, settings: Any) -> None:
        settings.models.chat = self.chat.currentText()
        settings.models.embedding = self.embedding.currentText()
        settings.models.gpu_layers = self.gpu_layers.value()
        settings.models.threads = self.threads.value()

    def _downloaded(self, name: str) -> None:
        """Offer the new model as the chat model (saved with Apply)."""
        if self.chat.findText(name) < 0:
            self.chat.addItem(name)
        self.chat.setCurrentText(name)


class DownloadBox(QGroupBox):
    """A recommended model to download, with a progress bar and Cancel (the part downloaded
    stays, and the next try resumes it)."""

    downloaded = Signal(str)

    def __init__(self, host: Any) -> None:
        super().__init__("Download a capable model")
        from core.llm.manager import recommended

        self.host = host
        self.choice = QComboBox()
        for model in recommended():
            if model.role == "chat":
                self.choice.addItem(f"{model.name} ({model.size})", model.name)
                self.choice.setItemData(
                    self.choice.count() - 1, model.about, Qt.ItemDataRole.ToolTipRole
                )
        self.download_button = QPushButton(icon("resume"), "Download")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.bar = QProgressBar()
        self.bar.hide()
        self.status = _note("")
        row = QHBoxLayout()
        row.addWidget(self.choice, 1)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        column = QVBoxLayout(self)
        column.addWidget(
            _note(
                "The bundled models work offline but are tiny. A recommended model writes "
                "much better memories and answers; it is downloaded once into the data folder."
            )
        )
        column.addLayout(row)
        column.addWidget(self.bar)
        column.addWidget(self.status)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel)
        self.task: tasks.Task | None = None
        self._cancel = threading.Event()

    def download(self) -> None:
        name = self.choice.currentData()
        self._cancel = cancel = threading.Event()
        host = self.host

        def work(ctx: tasks.Context) -> list[Any]:
            ctx.on_cancel(cancel.set)
            return host.download_model(
                name, lambda done, total: ctx.progress((done, total)), cancel
            )

        def progress(values: list[tuple[int, int | None]]) -> None:
            done, total = values[-1]
            if total:
                self.bar.setRange(0, 1000)
                self.bar.setValue(int(1000 * done / total))
                self.status.setText(f"{_size(done)} of {_size(total)}")

        def finished(entries: list[Any]) -> None:
            self._downloading(False)
            self.status.setText(f"Downloaded {entries[0].name}.")
            self.downloaded.emit(entries[0].name)

        def failed(error: BaseException) -> None:
            self._downloading(False)
            self.status.setText(
                "Download stopped; it resumes where it left off next time."
                if self._cancel.is_set()
                else f"Download failed: {error}"
            )

        self._downloading(True)
        self.status.setText(f"Downloading {name}…")
        self.task = tasks.run(
            work, on_done=finished, on_error=failed, on_progress=progress, parent=self
        )

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _downloading(self, on: bool) -> None:
        self.download_button.setEnabled(not on)
        self.cancel_button.setVisible(on)
        self.bar.setVisible(on)
        if on:
            self.bar.setRange(0, 0)


class CapturePage(Page):
    title = "Capture"
    icon_name = "capture"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.enabled = QCheckBox("Capture the screen while Mnemo runs")
        self.interval = QDoubleSpinBox()
        self.interval.setRange(0.5, 3600)
        self.interval.setSuffix(" s")
        self.ocr = QCheckBox("Read the text of what changes (OCR)")
        self.monitors: list[QCheckBox] = []
        screens = QGuiApplication.screens()
        monitors = QHBoxLayout()
        for number, screen in enumerate(screens, 1):
            box = QCheckBox(
                f"{number}: {screen.name()} ({screen.size().width()}×{screen.size().height()})"
            )
            self.monitors.append(box)
            monitors.addWidget(box)
        monitors.addStretch(1)
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Every", self.interval)
        form.addRow(self.ocr)
        form.addRow("Monitors", monitors)
        form.addRow(_note("No monitor ticked means all of them. Excluded windows are never kept."))

    def load(self, settings: Any) -> None:
        capture = settings.capture
        self.enabled.setChecked(settings.app.capture_on_start)
        self.interval.setValue(capture.interval_s)
        self.ocr.setChecked(capture.ocr)
        for number, box in enumerate(self.monitors, 1):
            box.setChecked(number in capture.monitors)

    def save(self, settings: Any) -> None:
        settings.app.capture_on_start = self.enabled.isChecked()
        settings.capture.interval_s = self.interval.value()
        settings.capture.ocr = self.ocr.isChecked()
        settings.capture.monitors = [n for n, box in enumerate(self.monitors, 1) if box.isChecked()]


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
        self.check_status = _note("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.use_defaults)
        layout.addWidget(
            _note("One rule a line. Title patterns are regular expressions, any case.")
        )
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
            apps=_lines(self.apps),
            title_patterns=_lines(self.titles),
            domains=_lines(self.domains),
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


class PrivacyPage(Page):
    title = "Privacy"
    icon_name = "picture"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.retention = QDoubleSpinBox()
        self.retention.setRange(0, 3650)
        self.retention.setSuffix(" days")
        self.retention.setSpecialValueText("keep")
        self.budget = QDoubleSpinBox()
        self.budget.setRange(1, 1_000_000)
        self.budget.setSuffix(" MB")
        self.emails = QCheckBox("Redact email addresses")
        self.phones = QCheckBox("Redact phone numbers")
        self.share_vault = QCheckBox("Let other tools read vault values (not high-sensitivity)")
        form = QFormLayout(self)
        form.addRow("Keep screen pictures for", self.retention)
        form.addRow("Pictures may use at most", self.budget)
        form.addRow(_note("Older pictures are deleted first; the text read from them stays."))
        form.addRow(self.emails)
        form.addRow(self.phones)
        form.addRow(
            _note(
                "API keys, tokens, passwords, card numbers and IBANs are always redacted "
                "before anything is stored or shown to a model."
            )
        )
        form.addRow(self.share_vault)
        form.addRow(
            _note(
                "Other tools: AI assistants and scripts connected with mnemo mcp. They see a "
                "vault item's caption, and never a high-sensitivity value."
            )
        )

    def load(self, settings: Any) -> None:
        self.share_vault.setChecked(settings.serve.share_vault_values)
        self.retention.setValue(settings.capture.retention_days)
        self.budget.setValue(settings.capture.disk_budget_mb)
        self.emails.setChecked(settings.privacy.redact_emails)
        self.phones.setChecked(settings.privacy.redact_phones)

    def save(self, settings: Any) -> None:
        settings.capture.retention_days = self.retention.value()
        settings.capture.disk_budget_mb = self.budget.value()
        settings.privacy.redact_emails = self.emails.isChecked()
        settings.privacy.redact_phones = self.phones.isChecked()
        settings.serve.share_vault_values = self.share_vault.isChecked()


class GeneralPage(Page):
    title = "General"
    icon_name = "settings"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.login = QCheckBox("Start Mnemo when I log in (in the tray)")
        folder = str(host.data_dir)
        self.folder = QLabel(folder)
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_folder = QPushButton(icon("open"), "Open the data folder")
        open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
        form = QFormLayout(self)
        form.addRow(self.login)
        form.addRow("Data folder", self.folder)
        form.addRow("", open_folder)
        form.addRow(
            _note(
                "Everything Mnemo keeps is in this folder, readable by you only. To move it, "
                "quit Mnemo, move the folder, and start Mnemo with MNEMO_DATA_DIR set to the "
                f"new place (now {'set' if os.environ.get('MNEMO_DATA_DIR') else 'not set'})."
            )
        )

    def load(self, settings: Any) -> None:
        self.login.setChecked(settings.app.start_at_login)

    def save(self, settings: Any) -> None:
        settings.app.start_at_login = self.login.isChecked()


PAGES = (ModelsPage, CapturePage, ExclusionsPage, PrivacyPage, GeneralPage)
