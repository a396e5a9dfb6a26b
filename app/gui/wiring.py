"""Small pieces of wiring the views share."""

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import QWidget


def debounced(parent: QWidget, ms: int, slot: Callable[[], None]) -> QTimer:
    """A single-shot timer that runs `slot` once `ms` after the last start(): many changes
    in a burst (typing, a batch of writes) cost one reload."""
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer


def undo_stack(widget: QWidget) -> QUndoStack:
    """An undo stack for `widget`, with Ctrl+Z and Ctrl+Shift+Z (the platform's keys)."""
    stack = QUndoStack(widget)
    QShortcut(QKeySequence.StandardKey.Undo, widget).activated.connect(stack.undo)
    QShortcut(QKeySequence.StandardKey.Redo, widget).activated.connect(stack.redo)
    return stack
