"""Settings → Models: the chat and embedding models, and downloading a capable one."""

import threading
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from app.gui import tasks
from app.gui.icons import icon
from app.gui.settings.page import Page, note, size


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
        self.build = QComboBox()
        self.build.setToolTip(
            "Which llama.cpp build runs the models: automatic picks a GPU build where one "
            "works, else the best for this CPU. A change applies at the next start."
        )
        self.build_in_use = note(_build_in_use())
        form = QFormLayout()
        form.addRow("Chat model", self.chat)
        form.addRow("Embedding model", self.embedding)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("CPU threads", self.threads)
        form.addRow("llama.cpp build", self.build)
        form.addRow("", self.build_in_use)

        self.downloads = DownloadBox(host)
        self.downloads.downloaded.connect(self._downloaded)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        layout.addWidget(note("A new embedding model re-indexes every memory at next start."))
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
        self.build.clear()
        self.build.addItem("Automatic", "auto")
        self.build.setCurrentIndex(0)
        self._build_choice = settings.models.llama_build
        self.task = tasks.run(self._read, on_done=self._fill, parent=self)

    def _read(self, _ctx: tasks.Context) -> tuple[list[tuple[Any, str]], list[Any]]:
        from core.llm import builds

        return self.host.models(), builds.here()

    def _fill(self, found: tuple[list[tuple[Any, str]], list[Any]]) -> None:
        entries, builds = found
        for build in builds:
            if self.build.findData(build.variant) < 0:
                self.build.addItem(build.label(), build.variant)
        if self.build.findData(self._build_choice) < 0:  # chosen, but not in this install
            self.build.addItem(self._build_choice, self._build_choice)
        self.build.setCurrentIndex(self.build.findData(self._build_choice))
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
        settings.models.llama_build = self.build.currentData() or "auto"

    def _downloaded(self, name: str) -> None:
        """Offer the new model as the chat model (saved with Apply)."""
        if self.chat.findText(name) < 0:
            self.chat.addItem(name)
        self.chat.setCurrentText(name)


def _build_in_use() -> str:
    from core.llm import builds

    chosen = builds.current()
    if chosen is None:
        return "In use: chosen when the models first load."
    return f"In use: {chosen.label} ({chosen.why})."


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
        self.status = note("")
        row = QHBoxLayout()
        row.addWidget(self.choice, 1)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        column = QVBoxLayout(self)
        column.addWidget(
            note(
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
                self.status.setText(f"{size(done)} of {size(total)}")

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
