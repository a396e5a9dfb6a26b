"""A memory's history: every change, newest first, with what each field was before, who made
it and why; "Restore this version" puts the memory back as it was then (an undoable edit)."""

import json
from collections.abc import Sequence
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
        self.list.currentRowChanged.connect(self._choose)
        column = QVBoxLayout(self)
        column.addWidget(self.list, 1)
        column.addWidget(self.restore)

    def show_history(
        self, memory_id: str, versions: list[Version], graph: Sequence[Any] = ()
    ) -> None:
        """The memory's versions, and its graph changes made by hand (links drawn or taken
        away in the graph: core.store.graph.GraphEvent) between them by time."""
        self.memory_id = memory_id
        self.list.clear()
        events = sorted(graph, key=lambda e: e.at, reverse=True)
        for version in reversed(versions):
            while events and events[0].at > version.changed_at:
                self._add_event(events.pop(0))
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
        for event in events:
            self._add_event(event)
        self.restore.setEnabled(False)

    def _add_event(self, event: Any) -> None:
        """A graph change: shown, not restorable (its undo is in the graph's Ctrl+Z)."""
        when = event.at.astimezone().strftime("%Y-%m-%d %H:%M")
        item = QListWidgetItem(f"graph · {when} · {event.actor}: {event.describe()}")
        item.setData(256, None)
        self.list.addItem(item)

    def _choose(self, row: int) -> None:
        # The newest version is the memory as it is now; graph changes are not versions.
        item = self.list.item(row)
        newest = next(
            (r for r in range(self.list.count()) if self.list.item(r).data(256) is not None), -1
        )
        self.restore.setEnabled(item is not None and item.data(256) is not None and row != newest)

    def _restore(self) -> None:
        item = self.list.currentItem()
        if item is not None and item.data(256) is not None and self.memory_id:
            rev: Any = item.data(256)
            self.restore_requested.emit(self.memory_id, int(rev))
