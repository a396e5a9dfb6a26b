"""A memory's history: every change, newest first, with what each field was before, who made
it and why; "Restore this version" puts the memory back as it was then (an undoable edit)."""

import json
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from core.memory.models import Version

OLD_CHARS = 120


class HistoryView(QWidget):
    restore_requested = Signal(str, int)  # memory id, revision

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory_id = ""
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.restore = QPushButton("Restore this version")
        self.restore.setEnabled(False)
        self.restore.clicked.connect(self._restore)
        self.list.currentRowChanged.connect(
            lambda row: self.restore.setEnabled(row > 0)  # row 0 is the memory as it is now
        )
        column = QVBoxLayout(self)
        column.addWidget(self.list, 1)
        column.addWidget(self.restore)

    def show_history(self, memory_id: str, versions: list[Version]) -> None:
        self.memory_id = memory_id
        self.list.clear()
        for version in reversed(versions):
            when = version.changed_at.astimezone().strftime("%Y-%m-%d %H:%M")
            what = f" [{', '.join(version.changed)}]" if version.changed else ""
            lines = [f"rev {version.rev} · {when} · {version.actor}: {version.cause}{what}"]
            for key in version.changed:
                if version.old is not None and key in version.old and key != "secret_value":
                    old = json.dumps(version.old[key], ensure_ascii=False)
                    lines.append(f"    {key} was: {old[:OLD_CHARS]}")
            item = QListWidgetItem("\n".join(lines))
            item.setData(256, version.rev)  # Qt.UserRole
            self.list.addItem(item)
        self.restore.setEnabled(False)

    def _restore(self) -> None:
        item = self.list.currentItem()
        if item is not None and self.memory_id:
            rev: Any = item.data(256)
            self.restore_requested.emit(self.memory_id, int(rev))
