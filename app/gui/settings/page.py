"""What every settings page is: it shows a Settings object (`load`) and writes the user's
choices back into one (`save`); the dialog saves and applies them through the host. Work that
touches the disk or the screen (a download, the open windows) goes through tasks."""

from typing import Any

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QWidget


def lines(edit: QPlainTextEdit) -> list[str]:
    return [line.strip() for line in edit.toPlainText().splitlines() if line.strip()]


def size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def note(text: str) -> QLabel:
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
