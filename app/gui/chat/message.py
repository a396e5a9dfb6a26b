"""One message of the conversation: who said it, the text, and the citation chips under it."""

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.icons import icon

CHIP_CHARS = 38


class FlowRow(QWidget):
    """Chips left to right, wrapping onto as many rows as the width needs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(4)
        self._chips: list[QWidget] = []

    def set_chips(self, chips: Sequence[QWidget], per_row: int = 3) -> None:
        while self._column.count():
            item = self._column.takeAt(0)
            if item.layout():
                item.layout().deleteLater()
        self._chips = list(chips)
        for start in range(0, len(chips), per_row):
            row = QHBoxLayout()
            row.setSpacing(6)
            for chip in chips[start : start + per_row]:
                row.addWidget(chip)
            row.addStretch(1)
            self._column.addLayout(row)

    @property
    def chips(self) -> list[QWidget]:
        return self._chips


class CitationChip(QToolButton):
    """A cited memory or input; clicking opens it."""

    def __init__(self, item: Any, open_item: Callable[[Any], None]) -> None:
        super().__init__()
        self.item = item
        label = " ".join(item.label.split())
        short = label if len(label) <= CHIP_CHARS else label[: CHIP_CHARS - 1] + "…"
        self.setText(f"{item.number}  {short}" if item.number else short)
        self.setIcon(icon("memory" if item.kind == "memory" else "source"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setToolTip(
            f"{item.kind}: {label}" + (f"\n{item.when:%Y-%m-%d %H:%M}" if item.when else "")
        )
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setObjectName("chip")
        self.clicked.connect(lambda: open_item(self.item))


class MessageCard(QFrame):
    """A user's message or Mnemo's answer. Answers grow as their text streams in."""

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName("userCard" if role == "user" else "answerCard")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)
        self.who = QLabel("You" if role == "user" else "Mnemo")
        self.who.setObjectName("who")
        self.body = QLabel(text)
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        self.note.hide()
        self.chips = FlowRow()
        self.chips.hide()
        layout.addWidget(self.who)
        layout.addWidget(self.body)
        layout.addWidget(self.chips)
        layout.addWidget(self.note)
        self._text = text

    @property
    def text(self) -> str:
        return self._text

    def append(self, piece: str) -> None:
        self._text += piece
        self.body.setText(self._text)

    def set_text(self, text: str) -> None:
        self._text = text
        self.body.setText(text)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_citations(self, items: Sequence[Any], open_item: Callable[[Any], None]) -> None:
        self.chips.set_chips([CitationChip(item, open_item) for item in items])
        self.chips.setVisible(bool(items))
