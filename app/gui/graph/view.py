"""The memory graph: people, places and organisations (large circles) and the memories that
mention them (small), laid out off the GUI thread, starting from where nodes already were.
Wheel to zoom, drag to pan, hover for a name, click to open, type to find a node."""

from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QPainter, QUndoCommand, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import ItemDialog
from app.gui.graph.scene import COLOURS, EdgesItem, NodeItem, edge_ends
from app.gui.wiring import debounced, undo_stack

LEGEND = ("person", "place", "organization", "topic", "episodic", "semantic")


class MergeEntities(QUndoCommand):
    """Two nodes become one; undo splits them again (store.split_entity)."""

    def __init__(self, host: Any, keep: str, drop: str, view: "GraphView") -> None:
        super().__init__("merge two entities")
        self.host, self.keep, self.drop, self.view = host, keep, drop, view
        self.moved: Any = None

    def redo(self) -> None:
        host, keep, drop = self.host, self.keep, self.drop

        def merged(moved: Any) -> None:
            self.moved = moved
            self.view.merged.emit()

        tasks.run(
            lambda _ctx: host.merge_entities(keep, drop),
            on_done=merged,
            on_error=lambda error: self.view.status.setText(f"Could not merge: {error}"),
            parent=self.view,
        )

    def undo(self) -> None:
        host, moved = self.host, self.moved
        if moved is None:
            return

        def split(entity: Any) -> None:
            self.drop = entity.id  # a redo merges the restored node again
            self.view.merged.emit()

        tasks.run(
            lambda _ctx: host.split_entity(moved),
            on_done=split,
            on_error=lambda error: self.view.status.setText(f"Could not undo: {error}"),
            parent=self.view,
        )


class ZoomingView(QGraphicsView):
    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        self.scale(factor, factor)


class GraphView(QWidget):
    laid_out = Signal()  # a layout reached the screen
    merged = Signal()  # a merge (or its undo) reached the store
    opened = Signal(str, bool)  # node id, whether it is an entity

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.positions: dict[str, tuple[float, float]] = {}
        self.nodes: dict[str, NodeItem] = {}
        self.scene = QGraphicsScene(self)
        self.view = ZoomingView(self.scene)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.view.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.edges = EdgesItem()
        self.scene.addItem(self.edges)
        self.find = QLineEdit()
        self.find.setPlaceholderText("Find a person, place or memory")
        self.find.setClearButtonEnabled(True)
        self.find.returnPressed.connect(self.focus_match)
        self.merge = QPushButton("Merge")
        self.merge.setToolTip("Two selected people or places are one: merge them (Ctrl+Z undoes)")
        self.merge.setEnabled(False)
        self.merge.clicked.connect(self.merge_selected)
        self.undo_stack = undo_stack(self)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.status = QLabel()
        self.status.setObjectName("muted")
        sample = "2,000 entities · 2,000 memories · 4,000 links"
        self.status.setMinimumWidth(self.status.fontMetrics().horizontalAdvance(sample) + 8)
        legend = QHBoxLayout()
        for kind in LEGEND:
            dot = QLabel(f"<span style='color:{COLOURS[kind]}'>●</span> {kind}")
            legend.addWidget(dot)
        legend.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        top = QHBoxLayout()
        top.addWidget(self.find, 1)
        top.addWidget(self.merge)
        top.addWidget(self.status)
        column.addLayout(top)
        column.addWidget(self.view, 1)
        column.addLayout(legend)
        # Changes come in bursts while a batch is written.
        self._refresh = debounced(self, 1000, self.reload)
        self._task: tasks.Task | None = None
        self._edge_list: list[tuple[str, str, str]] = []
        self._generation = 0
        self.opened_dialog: ItemDialog | None = None

    def set_host(self, host: Any) -> None:
        self.host = host
        self.reload()

    def changed(self, change: Any) -> None:
        # A deleted input can take entities with it (they go with their last mention).
        if change.kind in ("entity", "link", "memory", "source") and self.host is not None:
            self._refresh.start()

    def reload(self) -> None:
        """Read the graph and lay it out on a worker; the current picture stays meanwhile."""
        self._refresh.stop()  # this reload is the one a pending change asked for
        if self.host is None:
            return
        if self._task is not None:
            self._task.cancel()
        host, previous = self.host, dict(self.positions)

        def work(_ctx: Any) -> tuple[Any, dict[str, tuple[float, float]]]:
            from core.graph_layout import layout

            graph = host.graph()
            ids = [node.id for node in graph.nodes]
            return graph, layout(ids, [(a, b) for a, b, _ in graph.edges], previous=previous)

        self.status.setText("Laying out…")
        self._generation += 1
        generation = self._generation  # a newer reload makes this one's answer stale
        self._task = tasks.run(
            work,
            on_done=lambda result: self._draw(result) if generation == self._generation else None,
            on_error=self._failed,
            parent=self,
        )

    def focus_match(self) -> None:
        """Centre and select the first node whose name holds the typed text."""
        wanted = self.find.text().strip().lower()
        for item in self.nodes.values():
            if wanted and wanted in item.label.lower():
                self.scene.clearSelection()
                item.setSelected(True)
                self.view.centerOn(item)
                return

    def selected_entities(self) -> list[NodeItem]:
        return [i for i in self.scene.selectedItems() if isinstance(i, NodeItem) and i.entity]

    def _selection_changed(self) -> None:
        self.merge.setEnabled(len(self.selected_entities()) == 2)

    def merge_selected(self) -> None:
        """Merge the two selected entities into the one with more links."""
        pair = self.selected_entities()
        if len(pair) != 2 or self.host is None:
            return
        degree = {item.node_id: self._degree(item.node_id) for item in pair}
        keep, drop = sorted(pair, key=lambda item: -degree[item.node_id])
        self.undo_stack.push(MergeEntities(self.host, keep.node_id, drop.node_id, self))

    def _degree(self, node_id: str) -> int:
        return sum(1 for edge in self._edge_list if node_id in edge[:2])

    def _draw(self, result: tuple[Any, dict[str, tuple[float, float]]]) -> None:
        graph, positions = result
        self._task = None
        self.positions = positions
        for node_id in list(self.nodes):
            if node_id not in positions:
                self.scene.removeItem(self.nodes.pop(node_id))
        for node in graph.nodes:
            item = self.nodes.get(node.id)
            if item is None:
                item = NodeItem(node.id, node.kind, node.label, node.is_entity, self._open)
                self.nodes[node.id] = item
                self.scene.addItem(item)
            item.setPos(QPointF(*positions[node.id]))
        self._edge_list = list(graph.edges)
        self.edges.set_lines(edge_ends(graph.edges, positions))
        self.scene.setSceneRect(self.scene.itemsBoundingRect().adjusted(-80, -80, 80, 80))
        entities = sum(node.is_entity for node in graph.nodes)
        self.status.setText(
            f"{entities} entities · {len(graph.nodes) - entities} memories · "
            f"{len(graph.edges)} links"
        )
        self.laid_out.emit()

    def _open(self, node_id: str) -> None:
        """A memory opens in its own window; an entity says how much is linked to it."""
        item = self.nodes.get(node_id)
        if item is None:
            return
        if item.entity:
            links = self._degree(node_id)
            self.status.setText(f"{item.label} ({item.kind}): {links} linked")
        else:
            memory = SimpleNamespace(kind="memory", id=node_id)
            self.opened_dialog = ItemDialog(self.host, memory, self)
            self.opened_dialog.show()
        self.opened.emit(node_id, item.entity)

    def _failed(self, error: BaseException) -> None:
        self._task = None
        self.status.setText(f"Could not draw the graph: {error}")
