"""The first run: what Mnemo is and where it keeps things, the models (the bundled ones work
now; a capable one can be downloaded), and consent before any capture, with the exclusions
shown and editable. Finishing saves the choices through the host."""

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.gui import tasks
from app.gui.icons import icon
from app.gui.settings.pages import DownloadBox, ExclusionsPage


def _text(html: str) -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    return label


class FirstRun(QWizard):
    """Shown once, when settings say the welcome has not been seen."""

    saved = Signal(bool)  # whether the user agreed to capture

    def __init__(self, host: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.setWindowTitle("Welcome to Mnemo")
        self.setWindowIcon(icon("app"))
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, icon("app").pixmap(48, 48))
        self.resize(760, 620)
        self.downloaded: str | None = None
        self.task: tasks.Task | None = None

        welcome = QWizardPage()
        welcome.setTitle("Mnemo remembers for you")
        welcome.setSubTitle("A private memory of what you see and say, kept on this computer.")
        column = QVBoxLayout(welcome)
        column.addWidget(
            _text(
                "<p>Mnemo reads what is on your screen and what you tell it, and writes "
                "memories from it: events, facts, how-tos, documents, and secrets (encrypted). "
                "Ask it anything in the chat; every answer shows where it comes from.</p>"
                "<p><b>Nothing leaves this computer.</b> The models run here, and secrets "
                "such as API keys and passwords are redacted before anything is stored.</p>"
                f"<p>Everything is kept in <code>{host.data_dir}</code>, readable by you "
                "only.</p>"
            )
        )
        column.addStretch(1)

        models = QWizardPage()
        models.setTitle("Models")
        models.setSubTitle("Mnemo works now, offline, with the small models it comes with.")
        self.downloads = DownloadBox(host)
        self.downloads.downloaded.connect(self._downloaded)
        column = QVBoxLayout(models)
        column.addWidget(
            _text(
                "The bundled chat model (SmolLM2, 135M) is tiny: it answers from your memory "
                "but writes plain memories. You can download a capable model now, or later "
                "from Settings → Models."
            )
        )
        column.addWidget(self.downloads)
        column.addStretch(1)

        capture = QWizardPage()
        capture.setTitle("Screen capture")
        capture.setSubTitle("Off unless you turn it on. You can pause it any time from the tray.")
        self.consent = QCheckBox("Capture my screen while Mnemo runs")
        interval = host.settings.capture.interval_s
        self.exclusions = ExclusionsPage(host)
        self.exclusions.load(host.settings)
        column = QVBoxLayout(capture)
        column.addWidget(
            _text(
                f"Every {interval:g} s Mnemo looks at the screen, reads the text of what "
                "changed, and keeps small pictures for 30 days. The windows below are never "
                "recorded; add your own (a banking site, a private chat)."
            )
        )
        column.addWidget(self.consent)
        column.addWidget(self.exclusions, 1)

        done = QWizardPage()
        done.setTitle("Ready")
        column = QVBoxLayout(done)
        column.addWidget(
            _text(
                "<p>Mnemo lives in the tray: closing its window keeps it running; Quit is in "
                "the tray's menu.</p><p>Try: <i>remember that my passport expires in "
                "June</i>, then ask <i>when does my passport expire?</i></p>"
                "<p>Shortcuts: Ctrl+K ask, Ctrl+N new chat, Esc stop an answer.</p>"
            )
        )
        column.addStretch(1)
        for page in (welcome, models, capture, done):
            self.addPage(page)
        self.accepted.connect(self.save)
        self.rejected.connect(self.save)  # closing the welcome still counts as seen

    def _downloaded(self, name: str) -> None:
        self.downloaded = name

    def save(self) -> tasks.Task:
        """The choices go to settings.toml; capture starts only if the box was ticked."""
        new = self.host.settings.model_copy(deep=True)
        new.app.first_run_done = True
        agreed = self.result() == QWizard.DialogCode.Accepted and self.consent.isChecked()
        new.app.capture_on_start = agreed
        if self.result() == QWizard.DialogCode.Accepted:
            self.exclusions.save(new)
        if self.downloaded:
            new.models.chat = self.downloaded
        host = self.host
        parent = self.parentWidget()

        def failed(error: BaseException) -> None:
            QMessageBox.warning(
                parent, "Mnemo", f"Your choices could not be saved: {error}\nSee Settings."
            )
            self.saved.emit(False)

        self.task = tasks.run(
            lambda _ctx: host.apply_settings(new),
            on_done=lambda _notes: self.saved.emit(agreed),
            on_error=failed,
        )
        return self.task
