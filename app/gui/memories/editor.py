"""The editor of one memory: the type's own fields, each as text, with the store's validation
message shown inline and nothing written when it refuses. A core block shows how much of its
limit it uses as you type. The vault's secret is not edited here (it stays masked)."""

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.memory.models import Memory

LONG_FIELDS = {"summary", "details", "value", "content", "steps", "caption"}
READ_ONLY = {"tree_path", "type"}
LAST = ("source", "source_app")  # where it came from, after what it says


class MemoryEditor(QWidget):
    save_requested = Signal(str, dict)  # memory id, changed fields

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory: Memory | None = None
        self._fields: dict[str, QLineEdit | QPlainTextEdit] = {}
        self._original: dict[str, Any] = {}
        self.form = QFormLayout()
        self.counter = QLabel()
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)
        self.save = QPushButton("Save")
        self.save.setEnabled(False)
        self.save.clicked.connect(self._save)
        row = QHBoxLayout()
        row.addWidget(self.error, 1)
        row.addWidget(self.counter)
        row.addWidget(self.save)
        column = QVBoxLayout(self)
        column.addLayout(self.form)
        column.addLayout(row)
        column.addStretch(1)

    def edit(self, memory: Memory) -> None:
        """Show `memory`'s fields for editing."""
        while self.form.rowCount():
            self.form.removeRow(0)
        self.memory, self._fields = memory, {}
        payload = memory.payload()
        order = [k for k in payload if k not in LAST] + [k for k in LAST if k in payload]
        self._original = {k: payload[k] for k in order if k not in READ_ONLY}
        for key, value in self._original.items():
            text = "\n".join(map(str, value)) if isinstance(value, list) else _text(value)
            field: QLineEdit | QPlainTextEdit
            if key in LONG_FIELDS or isinstance(value, list):
                field = QPlainTextEdit(text)
                field.setMaximumHeight(140 if key in ("value", "content") else 80)
                field.textChanged.connect(self._changed)
            else:
                field = QLineEdit(text)
                field.textChanged.connect(self._changed)
            field.setObjectName(f"field-{key}")
            self._fields[key] = field
            self.form.addRow(key.replace("_", " "), field)
        self.error.clear()
        self._changed()

    def changes(self) -> dict[str, Any]:
        """The fields whose text differs from the memory's, as the store takes them."""
        found: dict[str, Any] = {}
        for key, field in self._fields.items():
            text = field.toPlainText() if isinstance(field, QPlainTextEdit) else field.text()
            original = self._original[key]
            if isinstance(original, list):
                value: Any = [line.strip() for line in text.splitlines() if line.strip()]
            elif isinstance(original, int) and not isinstance(original, bool):
                value = int(text) if text.strip().lstrip("-").isdigit() else text
            elif original is None and not text:
                value = None
            else:
                value = text
            if value != original:
                found[key] = value
        return found

    def show_error(self, message: str) -> None:
        self.error.setText(message)

    def _changed(self) -> None:
        self.error.clear()
        self.save.setEnabled(bool(self.changes()))
        value = self._fields.get("value")
        if self.memory is not None and isinstance(value, QPlainTextEdit):
            used, limit = len(value.toPlainText()), getattr(self.memory, "char_limit", 0)
            self.counter.setText(f"{used:,} / {limit:,} characters")
            self.counter.setStyleSheet("color: #c0392b" if used > limit else "")
        else:
            self.counter.clear()

    def _save(self) -> None:
        if self.memory is not None and (changes := self.changes()):
            self.save.setEnabled(False)
            self.save_requested.emit(self.memory.id, changes)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
