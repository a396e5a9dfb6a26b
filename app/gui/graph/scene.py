"""What the graph view draws: one item per node (hover for its name, click to open it) and a
single item that draws every edge, clipped to the part of the scene being repainted, so a
repaint costs the visible edges, not an item per edge."""

import functools
from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QCursor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

COLOURS = {
    "person": "#e67e22",
    "place": "#27ae60",
    "organization": "#8e44ad",
    "project": "#2980b9",
    "topic": "#16a085",
    "other": "#7f8c8d",
    "episodic": "#3498db",
    "semantic": "#d4ac0d",
    "procedural": "#1abc9c",
    "resource": "#95a5a6",
    "knowledge_vault": "#c0392b",
    "core": "#34495e",
}
ENTITY_SIZE, MEMORY_SIZE = 16.0, 10.0
LABEL_CHARS = 40
LABEL_LOD = 0.8  # in a large graph, names show from this zoom on (smaller, they cannot be
# read, and a few hundred of them cost most of a frame)
ALWAYS_NAMED = 200  # a graph with this many entities or fewer names them at any zoom


def _hairline(colour: QColor) -> QPen:
    """A one-pixel line at any zoom: the raster engine draws it directly, where a pen with a
    width in scene units is stroked into polygons (most of a zoomed-in frame's time)."""
    pen = QPen(colour, 0)
    pen.setCosmetic(True)
    return pen


@functools.cache
def _style(kind: str) -> tuple[QBrush, QPen, QCursor, QGraphicsItem.GraphicsItemFlag]:
    """A kind's brush, pen, cursor and flags, made once: made for each of 2,000 nodes they
    were most of what placing a graph cost the GUI thread."""
    colour = QColor(COLOURS.get(kind, "#7f8c8d"))
    flags = QGraphicsItem.GraphicsItemFlag
    return (
        QBrush(colour),
        _hairline(colour.darker(140)),
        QCursor(Qt.CursorShape.PointingHandCursor),
        flags.ItemIsSelectable | flags.ItemIsMovable,
    )


class NodeItem(QGraphicsEllipseItem):
    """A node: entities are larger circles, memories smaller squares' round cousins."""

    def __init__(
        self,
        node_id: str,
        kind: str,
        label: str,
        entity: bool,
        opened: Callable[[str], None],
        moved: Callable[["NodeItem"], None],
    ) -> None:
        size = ENTITY_SIZE if entity else MEMORY_SIZE
        super().__init__(-size / 2, -size / 2, size, size)
        self.node_id, self.kind, self.label, self.entity = node_id, kind, label, entity
        self._opened, self._moved = opened, moved
        brush, pen, cursor, flags = _style(kind)
        self.setBrush(brush)
        self.setPen(pen)
        self.setToolTip(f"{label}\n({kind})")
        self.setZValue(1)
        self.setCursor(cursor)
        self.setFlags(flags)
        # No paint() or itemChange() of our own: Qt calls them in C++ for each item many
        # times (each frame; each change while 2,000 items are placed), and a Python
        # override makes every call a Python one. A drag is followed by its mouse moves.
        self.name: QGraphicsSimpleTextItem | None = None  # made when first shown

    def show_name(self, shown: bool) -> None:
        """An entity's name beside it. Made on first use: a large graph shows none until
        zoomed in, and 1,000 text items cost the placing of the graph ~30 ms."""
        if not self.entity or (self.name is None and not shown):
            return
        if self.name is None:
            size = self.rect().width()
            self.name = QGraphicsSimpleTextItem(self.label[:LABEL_CHARS], self)
            self.name.setBrush(QBrush(QColor("#2c3e50")))
            self.name.setPos(size / 2 + 3, -size / 2 - 2)
        self.name.setVisible(shown)

    def rename(self, label: str) -> None:
        self.label = label
        self.setToolTip(f"{label}\n({self.kind})")
        if self.name is not None:
            self.name.setText(label[:LABEL_CHARS])

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseMoveEvent(event)  # moves this node and the other selected ones
        self._moved(self)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """A double click opens the node; a click selects it (Ctrl+click adds to the
        selection, for Link and Merge), a drag moves it."""
        if event.button() == Qt.MouseButton.LeftButton:
            self._opened(self.node_id)
        super().mouseDoubleClickEvent(event)


class EdgesItem(QGraphicsRectItem):
    """Every edge, drawn by one item."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[QLineF] = []
        self.setPen(_hairline(QColor(127, 140, 141, 110)))
        self.setZValue(0)

    def set_lines(self, lines: list[QLineF], bounds: QRectF) -> None:
        self.prepareGeometryChange()
        self._lines = lines
        self.setRect(bounds)
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setClipRect(option.exposedRect)  # type: ignore[attr-defined]
        # Hairlines without antialiasing: thousands of them draw several times faster, and
        # a 0.8 px grey line looks the same either way.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self.pen())
        painter.drawLines(self._lines)


def edge_lines(
    edges: Sequence[tuple[str, str, str]],
    positions: Mapping[str, tuple[float, float]],
    shown: set[str] | None = None,
) -> tuple[list[QLineF], QRectF]:
    """A line for every edge whose nodes are placed (and shown, when `shown` is given), and
    the rectangle they span. Plain floats throughout: this runs on every drag step."""
    lines, xs, ys = [], [0.0], [0.0]
    for a, b, _ in edges:
        if a in positions and b in positions and (shown is None or (a in shown and b in shown)):
            (x1, y1), (x2, y2) = positions[a], positions[b]
            lines.append(QLineF(x1, y1, x2, y2))
            xs += (x1, x2)
            ys += (y1, y2)
    if len(xs) > 1:
        xs, ys = xs[1:], ys[1:]
    return lines, QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
