"""What the graph view draws: one item per node (hover for its name, click to open it) and a
single item that draws every edge, clipped to the part of the scene being repainted, so a
repaint costs the visible edges, not an item per edge."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneMouseEvent,
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
LABEL_LOD = 0.6  # in a large graph, names show from this zoom on
ALWAYS_NAMED = 200  # a graph with this many entities or fewer names them at any zoom


class NodeItem(QGraphicsEllipseItem):
    """A node: entities are larger circles, memories smaller squares' round cousins."""

    def __init__(
        self,
        node_id: str,
        kind: str,
        label: str,
        entity: bool,
        opened: Callable[[str], None],
        moved: Callable[[str, QPointF], None],
    ) -> None:
        size = ENTITY_SIZE if entity else MEMORY_SIZE
        super().__init__(-size / 2, -size / 2, size, size)
        self.node_id, self.kind, self.label, self.entity = node_id, kind, label, entity
        self._opened, self._moved = opened, moved
        self._pressed_at: QPointF | None = None
        self.label_lod = LABEL_LOD  # the view sets 0 for a graph small enough to name all
        colour = QColor(COLOURS.get(kind, "#7f8c8d"))
        self.setBrush(QBrush(colour))
        self.setPen(QPen(colour.darker(140), 1.2 if entity else 0.8))
        self.setToolTip(f"{label}\n({kind})")
        self.setZValue(1)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        flags = QGraphicsItem.GraphicsItemFlag
        self.setFlags(flags.ItemIsSelectable | flags.ItemIsMovable | flags.ItemSendsGeometryChanges)

    def rename(self, label: str) -> None:
        self.label = label
        self.setToolTip(f"{label}\n({self.kind})")
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        rect = super().boundingRect()
        if self.entity:  # room for the name to the right
            rect = rect.adjusted(0, -4, 8 + 7 * min(len(self.label), LABEL_CHARS), 4)
        return rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        """The disc, and an entity's name once zoomed in enough to read it: at a whole
        graph's zoom, 1,000 names cost most of a frame and cannot be read anyway."""
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawEllipse(self.rect())
        if self.isSelected():
            painter.setPen(QPen(QColor("#c0392b"), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(self.rect().adjusted(-3, -3, 3, 3))
        if (
            self.entity
            and option.levelOfDetailFromTransform(painter.worldTransform()) >= self.label_lod
        ):  # type: ignore[attr-defined]
            painter.setPen(QColor("#2c3e50"))
            size = self.rect().width()
            painter.drawText(QPointF(size / 2 + 3, 4), self.label[:LABEL_CHARS])

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._moved(self.node_id, self.pos())
        return super().itemChange(change, value)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self._pressed_at = event.scenePos()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """A click opens the node; a drag only moves it."""
        pressed, self._pressed_at = self._pressed_at, None
        super().mouseReleaseEvent(event)
        if (
            event.button() == Qt.MouseButton.LeftButton
            and pressed is not None
            and (event.scenePos() - pressed).manhattanLength() < 4
        ):
            self._opened(self.node_id)


class EdgesItem(QGraphicsRectItem):
    """Every edge, drawn by one item."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[QLineF] = []
        self.setPen(QPen(QColor(127, 140, 141, 110), 0.8))
        self.setZValue(0)

    def set_lines(self, ends: Sequence[tuple[QPointF, QPointF]]) -> None:
        self.prepareGeometryChange()
        self._lines = [QLineF(a, b) for a, b in ends]
        xs = [p.x() for a, b in ends for p in (a, b)] or [0.0]
        ys = [p.y() for a, b in ends for p in (a, b)] or [0.0]
        self.setRect(QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))
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


def edge_ends(
    edges: Sequence[tuple[str, str, str]],
    positions: Mapping[str, tuple[float, float]],
    shown: set[str] | None = None,
) -> list[tuple[QPointF, QPointF]]:
    """Both ends of every edge whose nodes are placed (and shown, when `shown` is given)."""
    return [
        (QPointF(*positions[a]), QPointF(*positions[b]))
        for a, b, _ in edges
        if a in positions and b in positions and (shown is None or (a in shown and b in shown))
    ]
