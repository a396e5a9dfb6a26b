"""A row of small pictures across the day shown, so a person finds a moment by what was on
screen. Pictures are decoded and scaled off the GUI thread, a batch at a time, only for the
captures sampled for the row; a click moves the timeline there."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from app.gui import tasks

THUMBS = 24  # pictures across a day at most
WIDTH, HEIGHT = 120, 75
WHEN = Qt.ItemDataRole.UserRole


def sample(captures: Sequence[Any], n: int = THUMBS) -> list[Any]:
    """Up to `n` captures with pictures, spread evenly over those that have one."""
    pictured = [c for c in captures if c.thumbnail]
    if len(pictured) <= n:
        return pictured
    step = len(pictured) / n
    return [pictured[int(i * step)] for i in range(n)]


class ThumbRow(QListWidget):
    chosen = Signal(object)  # the datetime of the picture clicked
    loaded = Signal()  # the row's pictures are in

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(WIDTH, HEIGHT))
        self.setFixedHeight(HEIGHT + 44)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._generation = 0
        self._task: tasks.Task | None = None
        self.itemClicked.connect(lambda item: self.chosen.emit(item.data(WHEN)))

    def show_captures(
        self, picture_file: Callable[[Any], Path | None], captures: Sequence[Any]
    ) -> None:
        """Placeholders at once, then the pictures when a worker has decoded them;
        `picture_file(capture)` says which file is a capture's picture (None: no file of the
        store's own)."""
        self._generation += 1
        generation, chosen = self._generation, sample(captures)
        self.clear()
        blank = QPixmap(WIDTH, HEIGHT)
        blank.fill(Qt.GlobalColor.lightGray)
        for capture in chosen:
            label = capture.occurred_at.astimezone().strftime("%H:%M")
            item = QListWidgetItem(QIcon(blank), label)
            item.setData(WHEN, capture.occurred_at)
            item.setToolTip(f"{label} · {capture.app or ''} — {capture.title or ''}")
            self.addItem(item)

        def decode(ctx: Any) -> list[QImage | None]:
            images: list[QImage | None] = []
            for capture in chosen:
                if ctx.cancelled:  # another day or search since: its row is not this one
                    break
                path = picture_file(capture)
                image = QImage() if path is None else QImage(str(path))
                images.append(
                    None
                    if image.isNull()
                    else image.scaled(
                        WIDTH,
                        HEIGHT,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
            return images

        if self._task is not None:
            self._task.cancel()
        self._task = tasks.run(
            decode,
            on_done=lambda images: self._fill(generation, images),
            parent=self,
        )

    def _fill(self, generation: int, images: list[QImage | None]) -> None:
        if generation != self._generation:
            return  # another day or filter since
        for row, image in enumerate(images):
            if image is not None and row < self.count():
                self.item(row).setIcon(QIcon(QPixmap.fromImage(image)))
        self.loaded.emit()
