"""One message of the conversation: who said it, the text, and the citation chips under it."""

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QSizeF, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
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


class MessageText(QTextBrowser):
    """A message's text, as tall as its lines. An answer grows a piece at a time: each piece
    is inserted at the end of the document, which lays out again only its last paragraph (a
    word-wrapped QLabel measured and laid out its whole text for every piece: 7-15 ms per
    piece for a 256-token answer here, 50-90 ms on a busy machine, at every frame of a
    stream)."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.setObjectName("messageText")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.viewport().setAutoFillBackground(False)
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.setPlainText(text)

    def add(self, piece: str) -> None:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(piece)

    def _fit(self, size: QSizeF) -> None:
        self.setFixedHeight(int(size.height() + 0.99))


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
        self.body = MessageText(text)
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
        self.body.add(piece)

    def set_text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.body.setPlainText(text)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_citations(self, items: Sequence[Any], open_item: Callable[[Any], None]) -> None:
        self.chips.set_chips([CitationChip(item, open_item) for item in items])
        self.chips.setVisible(bool(items))
