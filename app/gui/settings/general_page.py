"""Settings → General: starting at login, and where the data folder is."""

import os
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QPushButton

from app.gui.icons import icon
from app.gui.settings.page import Page, note


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
            note(
                "Everything Mnemo keeps is in this folder, readable by you only. To move it, "
                "quit Mnemo, move the folder, and start Mnemo with MNEMO_DATA_DIR set to the "
                f"new place (now {'set' if os.environ.get('MNEMO_DATA_DIR') else 'not set'})."
            )
        )

    def load(self, settings: Any) -> None:
        self.login.setChecked(settings.app.start_at_login)

    def save(self, settings: Any) -> None:
        settings.app.start_at_login = self.login.isChecked()
